// Public surface of troupe/telemetry: the OpenTelemetry adapters of the runtime's tracing (and metrics) ports,
// on @opentelemetry/api only, and the span names and attribute keys they use. The SDK-backed Prometheus endpoint
// is apart, in troupe/telemetry/sdk, so importing this entry never loads an SDK.

export type { LoadMetricsHook } from './load.js';
export { DEFAULT_LOAD_LATENCY_BUCKETS_MS, LoadMetric, otelLoadMetrics } from './load.js';
export type { OtelMetricsOptions } from './metrics.js';
export { attachTaskRunner, DEFAULT_DURATION_BUCKETS, MetricAttr, otelMetrics } from './metrics.js';
export type { ModelCallHook, OtelModelTelemetryOptions } from './model-calls.js';
export { otelModelTelemetry } from './model-calls.js';
export type { Readiness } from './readiness.js';
export { nodeReadiness } from './readiness.js';
export {
  ErrorAttr,
  MessagingAttr,
  MessagingOperation,
  MessagingSystem,
  SpanName,
  TRACER_NAME,
  TroupeAttr,
} from './semconv.js';
export type { OtelTracingOptions } from './tracing.js';
export { otelTracing } from './tracing.js';
