// `--compare old.json`: the main figures of two load reports side by side, old → new, with ratios.

import { formatNumber, formatRatio, textTable } from '../../bench/index.js';
import type { LoadReport } from './report.js';

/** One figure of a comparison. */
export interface LoadComparisonRow {
  figure: string;
  unit: string;
  old: number | null;
  new: number | null;
  /** new / old, null when either is missing or old is 0. */
  ratio: number | null;
  better: 'higher' | 'lower';
  /** Whether new is better, worse or the same as old (within 2 %). */
  verdict: 'better' | 'worse' | 'same' | 'n/a';
}

/** How much a ratio may move either way before it counts as a change. */
const SAME_WITHIN = 0.02;

function row(
  figure: string,
  unit: string,
  better: 'higher' | 'lower',
  pick: (r: LoadReport) => number | null | undefined,
  before: LoadReport,
  after: LoadReport,
): LoadComparisonRow {
  const o = pick(before) ?? null;
  const n = pick(after) ?? null;
  const ratio = o === null || n === null || o === 0 ? null : n / o;
  let verdict: LoadComparisonRow['verdict'] = 'n/a';
  if (o !== null && n !== null) {
    if (o === n || (ratio !== null && Math.abs(ratio - 1) <= SAME_WITHIN)) verdict = 'same';
    else verdict = n > o === (better === 'higher') ? 'better' : 'worse';
  }
  return { figure, unit, old: o, new: n, ratio, better, verdict };
}

/** The figures compared: throughput, errors, request and iteration latency, drops, generator CPU. */
export function compareLoadReports(before: LoadReport, after: LoadReport): LoadComparisonRow[] {
  const m = (metric: string, stat: 'p50' | 'p90' | 'p99' | 'p999' | 'max' | 'mean') => (r: LoadReport) =>
    r.metrics[metric]?.[stat];
  const rows = [
    row('requests/s', 'req/s', 'higher', (r) => r.rps, before, after),
    row('requests', '', 'higher', (r) => r.counters.requests ?? 0, before, after),
    row('error rate', '%', 'lower', (r) => r.errorRate * 100, before, after),
  ];
  for (const stat of ['p50', 'p90', 'p99', 'p999', 'max'] as const)
    rows.push(
      row(`request ${stat === 'p999' ? 'p99.9' : stat}`, 'ms', 'lower', m('request', stat), before, after),
    );
  rows.push(
    row('iteration p99', 'ms', 'lower', m('iteration', 'p99'), before, after),
    row('dropped iterations', '', 'lower', (r) => r.counters.dropped_iterations ?? 0, before, after),
    row(
      'CPU per 1,000 requests',
      'ms',
      'lower',
      (r) => nullable(r.cpuMicrosPer1000Requests, 1000),
      before,
      after,
    ),
  );
  return rows;
}

function nullable(v: number | null, div: number): number | null {
  return v === null ? null : v / div;
}

/** The comparison as a text table. */
export function renderLoadComparison(before: LoadReport, after: LoadReport): string {
  const rows = compareLoadReports(before, after);
  const cell = (v: number | null, unit: string) =>
    v === null ? '—' : `${formatNumber(v)}${unit ? ` ${unit}` : ''}`;
  const head = `${before.name} ${before.runId} (${before.startedAt}) → ${after.runId} (${after.startedAt})`;
  return `${head}\n${textTable(
    ['figure', 'old', 'new', 'ratio', ''],
    rows.map((r) => [
      r.figure,
      cell(r.old, r.unit),
      cell(r.new, r.unit),
      formatRatio(r.ratio),
      r.verdict === 'n/a' || r.verdict === 'same' ? '' : r.verdict,
    ]),
    new Set([1, 2, 3]),
  )}\n`;
}
