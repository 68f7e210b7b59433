// `--html FILE`: a load report as one self-contained page (inline SVG from the bench's charts, no network).

import { barChart, COLORS, escapeXml, formatNumber, lineChart } from '../../bench/index.js';
import type { LoadReport } from './report.js';

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:24px auto;max-width:980px;color:#111;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 4px;border-top:1px solid #e5e7eb;padding-top:16px}
.muted{color:#6b7280}.fail{color:#b91c1c;font-weight:600}.ok{color:#15803d}
table{border-collapse:collapse;margin:8px 0;font-variant-numeric:tabular-nums}td,th{padding:3px 10px;border-bottom:1px solid #eee;text-align:left}
td.n{text-align:right}svg.chart{display:block;margin:8px 0;max-width:100%;height:auto}
svg .lbl{font-size:12px;fill:#111}svg .val{font-size:11px;fill:#374151}svg .ttl{font-size:13px;font-weight:600;fill:#111}
`;

const e = (v: unknown): string => escapeXml(String(v));
const ms = (v: number | null | undefined): string =>
  v === null || v === undefined ? '—' : `${formatNumber(v)} ms`;

function table(head: string[], rows: string[][], numeric: ReadonlySet<number> = new Set()): string {
  const th = head.map((h) => `<th>${e(h)}</th>`).join('');
  const body = rows
    .map((r) => `<tr>${r.map((c, i) => `<td${numeric.has(i) ? ' class="n"' : ''}>${c}</td>`).join('')}</tr>`)
    .join('');
  return `<table><thead><tr>${th}</tr></thead><tbody>${body}</tbody></table>`;
}

function summary(r: LoadReport): string {
  const verdict = r.interrupted
    ? '<span class="fail">interrupted</span>'
    : r.ok
      ? '<span class="ok">all thresholds met</span>'
      : '<span class="fail">a threshold failed</span>';
  const req = r.metrics.request;
  return table(
    ['figure', 'value'],
    [
      ['verdict', verdict],
      ['requests', e(formatNumber(r.counters.requests ?? 0))],
      ['requests/s', e(formatNumber(r.rps))],
      ['iterations', e(formatNumber(r.counters.iterations ?? 0))],
      ['dropped iterations', e(formatNumber(r.counters.dropped_iterations ?? 0))],
      ['error rate', e(`${(r.errorRate * 100).toFixed(2)} %`)],
      ['request p50 / p99 / p99.9', e(`${ms(req?.p50)} / ${ms(req?.p99)} / ${ms(req?.p999)}`)],
      [
        'generator CPU per 1,000 requests',
        e(
          r.cpuMicrosPer1000Requests === null ? '—' : `${formatNumber(r.cpuMicrosPer1000Requests / 1000)} ms`,
        ),
      ],
    ],
    new Set([1]),
  );
}

function charts(r: LoadReport): string {
  const out: string[] = [];
  const xs = r.timeline.map((p) => `${p.t}s`);
  if (r.timeline.length > 0) {
    out.push(
      lineChart({
        title: 'requests per second',
        xLabels: xs,
        xTitle: 'time',
        yTitle: 'req/s',
        series: [{ name: 'req/s', color: COLORS.troupe, values: r.timeline.map((p) => p.rps) }],
        format: formatNumber,
      }),
      lineChart({
        title: 'p99 latency of each second',
        xLabels: xs,
        xTitle: 'time',
        yTitle: 'ms',
        series: [{ name: 'p99', color: COLORS.target, values: r.timeline.map((p) => p.p99) }],
        format: (v) => `${formatNumber(v)} ms`,
      }),
      lineChart({
        title: 'virtual users',
        xLabels: xs,
        xTitle: 'time',
        yTitle: 'VUs',
        series: [{ name: 'VUs', color: COLORS.baseline, values: r.timeline.map((p) => p.vus) }],
        format: formatNumber,
      }),
    );
  }
  const latencies = Object.entries(r.metrics).filter(([name]) => name !== 'tokens_per_s');
  if (latencies.length > 0)
    out.push(
      barChart({
        title: 'latency percentiles by metric',
        log: true,
        groups: latencies.flatMap(([name, p]) =>
          (['p50', 'p99', 'p999'] as const).map((stat) => ({
            label: `${name} ${stat === 'p999' ? 'p99.9' : stat}`,
            bars: [{ series: name, value: p[stat], color: COLORS.troupe, text: ms(p[stat]) }],
          })),
        ),
      }),
    );
  return out.join('\n');
}

/** Renders `report` as a self-contained HTML page. */
export function renderLoadHtml(report: LoadReport): string {
  const r = report;
  const thresholds = table(
    ['threshold', 'actual', 'result'],
    r.thresholds.map((t) => [
      e(t.expr),
      e(t.actual === null ? 'no samples' : formatNumber(t.actual)),
      t.ok ? '<span class="ok">met</span>' : '<span class="fail">failed</span>',
    ]),
  );
  const metrics = table(
    ['metric', 'count', 'min', 'mean', 'p50', 'p90', 'p99', 'p99.9', 'max'],
    Object.entries(r.metrics).map(([name, p]) => [
      e(name),
      ...[p.count, p.min, p.mean, p.p50, p.p90, p.p99, p.p999, p.max].map((v) => e(formatNumber(v))),
    ]),
    new Set([1, 2, 3, 4, 5, 6, 7, 8]),
  );
  const counters = table(
    ['counter', 'value'],
    Object.entries(r.counters).map(([k, v]) => [e(k), e(formatNumber(v))]),
    new Set([1]),
  );
  const nodes = table(
    ['node', 'slots', 'requests', 'CPU', 'state'],
    r.nodes.map((n) => [
      e(n.id),
      e(n.slots.length),
      e(formatNumber(n.requests)),
      e(`${formatNumber(n.cpuMicros / 1000)} ms`),
      n.lost ? '<span class="fail">lost</span>' : 'ok',
    ]),
    new Set([1, 2, 3]),
  );
  const targets = table(
    ['target', 'aims at'],
    Object.entries(r.targets).map(([k, v]) => [e(k), e(v)]),
  );
  const script = `document.documentElement.dataset.charts=String(document.querySelectorAll('svg.chart').length);document.documentElement.dataset.rendered='yes';`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${e(`load test ${r.name} · ${r.startedAt}`)}</title><style>${CSS}</style></head>
<body>
<h1>load test ${e(r.name)}</h1>
<p class="muted">run ${e(r.runId)} · ${e(r.startedAt)} · ${e(r.executor.kind)} · ${e((r.durationMs / 1000).toFixed(1))} s · ${e(r.nodes.length)} node(s) · schema v${r.schema}</p>
<h2>Summary</h2>
${summary(r)}
<h2>Thresholds</h2>
${thresholds}
<h2>Over time</h2>
${charts(r)}
<h2>Latency (ms)</h2>
${metrics}
<h2>Counters</h2>
${counters}
<h2>Nodes</h2>
${nodes}
<h2>Targets</h2>
${targets}
<script>${script}</script>
</body></html>
`;
}
