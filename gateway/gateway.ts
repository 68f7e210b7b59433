// The HTTP gateway to a troupe fleet, on fastify: agents, graphs, actors, dead letters, nodes and webhooks,
// each route with a JSON schema (fastify validates it; @fastify/swagger lists it at GET /openapi.json), every
// route but GET /healthz behind a credential with scopes (route-guard.ts), every denial audited. This file makes
// the gateway: its options checked, its logs and stream collectors made, the routes (routes/) mounted, and its
// listen and close.

import type { FastifyInstance } from 'fastify';
import type { AgentRegistry } from '../agents/index.js';
import {
  type ActorSystem,
  type AppendLog,
  type Clock,
  InvalidOptionsError,
  type Logger,
  memoryAppendLog,
  systemClock,
} from '../runtime/index.js';
import type { Topics } from '../workflows/index.js';
import { Authenticator, type AuthOptions } from './auth.js';
import { type FleetOptions, fleetRoutes } from './fleet/index.js';
import { CustomGraphs } from './graphs.js';
import { httpApp } from './http-app.js';
import { RateLimiter, type RateLimitOptions } from './rate-limit.js';
import { AUDIT_KEY, RouteGuard } from './route-guard.js';
import {
  actorRoutes,
  agentRoutes,
  agentRunRoutes,
  graphRunRoutes,
  opsRoutes,
  type Route,
  serviceRoutes,
  webhookRoutes,
} from './routes/index.js';
import { RunStreams } from './run-streams.js';

export interface GatewayOptions {
  /** A system connected to the fleet (a client node); the gateway spawns its stream collectors there. */
  system: ActorSystem;
  auth: AuthOptions;
  /** Agent cards for GET /agents; without it the route answers 501. */
  registry?: AgentRegistry;
  /** Where POST /webhooks/:topic publishes; without it those routes answer 404. */
  topics?: Topics;
  /** Where denials are recorded (one record each, key {@link AUDIT_KEY}). @defaultValue an in-memory log */
  audit?: AppendLog;
  /** Where streamed run events are kept; share one (natsAppendLog) so any instance resumes a stream. @defaultValue in-memory */
  streams?: AppendLog;
  /** The log of posted graphs' durable runs. @defaultValue in-memory */
  graphLog?: AppendLog;
  logger?: Logger;
  clock?: Clock;
  /** Deadline of the asks the routes make (status, configure, actors/ask). @defaultValue 5000 */
  askTimeoutMs?: number;
  /** Deadline of POST /agents/:id/run and of a posted graph's result. @defaultValue 120000 */
  runTimeoutMs?: number;
  /** How often a stream reader polls the shared log for events another instance stored. @defaultValue 100 */
  streamPollMs?: number;
  /** The live fleet page (GET /fleet, /fleet/snapshot, /fleet/events; scope fleet:read): trace links, interval. */
  fleet?: FleetOptions;
  /** Requests each credential may make (429 `GATEWAY_RATE_LIMITED` past it), per instance. @defaultValue unlimited */
  rateLimit?: RateLimitOptions;
}

export interface Gateway {
  /** The URL once listening, else undefined. */
  readonly url: string | undefined;
  /** The audit log (the `audit` option, or the gateway's own). */
  readonly audit: AppendLog;
  listen(port: number, host?: string): Promise<string>;
  /** Answers a request without a socket (fastify's inject), for tests and tools. */
  inject: FastifyInstance['inject'];
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const positive = (v: unknown): boolean => v === undefined || (Number.isInteger(v) && (v as number) > 0);

/** Makes a gateway (not yet listening: call `listen`). */
export async function gateway(options: GatewayOptions): Promise<Gateway> {
  if (typeof options !== 'object' || options === null)
    throw new InvalidOptionsError('options', 'expected { system, auth }');
  const { system } = options;
  if (typeof system?.spawn !== 'function') throw new InvalidOptionsError('system', 'expected an ActorSystem');
  for (const key of ['askTimeoutMs', 'runTimeoutMs', 'streamPollMs'] as const)
    if (!positive(options[key])) throw new InvalidOptionsError(key, 'expected a positive integer');
  const auth = new Authenticator(options.auth);
  const logger = (options.logger ?? system.logger).child({ component: 'gateway' });
  const clock = options.clock ?? systemClock;
  const limiter = options.rateLimit === undefined ? undefined : new RateLimiter(options.rateLimit, clock);
  const askTimeoutMs = options.askTimeoutMs ?? 5000;
  const runTimeoutMs = options.runTimeoutMs ?? 120_000;
  // Checks the fleet options before anything that would need closing is made.
  const fleet = fleetRoutes({ system, registry: options.registry, logger, clock, options: options.fleet });
  const owned: AppendLog[] = [];
  const ownLog = (given: AppendLog | undefined): AppendLog => {
    if (given !== undefined) return given;
    const log = memoryAppendLog();
    owned.push(log);
    return log;
  };
  const audit = ownLog(options.audit);
  const streams = new RunStreams({
    system,
    log: ownLog(options.streams),
    logger,
    pollMs: options.streamPollMs ?? 100,
    runTimeoutMs,
  });
  const graphs = new CustomGraphs(system, ownLog(options.graphLog), logger);

  const app = await httpApp(logger);
  const guard = new RouteGuard({ auth, audit, logger, clock, limiter });
  const runs = agentRunRoutes({ system, streams, runTimeoutMs });
  const routes: Route[] = [
    ...serviceRoutes({ openapi: () => app.swagger() }),
    ...agentRoutes({ system, registry: options.registry, askTimeoutMs }),
    ...runs.routes,
    ...graphRunRoutes({ graphs, askTimeoutMs, runTimeoutMs }),
    ...actorRoutes({ system, askTimeoutMs }),
    ...opsRoutes({ system }),
    ...webhookRoutes({ topics: options.topics }),
    ...fleet.routes,
  ];
  for (const route of routes)
    app.route({
      method: route.method,
      url: route.url,
      schema: { summary: route.summary, ...route.schema },
      onRequest: guard.hook(route),
      handler: route.handler,
    });
  await app.ready();

  let url: string | undefined;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      runs.close();
      fleet.close();
      await streams.close();
      await app.close();
      await Promise.allSettled(owned.map((log) => log.close()));
    })();
    return closing;
  };
  return {
    get url() {
      return url;
    },
    audit,
    async listen(port: number, host = '127.0.0.1') {
      if (!Number.isInteger(port) || port < 0 || port > 65535)
        throw new InvalidOptionsError('port', 'expected an integer 0-65535');
      await app.listen({ port, host });
      const address = app.server.address();
      const actual = typeof address === 'object' && address !== null ? address.port : port;
      url = `http://${host.includes(':') ? `[${host}]` : host}:${actual}`;
      logger.info('gateway: listening', { url });
      return url;
    },
    inject: app.inject.bind(app) as FastifyInstance['inject'],
    close,
    [Symbol.asyncDispose]: close,
  };
}
