// The SDK side of troupe's metrics: a MeterProvider whose one reader is a Prometheus exporter that serves
// nothing itself (the telemetry server hands it the `/metrics` requests).

import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider } from '@opentelemetry/sdk-metrics';

/** Options of {@link prometheusMetrics}. */
export interface PrometheusMetricsOptions {
  /**
   * `service.name` of the resource (Prometheus shows it in `target_info`).
   * @defaultValue `troupe`
   */
  serviceName?: string;
  /** More resource attributes (`service.instance.id`, `deployment.environment`, ...). */
  attributes?: Record<string, string>;
}

/** A meter provider read by a Prometheus exporter. */
export interface PrometheusMetrics {
  /** Hand it to `otelMetrics({ meterProvider })` (or register it globally). */
  readonly meterProvider: MeterProvider;
  /** Serves the Prometheus text: `exporter.getMetricsRequestHandler(req, res)`. */
  readonly exporter: PrometheusExporter;
  /** Stops the provider and its exporter. Safe to call twice. */
  shutdown(): Promise<void>;
}

/**
 * A MeterProvider with a Prometheus exporter that starts no server of its own.
 *
 * @example
 * const prometheus = prometheusMetrics({ serviceName: 'orders' });
 * const system = await createSystem({ metrics: otelMetrics({ meterProvider: prometheus.meterProvider }) });
 */
export function prometheusMetrics(options: PrometheusMetricsOptions = {}): PrometheusMetrics {
  const exporter = new PrometheusExporter({ preventServerStart: true });
  const meterProvider = new MeterProvider({
    resource: resourceFromAttributes({
      'service.name': options.serviceName ?? 'troupe',
      ...options.attributes,
    }),
    readers: [exporter],
  });
  let stopped: Promise<void> | undefined;
  return {
    meterProvider,
    exporter,
    shutdown() {
      stopped ??= meterProvider.shutdown().catch(() => undefined);
      return stopped;
    },
  };
}
