// The end-of-run summary `troupe load run` prints: totals, latency percentiles per metric, thresholds, nodes.

import { formatNumber, textTable } from '../../bench/index.js';
import type { LoadReport } from './report.js';

/** The report as a few lines and tables for a terminal. */
export function renderLoadSummary(r: LoadReport): string {
  const lines: string[] = [];
  const lost = r.nodes.filter((n) => n.lost).length;
  lines.push(
    `load test ${r.name} (run ${r.runId}): ${r.executor.kind}, ${(r.durationMs / 1000).toFixed(1)} s on ${r.nodes.length} node(s)${lost > 0 ? `, ${lost} lost` : ''}${r.interrupted ? ', INTERRUPTED' : ''}`,
    `  requests ${r.counters.requests ?? 0} (${formatNumber(r.rps)}/s), iterations ${r.counters.iterations ?? 0}, dropped ${r.counters.dropped_iterations ?? 0}, errors ${r.counters.errors ?? 0} (${(r.errorRate * 100).toFixed(2)} %)` +
      (r.cpuMicrosPer1000Requests === null
        ? ''
        : `, generator CPU ${formatNumber(r.cpuMicrosPer1000Requests / 1000)} ms per 1,000 requests`),
  );
  const errorKinds = Object.entries(r.counters).filter(([k]) => k.startsWith('errors.'));
  if (errorKinds.length > 0)
    lines.push(`  errors by kind: ${errorKinds.map(([k, v]) => `${k.slice(7)} ${v}`).join(', ')}`);
  const checks = Object.entries(r.checks);
  if (checks.length > 0)
    lines.push(
      `  checks: ${checks.map(([k, c]) => `${k} ${c.rate === null ? '—' : `${(c.rate * 100).toFixed(2)} %`} (${c.fail} failed)`).join(', ')}`,
    );
  const metrics = Object.entries(r.metrics);
  if (metrics.length > 0) {
    const f = (v: number) => formatNumber(v);
    lines.push(
      '',
      textTable(
        ['metric (ms)', 'count', 'min', 'mean', 'p50', 'p90', 'p99', 'p99.9', 'max'],
        metrics.map(([name, p]) => [
          name,
          String(p.count),
          f(p.min),
          f(p.mean),
          f(p.p50),
          f(p.p90),
          f(p.p99),
          f(p.p999),
          f(p.max),
        ]),
        new Set([1, 2, 3, 4, 5, 6, 7, 8]),
      ),
    );
  }
  if (r.thresholds.length > 0) {
    lines.push('');
    for (const t of r.thresholds)
      lines.push(
        `  ${t.ok ? 'ok  ' : 'FAIL'} ${t.expr}  (actual ${t.actual === null ? 'no samples' : formatNumber(t.actual)})`,
      );
  }
  lines.push(
    '',
    r.interrupted
      ? 'interrupted'
      : r.ok
        ? `ok${r.thresholds.length > 0 ? ': every threshold met' : ''}`
        : 'FAILED: a threshold was not met',
  );
  return `${lines.join('\n')}\n`;
}
