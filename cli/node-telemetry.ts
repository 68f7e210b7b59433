// What `troupe node` adds for observability: tracing through @opentelemetry/api (an SDK loaded with
// `node --import` is picked up), and with --metrics-port the /metrics, /healthz and /readyz server whose
// meter provider the node's metrics go to.

import type { ActorSystem, Logger, Metrics, Tracing } from '../runtime/index.js';
import {
  nodeReadiness,
  type otelLoadMetrics,
  otelMetrics,
  otelTracing,
  type Readiness,
} from '../telemetry/index.js';
import { startTelemetryServer } from '../telemetry/sdk/index.js';

export interface NodeTelemetry {
  readonly tracing: Tracing;
  /** Present with --metrics-port. */
  readonly metrics: Metrics | undefined;
  /** The metrics server's meter provider, with --metrics-port (a load node's figures are recorded there too). */
  readonly meterProvider: Parameters<typeof otelLoadMetrics>[0];
  /** The metrics server's URL, with --metrics-port. */
  readonly url: string | undefined;
  close(): Promise<void>;
}

/** What readiness is computed from: the node's system (once created), its task runner, and whether it drains. */
export interface NodeState {
  system: ActorSystem | undefined;
  hasRunner: boolean;
  draining: boolean;
  started: boolean;
}

/** The readiness of a node: its system's (connected, shards claimed, accepting), and not draining. */
export function readinessOf(state: NodeState): Readiness {
  if (!state.started) return { ready: false, checks: { node: 'starting' } };
  const base = state.system === undefined ? { ready: true, checks: {} } : nodeReadiness(state.system);
  const checks: Record<string, boolean | string> = {
    ...base.checks,
    draining: state.draining ? 'draining' : true,
  };
  if (state.hasRunner) checks.tasks = true;
  return { ready: base.ready && !state.draining, checks };
}

/** Starts the metrics server when `port` is given; tracing is always on (it costs a check without an SDK). */
export async function startNodeTelemetry(
  port: number | undefined,
  logger: Logger,
  state: NodeState,
  host = '127.0.0.1',
): Promise<NodeTelemetry> {
  const tracing = otelTracing();
  if (port === undefined)
    return { tracing, metrics: undefined, meterProvider: undefined, url: undefined, close: async () => {} };
  const server = await startTelemetryServer({ port, host, logger, ready: () => readinessOf(state) });
  return {
    tracing,
    metrics: otelMetrics({ meterProvider: server.meterProvider }),
    meterProvider: server.meterProvider,
    url: server.url,
    close: () => server.close(),
  };
}
