// `--compare old.json new.json`: the change of every figure between two reports, flagging drops beyond the spread.

import { formatChange, formatValue, textTable } from './format.js';
import type { BenchReport, MetricReport } from './report.js';

/** How a figure moved between two runs. */
export type Verdict = 'regression' | 'improvement' | 'unchanged' | 'added' | 'removed';

/** One figure in both runs. */
export interface ComparisonRow {
  scenario: string;
  metric: string;
  label: string;
  unit: string;
  oldMedian: number | null;
  newMedian: number | null;
  /** `(new - old) / old`; positive means the number grew (which is good only for higher-is-better figures). */
  change: number | null;
  /** The larger of the two runs' troupe spreads (max - min): a move smaller than this is noise. */
  noise: number;
  verdict: Verdict;
}

/** Options of {@link compareReports}. */
export interface CompareOptions {
  /**
   * Moves smaller than this fraction of the old median are never flagged, even with no measured spread.
   * @defaultValue 0.02
   */
  minChange?: number;
}

function range(m: MetricReport): number {
  const r = m.troupe.max - m.troupe.min;
  return Number.isFinite(r) ? r : 0;
}

/**
 * Compares the troupe medians of every figure in `before` and `after`. A figure is a regression when it got worse
 * (lower for higher-is-better, higher for lower-is-better) by more than the spread of either run.
 *
 * @example
 * const rows = compareReports(validateReport(old), validateReport(now));
 * if (rows.some((r) => r.verdict === 'regression')) process.exitCode = 1;
 */
export function compareReports(
  before: BenchReport,
  after: BenchReport,
  options: CompareOptions = {},
): ComparisonRow[] {
  const minChange = options.minChange ?? 0.02;
  const rows: ComparisonRow[] = [];
  const key = (s: string, m: string): string => `${s}\u0000${m}`;
  const old = new Map<string, MetricReport>();
  for (const s of before.scenarios) for (const m of s.metrics) old.set(key(s.name, m.id), m);
  const seen = new Set<string>();
  for (const s of after.scenarios) {
    for (const m of s.metrics) {
      const k = key(s.name, m.id);
      seen.add(k);
      const o = old.get(k);
      const newMedian = Number.isFinite(m.troupe.median) ? m.troupe.median : null;
      if (!o) {
        rows.push({
          scenario: s.name,
          metric: m.id,
          label: m.label,
          unit: m.unit,
          oldMedian: null,
          newMedian,
          change: null,
          noise: 0,
          verdict: 'added',
        });
        continue;
      }
      const oldMedian = Number.isFinite(o.troupe.median) ? o.troupe.median : null;
      const noise = Math.max(range(o), range(m));
      let change: number | null = null;
      let verdict: Verdict = 'unchanged';
      if (oldMedian !== null && newMedian !== null) {
        change = oldMedian === 0 ? 0 : (newMedian - oldMedian) / Math.abs(oldMedian);
        const delta = newMedian - oldMedian;
        const beyond = Math.abs(delta) > noise && Math.abs(change) >= minChange;
        const worse = m.better === 'higher' ? delta < 0 : delta > 0;
        if (beyond) verdict = worse ? 'regression' : 'improvement';
      }
      rows.push({
        scenario: s.name,
        metric: m.id,
        label: m.label,
        unit: m.unit,
        oldMedian,
        newMedian,
        change,
        noise,
        verdict,
      });
    }
  }
  for (const s of before.scenarios) {
    for (const m of s.metrics) {
      if (seen.has(key(s.name, m.id))) continue;
      const oldMedian = Number.isFinite(m.troupe.median) ? m.troupe.median : null;
      rows.push({
        scenario: s.name,
        metric: m.id,
        label: m.label,
        unit: m.unit,
        oldMedian,
        newMedian: null,
        change: null,
        noise: 0,
        verdict: 'removed',
      });
    }
  }
  return rows;
}

const MARK: Record<Verdict, string> = {
  regression: 'DROP (beyond spread)',
  improvement: 'better (beyond spread)',
  unchanged: 'within spread',
  added: 'new figure',
  removed: 'gone',
};

/** The comparison as a text table plus a one-line verdict. */
export function renderComparison(
  rows: readonly ComparisonRow[],
  before: BenchReport,
  after: BenchReport,
): string {
  const table = textTable(
    ['scenario', 'metric', 'old', 'new', 'change', 'spread', 'verdict'],
    rows.map((r) => [
      r.scenario,
      r.label,
      formatValue(r.oldMedian, r.unit),
      formatValue(r.newMedian, r.unit),
      r.change === null ? '—' : formatChange(r.change),
      r.noise > 0 ? `±${formatValue(r.noise, r.unit)}` : '—',
      MARK[r.verdict],
    ]),
    new Set([2, 3, 4]),
  );
  const drops = rows.filter((r) => r.verdict === 'regression');
  const summary =
    drops.length === 0
      ? 'no figure dropped beyond its spread'
      : `${drops.length} figure${drops.length > 1 ? 's' : ''} dropped beyond the spread: ${drops.map((d) => `${d.scenario} ${d.metric}`).join(', ')}`;
  return `comparing ${before.date} (${before.machine.node}, ${before.machine.cpus} cpus) → ${after.date} (${after.machine.node}, ${after.machine.cpus} cpus)\n\n${table}\n\n${summary}`;
}
