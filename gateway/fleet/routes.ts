// The fleet page's routes: GET /fleet (the page), GET /fleet/snapshot (JSON), GET /fleet/events (a snapshot per
// interval as server-sent events). All need scope `fleet:read`; they also take the key as `?key=` (see page.ts).

import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AgentRegistry } from '../../agents/index.js';
import { type ActorSystem, type Clock, InvalidOptionsError, type Logger } from '../../runtime/index.js';
import { FleetMonitor } from './monitor.js';
import { fleetPage } from './page.js';
import { collectSnapshot, type TraceLinks } from './snapshot.js';

/** The scope the fleet routes need. */
export const FLEET_SCOPE = 'fleet:read';

const KEEP_ALIVE_MS = 15_000;

export interface FleetOptions extends TraceLinks {
  /** Time between pushed snapshots. @defaultValue 1000 */
  intervalMs?: number;
  /** How long nodes have to answer each snapshot. @defaultValue 400 */
  waitMs?: number;
  /** Most recent dead letters shown. @defaultValue 50 */
  maxDeadLetters?: number;
}

export interface FleetRoute {
  method: 'GET';
  url: string;
  summary: string;
  scope: () => string;
  /** Accept the credential as `?key=` too (a browser cannot set headers on a page load or an EventSource). */
  queryKey: true;
  schema: Record<string, unknown>;
  handler: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
}

const keyQuery = {
  type: 'object',
  properties: { key: { type: 'string', maxLength: 512 } },
  additionalProperties: false,
};

const positive = (v: unknown, name: string, fallback: number): number => {
  if (v === undefined) return fallback;
  if (!Number.isInteger(v) || (v as number) <= 0)
    throw new InvalidOptionsError(`fleet.${name}`, 'expected a positive integer');
  return v as number;
};

function template(v: unknown, name: string, placeholder: string): void {
  if (v === undefined) return;
  if (typeof v !== 'string' || !/^https?:\/\//.test(v) || !v.includes(placeholder))
    throw new InvalidOptionsError(`fleet.${name}`, `expected an http(s) URL containing ${placeholder}`);
}

/** The fleet routes and the monitor behind them; `close` ends open event streams. */
export function fleetRoutes(deps: {
  system: ActorSystem;
  registry: AgentRegistry | undefined;
  logger: Logger;
  clock: Clock;
  options: FleetOptions | undefined;
}): { routes: FleetRoute[]; close(): void } {
  const options = deps.options ?? {};
  if (typeof options !== 'object' || options === null)
    throw new InvalidOptionsError('fleet', 'expected { traceUrl?, intervalMs?, ... }');
  template(options.traceUrl, 'traceUrl', '{traceId}');
  if (options.traceSearchUrl !== undefined && !/^https?:\/\//.test(String(options.traceSearchUrl)))
    throw new InvalidOptionsError('fleet.traceSearchUrl', 'expected an http(s) URL ({address} or {tags})');
  const intervalMs = positive(options.intervalMs, 'intervalMs', 1000);
  const waitMs = positive(options.waitMs, 'waitMs', 400);
  const maxDeadLetters = positive(options.maxDeadLetters, 'maxDeadLetters', 50);
  const monitor = new FleetMonitor({
    intervalMs,
    logger: deps.logger,
    collect: () =>
      collectSnapshot({
        system: deps.system,
        ...(deps.registry === undefined ? {} : { registry: deps.registry }),
        waitMs,
        maxDeadLetters,
        now: () => deps.clock.now(),
        ...(options.traceUrl === undefined ? {} : { traceUrl: options.traceUrl }),
        ...(options.traceSearchUrl === undefined ? {} : { traceSearchUrl: options.traceSearchUrl }),
      }),
  });
  // Changes seen on the gateway's node push at once; other nodes' show at the next tick.
  const unsubscribe = [
    deps.system.onLifecycle(() => monitor.kick()),
    deps.system.deadLetters.subscribe(() => monitor.kick()),
  ];
  const open = new Set<AbortController>();
  const page = fleetPage();

  const routes: FleetRoute[] = [
    {
      method: 'GET',
      url: '/fleet',
      summary: 'The live fleet page (HTML; in a browser pass the key as ?key=)',
      scope: () => FLEET_SCOPE,
      queryKey: true,
      schema: { querystring: keyQuery },
      handler: async (_req, reply) =>
        reply
          .header('content-type', 'text/html; charset=utf-8')
          .header('cache-control', 'no-store')
          .header('referrer-policy', 'no-referrer')
          .header(
            'content-security-policy',
            "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:",
          )
          .send(page),
    },
    {
      method: 'GET',
      url: '/fleet/snapshot',
      summary: 'The fleet now: nodes and their supervision trees, agents, recent dead letters, trace links',
      scope: () => FLEET_SCOPE,
      queryKey: true,
      schema: { querystring: keyQuery },
      handler: async () => monitor.snapshot(),
    },
    {
      method: 'GET',
      url: '/fleet/events',
      summary: 'Fleet snapshots as server-sent events (event: snapshot, id: its sequence), one per second',
      scope: () => FLEET_SCOPE,
      queryKey: true,
      schema: { querystring: keyQuery },
      handler: async (_req, reply) => {
        const ac = new AbortController();
        open.add(ac);
        reply.hijack();
        const raw = reply.raw;
        raw.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache',
          connection: 'keep-alive',
        });
        raw.write(`retry: ${Math.max(1000, intervalMs)}\n: troupe fleet\n\n`);
        const keepAlive = setInterval(() => raw.write(': keep-alive\n\n'), KEEP_ALIVE_MS);
        keepAlive.unref();
        const stop = monitor.watch((update) => {
          // A slow reader skips snapshots instead of queueing them: the next one supersedes this one anyway.
          if (raw.writableNeedDrain) return;
          raw.write(`id: ${update.seq}\nevent: snapshot\ndata: ${update.json}\n\n`);
        });
        await new Promise<void>((resolve) => {
          if (ac.signal.aborted) return resolve();
          ac.signal.addEventListener('abort', () => resolve(), { once: true });
          raw.on('close', () => ac.abort());
        });
        stop();
        clearInterval(keepAlive);
        open.delete(ac);
        if (!raw.writableEnded) raw.end();
      },
    },
  ];
  return {
    routes,
    close() {
      for (const off of unsubscribe) off();
      for (const ac of open) ac.abort();
      monitor.close();
    },
  };
}
