// Inline SVG charts for the HTML report: grouped horizontal bars and a line chart, with no scripts or network.

/** Colours of the two series everywhere in the report. */
export const COLORS = { troupe: '#2563eb', baseline: '#9ca3af', target: '#dc2626' } as const;

/** Escapes text for HTML and SVG. */
export function escapeXml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

/** One bar. */
export interface Bar {
  series: string;
  value: number | null;
  color: string;
  /** Text after the bar; the value when absent. */
  text?: string;
}

/** A row of bars sharing a label. */
export interface BarGroup {
  label: string;
  bars: Bar[];
}

/** Options of {@link barChart}. */
export interface BarChartOptions {
  title: string;
  groups: BarGroup[];
  /** Log scale on the value axis (for latencies spanning decades). @defaultValue false */
  log?: boolean;
  /** A vertical marker at this value (a target), when given. */
  marker?: { value: number; label: string };
  /** @defaultValue 860 */
  width?: number;
}

/** Room right of the longest bar for its value text. */
const VALUE_W = 190;
const BAR_H = 16;
const GAP = 10;

/**
 * Grouped horizontal bars, each labelled with its value.
 *
 * @example
 * barChart({ title: 'tell throughput', groups: [{ label: 'msg/s', bars: [{ series: 'troupe', value: 4e6, color: COLORS.troupe }] }] });
 */
export function barChart(options: BarChartOptions): string {
  const width = options.width ?? 860;
  // Label column sized to the longest label (about 6.6 px per character at 12 px).
  const longest = Math.max(...options.groups.map((g) => g.label.length), 4);
  const labelW = Math.min(320, Math.round(longest * 6.6) + 16);
  const plotW = width - labelW - VALUE_W;
  const values = options.groups.flatMap((g) => g.bars.map((b) => b.value ?? 0)).filter((v) => v > 0);
  if (options.marker) values.push(options.marker.value);
  const max = Math.max(...values, 1e-9);
  const min = Math.min(...values, max);
  const lo = options.log ? 10 ** Math.floor(Math.log10(min)) : 0;
  const hi = options.log ? 10 ** Math.ceil(Math.log10(max)) : max;
  const scale = (v: number): number => {
    if (v <= 0) return 0;
    if (!options.log) return (v / hi) * plotW;
    return (
      ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / Math.max(Math.log10(hi) - Math.log10(lo), 1e-9)) *
      plotW
    );
  };
  let y = 28;
  const parts: string[] = [];
  for (const group of options.groups) {
    const groupH = group.bars.length * (BAR_H + 2);
    parts.push(
      `<text x="${labelW - 8}" y="${y + groupH / 2 + 4}" text-anchor="end" class="lbl">${escapeXml(group.label)}</text>`,
    );
    for (const bar of group.bars) {
      const w = bar.value === null ? 0 : Math.max(scale(bar.value), 1);
      parts.push(
        `<rect x="${labelW}" y="${y}" width="${w.toFixed(1)}" height="${BAR_H}" fill="${bar.color}"><title>${escapeXml(`${bar.series}: ${bar.text ?? bar.value}`)}</title></rect>`,
        `<text x="${(labelW + w + 4).toFixed(1)}" y="${y + BAR_H - 4}" class="val">${escapeXml(`${bar.series} ${bar.text ?? String(bar.value)}`)}</text>`,
      );
      y += BAR_H + 2;
    }
    y += GAP;
  }
  if (options.marker) {
    const x = labelW + scale(options.marker.value);
    parts.push(
      `<line x1="${x.toFixed(1)}" y1="22" x2="${x.toFixed(1)}" y2="${y - GAP + 2}" stroke="${COLORS.target}" stroke-dasharray="4 3"/>`,
      `<text x="${x.toFixed(1)}" y="${y + 8}" text-anchor="middle" class="val" fill="${COLORS.target}">${escapeXml(options.marker.label)}</text>`,
    );
    y += 14;
  }
  const axis = options.log
    ? `log scale, ${escapeXml(String(lo))} … ${escapeXml(String(hi))}`
    : 'linear scale from 0';
  return `<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="${width}" height="${y + 6}" viewBox="0 0 ${width} ${y + 6}"><title>${escapeXml(options.title)}</title><text x="0" y="14" class="ttl">${escapeXml(options.title)}</text><text x="${width}" y="14" text-anchor="end" class="val">${axis}</text>${parts.join('')}</svg>`;
}

/** One line of a {@link lineChart}. */
export interface LineSeries {
  name: string;
  color: string;
  values: (number | null)[];
}

/** Options of {@link lineChart}. */
export interface LineChartOptions {
  title: string;
  /** One label per x position. */
  xLabels: string[];
  xTitle: string;
  yTitle: string;
  series: LineSeries[];
  /** Formats axis and point values. */
  format: (v: number) => string;
  /** @defaultValue 860 */
  width?: number;
}

/** A line chart over categorical x positions (e.g. process layouts), y from 0. */
export function lineChart(options: LineChartOptions): string {
  const width = options.width ?? 860;
  const height = 280;
  const left = 70;
  const right = 120;
  const top = 30;
  const bottom = 50;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const max = Math.max(...options.series.flatMap((s) => s.values.map((v) => v ?? 0)), 1e-9);
  const n = options.xLabels.length;
  const xAt = (i: number): number => left + (n === 1 ? plotW / 2 : (i / (n - 1)) * plotW);
  const yAt = (v: number): number => top + plotH - (v / max) * plotH;
  const parts: string[] = [
    `<line x1="${left}" y1="${top + plotH}" x2="${left + plotW}" y2="${top + plotH}" stroke="#444"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotH}" stroke="#444"/>`,
  ];
  for (let t = 0; t <= 4; t++) {
    const v = (max * t) / 4;
    const y = yAt(v);
    parts.push(
      `<line x1="${left - 4}" y1="${y.toFixed(1)}" x2="${left + plotW}" y2="${y.toFixed(1)}" stroke="#e5e7eb"/>`,
      `<text x="${left - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end" class="val">${escapeXml(options.format(v))}</text>`,
    );
  }
  options.xLabels.forEach((label, i) => {
    parts.push(
      `<text x="${xAt(i).toFixed(1)}" y="${top + plotH + 16}" text-anchor="middle" class="val">${escapeXml(label)}</text>`,
    );
  });
  parts.push(
    `<text x="${left + plotW / 2}" y="${height - 8}" text-anchor="middle" class="lbl">${escapeXml(options.xTitle)}</text>`,
    `<text x="12" y="${top + plotH / 2}" transform="rotate(-90 12 ${top + plotH / 2})" text-anchor="middle" class="lbl">${escapeXml(options.yTitle)}</text>`,
  );
  options.series.forEach((s, si) => {
    const pts = s.values
      .map((v, i) => (v === null ? null : `${xAt(i).toFixed(1)},${yAt(v).toFixed(1)}`))
      .filter((p): p is string => p !== null);
    if (pts.length > 1)
      parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${pts.join(' ')}"/>`);
    s.values.forEach((v, i) => {
      if (v === null) return;
      parts.push(
        `<circle cx="${xAt(i).toFixed(1)}" cy="${yAt(v).toFixed(1)}" r="4" fill="${s.color}"><title>${escapeXml(`${s.name} ${options.xLabels[i]}: ${options.format(v)}`)}</title></circle>`,
      );
    });
    parts.push(
      `<rect x="${width - right + 12}" y="${top + si * 18}" width="12" height="12" fill="${s.color}"/>`,
      `<text x="${width - right + 28}" y="${top + si * 18 + 10}" class="val">${escapeXml(s.name)}</text>`,
    );
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}"><title>${escapeXml(options.title)}</title><text x="0" y="14" class="ttl">${escapeXml(options.title)}</text>${parts.join('')}</svg>`;
}
