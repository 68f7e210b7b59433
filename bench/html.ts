// `--html FILE`: one self-contained HTML page (inline SVG and CSS, a few lines of inline JS, no network).

import { barChart, COLORS, escapeXml, lineChart } from './charts.js';
import { formatNumber, formatRatio, formatValue } from './format.js';
import type { BenchReport, MetricReport, ScenarioReport } from './report.js';

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:24px auto;max-width:980px;color:#111;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 4px;border-top:1px solid #e5e7eb;padding-top:16px}
h3{font-size:15px;margin:16px 0 4px}.muted{color:#6b7280}.fail{color:#b91c1c;font-weight:600}.ok{color:#15803d}
table{border-collapse:collapse;margin:8px 0;font-variant-numeric:tabular-nums}td,th{padding:3px 10px;border-bottom:1px solid #eee;text-align:left}
td.n{text-align:right}svg.chart{display:block;margin:8px 0;max-width:100%;height:auto}
svg .lbl{font-size:12px;fill:#111}svg .val{font-size:11px;fill:#374151}svg .ttl{font-size:13px;font-weight:600;fill:#111}
.legend span{display:inline-block;width:12px;height:12px;margin:0 4px -2px 12px}
`;

function slug(name: string): string {
  return name.replace(/[^a-z0-9-]+/gi, '-').toLowerCase();
}

function targetCell(m: MetricReport): string {
  if (!m.target) return '<td></td>';
  const cls = m.target.met ? 'ok' : 'fail';
  return `<td class="${cls}">${escapeXml(`${m.target.comparison} ${m.target.ratio} ${m.target.met ? 'met' : 'missed'}`)}</td>`;
}

function summaryTable(report: BenchReport): string {
  const rows = report.scenarios.flatMap((s) => {
    const link = `<a href="#${slug(s.name)}">${escapeXml(s.name)}</a>`;
    const failed = s.error
      ? [
          `<tr><td>${link}</td><td class="fail" colspan="6">failed: ${escapeXml(s.error.split('\n')[0] ?? '')}</td></tr>`,
        ]
      : [];
    return [
      ...failed,
      ...s.metrics.map(
        (m) =>
          `<tr><td>${link}</td><td>${escapeXml(m.label)}</td><td class="n">${escapeXml(formatValue(m.troupe.median, m.unit))}</td><td class="n">${escapeXml(m.baseline ? formatValue(m.baseline.median, m.unit) : '—')}</td><td class="n">${escapeXml(formatRatio(m.ratio))}</td>${targetCell(m)}<td class="n muted">${escapeXml(m.troupe.samples.length > 1 ? `${formatValue(m.troupe.min, m.unit)} … ${formatValue(m.troupe.max, m.unit)}` : '')}</td></tr>`,
      ),
    ];
  });
  return `<table><thead><tr><th>scenario</th><th>figure</th><th>troupe (median)</th><th>baseline</th><th>ratio</th><th>target</th><th>troupe spread</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

/** Overview: every figure with a baseline, as troupe's share of it. */
function ratioChart(report: BenchReport): string {
  const groups = report.scenarios.flatMap((s) =>
    s.metrics
      .filter((m) => m.ratio !== null && m.better === 'higher')
      .map((m) => ({
        label: `${s.name} · ${m.id}`,
        bars: [
          {
            series: 'troupe/baseline',
            value: m.ratio,
            color: m.target && !m.target.met ? COLORS.target : COLORS.troupe,
            text: `${formatRatio(m.ratio)}${m.target ? ` (target ${m.target.comparison} ${m.target.ratio})` : ''}`,
          },
        ],
      })),
  );
  if (groups.length === 0) return '';
  return barChart({
    title: 'troupe as a share of its baseline (higher is better; 1× = as fast as the raw library)',
    groups,
    marker: { value: 1, label: '1×' },
  });
}

function throughputCharts(s: ScenarioReport): string {
  return s.metrics
    .filter((m) => m.kind !== 'latency')
    .map((m) => {
      const bars = [
        {
          series: 'troupe',
          value: m.troupe.median,
          color: COLORS.troupe,
          text: formatValue(m.troupe.median, m.unit),
        },
        ...(m.baseline
          ? [
              {
                series: 'baseline',
                value: m.baseline.median,
                color: COLORS.baseline,
                text: formatValue(m.baseline.median, m.unit),
              },
            ]
          : []),
      ];
      const better = m.better === 'higher' ? 'higher is better' : 'lower is better';
      return barChart({
        title: `${m.label} (${m.unit}, ${better}) · ratio ${formatRatio(m.ratio)}`,
        groups: [{ label: m.id, bars }],
      });
    })
    .join('');
}

const PERCENTILE_KEYS: ReadonlyArray<['p50' | 'p90' | 'p99' | 'p999' | 'max', string]> = [
  ['p50', 'p50'],
  ['p90', 'p90'],
  ['p99', 'p99'],
  ['p999', 'p99.9'],
  ['max', 'max'],
];

function latencySection(s: ScenarioReport): string {
  const lat = s.latency;
  if (!lat) return '';
  const groups = PERCENTILE_KEYS.map(([key, label]) => ({
    label,
    bars: [
      {
        series: 'troupe',
        value: lat.troupe[key],
        color: COLORS.troupe,
        text: formatValue(lat.troupe[key], 'µs'),
      },
      ...(lat.baseline
        ? [
            {
              series: 'baseline',
              value: lat.baseline[key],
              color: COLORS.baseline,
              text: formatValue(lat.baseline[key], 'µs'),
            },
          ]
        : []),
    ],
  }));
  return `<h3>Latency percentiles (${lat.troupe.count} troupe asks${lat.baseline ? `, ${lat.baseline.count} baseline requests` : ''}, all repeats merged)</h3>${barChart({ title: `${s.name}: latency percentiles in µs (lower is better)`, groups, log: true })}`;
}

function scalingSection(s: ScenarioReport): string {
  const points = s.metrics.filter((m) => m.processes !== null);
  if (points.length === 0) return '';
  const labels = points.map((m) => `${m.processes!.clients}→${m.processes!.nodes}`);
  const unit = points[0]!.unit;
  const chart = lineChart({
    title: `${s.name}: total throughput by processes (senders → receivers)`,
    xLabels: labels,
    xTitle: 'sender processes → receiver processes',
    yTitle: unit,
    format: (v) => formatNumber(v),
    series: [
      { name: 'troupe', color: COLORS.troupe, values: points.map((m) => m.troupe.median) },
      { name: 'baseline', color: COLORS.baseline, values: points.map((m) => m.baseline?.median ?? null) },
    ],
  });
  const note =
    points.length === 1
      ? '<p class="muted">One layout measured: run with e.g. <code>--clients 1,2,4 --nodes 1,2</code> to chart scaling.</p>'
      : '';
  return `<h3>Scaling with processes</h3>${chart}${note}`;
}

function scenarioSection(s: ScenarioReport): string {
  const error = s.error ? `<p class="fail">failed: ${escapeXml(s.error)}</p>` : '';
  return `<section id="${slug(s.name)}" data-scenario="${escapeXml(s.name)}"><h2>${escapeXml(s.name)}</h2><p class="muted">${escapeXml(s.description)} · ${(s.durationMs / 1000).toFixed(1)} s</p>${error}${throughputCharts(s)}${latencySection(s)}${scalingSection(s)}</section>`;
}

/**
 * Renders `report` as one self-contained HTML page: summary table, a ratio overview, then per scenario its figures
 * beside their baselines, latency percentiles and scaling with processes.
 *
 * @example
 * writeFileSync('bench.html', renderHtml(report));
 */
export function renderHtml(report: BenchReport): string {
  const m = report.machine;
  const settings = report.settings;
  const mode = settings.quick ? 'quick' : 'full';
  const title = `troupe benchmarks · ${report.date}`;
  // The only script: marks the page as rendered with its chart count (headless browser tests read it).
  const script = `document.documentElement.dataset.charts=String(document.querySelectorAll('svg.chart').length);document.documentElement.dataset.rendered='yes';`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeXml(title)}</title><style>${CSS}</style></head>
<body>
<h1>troupe benchmarks</h1>
<p class="muted">${escapeXml(report.date)} · ${escapeXml(`${m.cpus} × ${m.cpuModel}`)} · ${escapeXml(`${(m.totalMemoryBytes / 2 ** 30).toFixed(1)} GiB`)} · Node ${escapeXml(m.node)} · ${escapeXml(`${m.platform}/${m.arch}`)} · ${mode} run, ${settings.repeat} repeats · schema v${report.schemaVersion}</p>
<p class="legend"><span style="background:${COLORS.troupe}"></span>troupe<span style="background:${COLORS.baseline}"></span>raw baseline<span style="background:${COLORS.target}"></span>target missed / target line</p>
<h2>Summary</h2>
${summaryTable(report)}
${ratioChart(report)}
${report.scenarios.map(scenarioSection).join('\n')}
<script>${script}</script>
</body></html>
`;
}
