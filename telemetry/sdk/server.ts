// The telemetry endpoint of a node (`troupe node --metrics-port P`): Prometheus text on /metrics, liveness on
// /healthz, readiness on /readyz. One small HTTP server on loopback by default; it never takes the process down.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MeterProvider } from '@opentelemetry/sdk-metrics';
import { InvalidOptionsError, type Logger } from '../../runtime/index.js';
import type { Readiness } from '../readiness.js';
import { type PrometheusMetrics, prometheusMetrics } from './prometheus.js';

/** Longest a readiness check may take before /readyz answers 503 `timeout`. */
const READY_TIMEOUT_MS = 2000;

/** Options of {@link startTelemetryServer}. */
export interface TelemetryServerOptions {
  /** Port to listen on; 0 picks a free one. */
  port: number;
  /** @defaultValue `127.0.0.1` */
  host?: string;
  /** Called on each /readyz request: 200 when `ready`, else 503 with the checks as JSON. */
  ready: () => Readiness | Promise<Readiness>;
  /** Where request failures are reported (at `warn`). */
  logger?: Logger;
  /** What /metrics serves. @defaultValue a new {@link prometheusMetrics}(), shut down with the server */
  metrics?: PrometheusMetrics;
}

/** A running telemetry server. */
export interface TelemetryServer {
  readonly port: number;
  /** `http://host:port` */
  readonly url: string;
  /** The provider /metrics reads: pass it to `otelMetrics({ meterProvider })`. */
  readonly meterProvider: MeterProvider;
  /** Stops listening (and shuts down the metrics it made). Safe to call twice. */
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.statusCode = status;
  res.setHeader('content-type', type);
  res.setHeader('cache-control', 'no-store');
  res.end(body);
}

async function readiness(ready: () => Readiness | Promise<Readiness>): Promise<Readiness> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Readiness>((resolve) => {
    timer = setTimeout(() => resolve({ ready: false, checks: { readiness: 'timeout' } }), READY_TIMEOUT_MS);
  });
  try {
    return await Promise.race([Promise.resolve().then(ready), timeout]);
  } catch (err) {
    return { ready: false, checks: { readiness: `check failed: ${(err as Error)?.message ?? String(err)}` } };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Starts the telemetry endpoint: GET `/metrics` (Prometheus text), `/healthz` (200 while the process is up),
 * `/readyz` (200 when `ready()` says so, else 503 with `{ ready, checks }`); 404 elsewhere, 405 for other
 * methods. Rejects when the port cannot be bound.
 *
 * @example
 * let system: ActorSystem | undefined;
 * const telemetry = await startTelemetryServer({ port: 9464, ready: () => nodeReadiness(system) });
 * system = await createSystem({ transport, metrics: otelMetrics({ meterProvider: telemetry.meterProvider }) });
 * // on exit: await system.drain(); await telemetry.close();
 */
export async function startTelemetryServer(options: TelemetryServerOptions): Promise<TelemetryServer> {
  const { port, host = '127.0.0.1', ready, logger } = options;
  if (!(Number.isInteger(port) && port >= 0 && port <= 65535))
    throw new InvalidOptionsError('port', `expected a port number from 0 to 65535, got ${String(port)}`);
  if (typeof ready !== 'function') throw new InvalidOptionsError('ready', 'expected a function');
  const owned = options.metrics === undefined;
  const metrics = options.metrics ?? prometheusMetrics();

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      send(res, 405, 'text/plain', 'method not allowed\n');
      return;
    }
    switch (path) {
      case '/metrics':
        metrics.exporter.getMetricsRequestHandler(req, res);
        return;
      case '/healthz':
        send(res, 200, 'text/plain', 'ok\n');
        return;
      case '/readyz': {
        const verdict = await readiness(ready);
        send(res, verdict.ready ? 200 : 503, 'application/json', `${JSON.stringify(verdict)}\n`);
        return;
      }
      default:
        send(res, 404, 'text/plain', 'not found\n');
    }
  };

  const server: Server = createServer((req, res) => {
    // Nothing is read from a body: drop it rather than buffer it.
    req.resume();
    handle(req, res).catch((err: unknown) => {
      logger?.warn('telemetry request failed', { path: req.url, error: err });
      if (!res.headersSent) send(res, 500, 'text/plain', 'internal error\n');
      else res.destroy();
    });
  });
  // Bounded: slow or idle clients cannot hold sockets open for long.
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  server.keepAliveTimeout = 5_000;
  server.maxHeadersCount = 50;
  server.on('clientError', (_err, socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    const failed = (err: Error): void => reject(err);
    server.once('error', failed);
    server.listen(port, host, () => {
      server.off('error', failed);
      resolve();
    });
  }).catch(async (err: unknown) => {
    if (owned) await metrics.shutdown();
    throw err;
  });
  server.on('error', (err) => logger?.warn('telemetry server error', { error: err }));

  const bound = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    port: bound,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}`,
    meterProvider: metrics.meterProvider,
    close() {
      closing ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        if (owned) await metrics.shutdown();
      })();
      return closing;
    },
  };
}
