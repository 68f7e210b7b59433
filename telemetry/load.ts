// Load-test figures as OpenTelemetry metrics while a run goes: a latency histogram and an event counter, filled
// by each node's load recorder through a hook (troupe/load's `LoadMetricsHook`, matched by shape: telemetry/
// does not import load/).

import { type Counter, type Histogram, type MeterProvider, metrics, ValueType } from '@opentelemetry/api';

/** Names and attribute keys of the load metrics. */
export const LoadMetric = {
  /** Histogram, ms: every latency a load recorder takes (`request`, a target's name, `iteration`, `ttft`, ...). */
  Latency: 'troupe.load.latency',
  /** Counter: every counter a load recorder adds to (`requests`, `errors.timeout`, `dropped_iterations`, ...). */
  Events: 'troupe.load.events',
  /** Attribute of `troupe.load.latency`: the recorder's metric name. */
  MetricAttr: 'troupe.load.metric',
  /** Attribute of `troupe.load.events`: the recorder's counter name. */
  CounterAttr: 'troupe.load.counter',
} as const;

/** The shape of troupe/load's `LoadMetricsHook` this adapter fills. */
export interface LoadMetricsHook {
  /** A latency in ms under a recorder metric name. */
  onLatency(metric: string, ms: number): void;
  /** `n` added to a recorder counter. */
  onCount(counter: string, n: number): void;
}

/** Latency buckets in ms: from a fast loopback request to a slow model call. */
export const DEFAULT_LOAD_LATENCY_BUCKETS_MS = [
  0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000,
];

/**
 * The load recorder's hook on `@opentelemetry/api`: `troupe.load.latency` (ms, attribute `troupe.load.metric`)
 * and `troupe.load.events` (attribute `troupe.load.counter`). Attribute objects are kept per name, so a hot
 * loop allocates nothing. With no SDK registered both instruments are no-ops.
 *
 * @example
 * const hook = otelLoadMetrics(telemetry.meterProvider); // given to the load agent
 */
export function otelLoadMetrics(meterProvider?: MeterProvider): LoadMetricsHook {
  const meter = (meterProvider ?? metrics.getMeterProvider()).getMeter('troupe');
  const latency: Histogram = meter.createHistogram(LoadMetric.Latency, {
    description: 'Latencies a load test records, by metric (request, a target, iteration, ttft, ...)',
    unit: 'ms',
    valueType: ValueType.DOUBLE,
    advice: { explicitBucketBoundaries: DEFAULT_LOAD_LATENCY_BUCKETS_MS },
  });
  const events: Counter = meter.createCounter(LoadMetric.Events, {
    description: 'Counters a load test adds to (requests, errors by kind, bytes, checks, iterations, ...)',
    valueType: ValueType.DOUBLE,
  });
  const metricAttrs = new Map<string, { [LoadMetric.MetricAttr]: string }>();
  const counterAttrs = new Map<string, { [LoadMetric.CounterAttr]: string }>();
  return {
    onLatency(metric, ms) {
      let attrs = metricAttrs.get(metric);
      if (attrs === undefined) {
        attrs = { [LoadMetric.MetricAttr]: metric };
        metricAttrs.set(metric, attrs);
      }
      latency.record(ms, attrs);
    },
    onCount(counter, n) {
      // A counter only goes up; the recorder never subtracts, but a bad value must not throw in its hot path.
      if (!(n >= 0)) return;
      let attrs = counterAttrs.get(counter);
      if (attrs === undefined) {
        attrs = { [LoadMetric.CounterAttr]: counter };
        counterAttrs.set(counter, attrs);
      }
      events.add(n, attrs);
    },
  };
}
