// What other layers may use of the bench: its mergeable histograms (the load layer ships and merges them), and
// the charts and number formatting the load report reuses.

export type { Bar, BarChartOptions, BarGroup, LineChartOptions, LineSeries } from './charts.js';
export { barChart, COLORS, escapeXml, lineChart } from './charts.js';
export { formatChange, formatNumber, formatRatio, formatValue, textTable } from './format.js';
export type { HistogramJson, HistogramOptions, Percentiles } from './histogram.js';
export { Histogram } from './histogram.js';
