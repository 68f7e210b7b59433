// Number formatting shared by the table, the comparison and the HTML page.

/** `value` with three significant digits and an SI suffix (k, M, G); `—` when not finite. */
export function formatNumber(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  const abs = Math.abs(value);
  const [scaled, suffix] =
    abs >= 1e9
      ? [value / 1e9, 'G']
      : abs >= 1e6
        ? [value / 1e6, 'M']
        : abs >= 1e3
          ? [value / 1e3, 'k']
          : [value, ''];
  const digits = Math.abs(scaled) >= 100 ? 0 : Math.abs(scaled) >= 10 ? 1 : 2;
  return `${scaled.toFixed(digits)}${suffix}`;
}

/** A figure with its unit: `1.23M msg/s`, `154 µs`, `412 B`. */
export function formatValue(value: number | null | undefined, unit: string): string {
  const n = formatNumber(value);
  if (n === '—') return n;
  if (unit === 'bytes') return `${n}B`;
  // Latencies read best in ms once they pass a millisecond.
  if (unit === 'µs' && value !== null && value !== undefined && Math.abs(value) >= 1000) {
    return `${formatNumber(value / 1000)} ms`;
  }
  return `${n} ${unit}`;
}

/** A ratio as `0.43×`. */
export function formatRatio(ratio: number | null | undefined): string {
  if (ratio === null || ratio === undefined || !Number.isFinite(ratio)) return '—';
  return `${ratio >= 10 ? ratio.toFixed(1) : ratio.toFixed(2)}×`;
}

/** A relative change as `+4.2%` / `-12.0%`. */
export function formatChange(change: number): string {
  if (!Number.isFinite(change)) return '—';
  return `${change >= 0 ? '+' : ''}${(change * 100).toFixed(1)}%`;
}

/** Lays `rows` out as a text table with a header rule; columns are left-aligned except those in `right`. */
export function textTable(
  header: string[],
  rows: string[][],
  right: ReadonlySet<number> = new Set(),
): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
