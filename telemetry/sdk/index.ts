// Public surface of troupe/telemetry/sdk: the one place troupe picks an OpenTelemetry SDK, for the Prometheus
// endpoint and health checks that `troupe node --metrics-port` serves. Libraries use troupe/telemetry instead.

export type { PrometheusMetrics, PrometheusMetricsOptions } from './prometheus.js';
export { prometheusMetrics } from './prometheus.js';
export type { TelemetryServer, TelemetryServerOptions } from './server.js';
export { startTelemetryServer } from './server.js';
