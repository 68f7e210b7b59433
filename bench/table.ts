// The final text table of a run: one row per figure with troupe, baseline, ratio, target and spread.

import { formatRatio, formatValue, textTable } from './format.js';
import type { BenchReport, MetricReport } from './report.js';

function spread(m: MetricReport): string {
  const { min, max } = m.troupe;
  if (m.troupe.samples.length < 2) return '';
  return `${formatValue(min, m.unit)} … ${formatValue(max, m.unit)}`;
}

function target(m: MetricReport): string {
  if (!m.target) return '';
  return `${m.target.comparison} ${m.target.ratio} ${m.target.met ? 'met' : 'MISSED'}`;
}

/**
 * Renders the results table of `report`.
 *
 * @example
 * process.stdout.write(`${renderTable(report)}\n`);
 */
export function renderTable(report: BenchReport): string {
  const rows: string[][] = [];
  for (const s of report.scenarios) {
    if (s.error) rows.push([s.name, 'FAILED', s.error.split('\n')[0] ?? '', '', '', '', '']);
    for (const m of s.metrics) {
      rows.push([
        s.name,
        m.label,
        formatValue(m.troupe.median, m.unit),
        m.baseline ? formatValue(m.baseline.median, m.unit) : '—',
        formatRatio(m.ratio),
        target(m),
        spread(m),
      ]);
    }
  }
  return textTable(
    ['scenario', 'metric', 'troupe (median)', 'baseline', 'ratio', 'target', 'troupe spread (min … max)'],
    rows,
    new Set([2, 3, 4]),
  );
}
