// The HTTP gateway to a troupe fleet, on fastify: agents, graphs, actors, dead letters, nodes and webhooks,
// each route with a JSON schema (fastify validates it; @fastify/swagger lists it at GET /openapi.json), every
// route but GET /healthz behind a credential with scopes, every denial audited.

import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { AgentProtocol, AgentRegistry } from '../agents/index.js';
import {
  type ActorSystem,
  type AppendLog,
  type Clock,
  InvalidOptionsError,
  type Logger,
  memoryAppendLog,
  systemClock,
  TroupeError,
} from '../runtime/index.js';
import type { GraphDefinition, JsonState, Topics } from '../workflows/index.js';
import { Authenticator, type AuthOptions, allows, type Principal } from './auth.js';
import { errorAnswer, GatewayError, GatewayErrorCode } from './errors.js';
import { type FleetOptions, fleetRoutes } from './fleet/index.js';
import { CustomGraphs } from './graphs.js';
import { eventKind, RunStreams } from './run-streams.js';
import * as S from './schemas.js';

const KEEP_ALIVE_MS = 15_000;

/** The log key of the audit records of denied requests. */
export const AUDIT_KEY = 'gateway.denials';

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

type Scope = 'public' | 'any' | ((req: FastifyRequest) => string);
interface Route {
  method: 'GET' | 'POST' | 'PUT';
  url: string;
  summary: string;
  scope: Scope;
  /** Also accept the API key as `?key=` (browser pages and EventSource cannot set headers). */
  queryKey?: boolean;
  schema: Record<string, unknown>;
  handler: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
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
  const askTimeout = options.askTimeoutMs ?? 5000;
  const runTimeout = options.runTimeoutMs ?? 120_000;
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
    runTimeoutMs: runTimeout,
  });
  const graphs = new CustomGraphs(system, ownLog(options.graphLog), logger);
  const open = new Set<AbortController>();

  const app = Fastify({
    logger: false,
    bodyLimit: 1024 * 1024,
    // Refuse what a schema does not allow instead of dropping it, and coerce only scalars (query strings):
    // fastify's default 'array' coercion would turn a string input into a one-item array.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, useDefaults: true } },
  });
  await app.register(swagger, {
    openapi: {
      info: { title: 'troupe gateway', version: '1' },
      components: {
        securitySchemes: {
          apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' },
          bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
        },
      },
      security: [{ apiKey: [] }, { bearer: [] }],
    },
  });

  async function deny(
    req: FastifyRequest,
    reply: FastifyReply,
    err: GatewayError,
    extra: Record<string, unknown>,
  ) {
    const status = err.code === GatewayErrorCode.Forbidden ? 403 : 401;
    const record = {
      at: clock.now(),
      status,
      code: err.code,
      method: req.method,
      route: req.routeOptions.url ?? req.url,
      path: req.url.split('?')[0],
      ip: req.ip,
      ...extra,
    };
    logger.warn('gateway: request denied', record);
    try {
      await audit.append(AUDIT_KEY, JSON.stringify(record));
    } catch (e) {
      logger.error('gateway: could not record a denial', { code: (e as { code?: string }).code ?? 'ERROR' });
    }
    return reply.code(status).send({ code: err.code, message: err.message });
  }

  function add(route: Route): void {
    app.route({
      method: route.method,
      url: route.url,
      schema: { summary: route.summary, ...route.schema },
      // A callback hook, not an async one: an API key is checked in the same turn, with no promise per request.
      onRequest: (req, reply, done) => {
        const scope = route.scope;
        if (scope === 'public') return done();
        const refuse = (err: unknown): void => {
          if (err instanceof GatewayError) void deny(req, reply, err, {});
          else done(err as Error);
        };
        const admit = (principal: Principal) => {
          if (scope === 'any') return done();
          const required = scope(req);
          if (allows(principal.scopes, required)) return done();
          return void deny(
            req,
            reply,
            new GatewayError(GatewayErrorCode.Forbidden, `this credential lacks scope ${required}`),
            { subject: principal.subject, scope: required },
          );
        };
        let principal: Principal | Promise<Principal>;
        try {
          const key = route.queryKey === true ? (req.query as { key?: unknown } | undefined)?.key : undefined;
          principal = auth.check(req.headers, typeof key === 'string' ? key : undefined);
        } catch (err) {
          return refuse(err);
        }
        if (principal instanceof Promise) principal.then(admit, refuse);
        else admit(principal);
      },
      handler: route.handler,
    });
  }

  app.setErrorHandler(
    (err: Error & { validation?: unknown; statusCode?: number; code?: string }, req, reply) => {
      if (err.validation !== undefined)
        return reply.code(400).send({ code: GatewayErrorCode.BadRequest, message: err.message });
      if (err instanceof TroupeError) {
        const { status, body } = errorAnswer(err);
        if (status >= 500)
          logger.error('gateway: request failed', { route: req.routeOptions.url, code: err.code });
        return reply.code(status).send(body);
      }
      if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500)
        return reply.code(err.statusCode).send({ code: GatewayErrorCode.BadRequest, message: err.message });
      logger.error('gateway: request failed', { route: req.routeOptions.url, error: err.message });
      return reply.code(500).send({ code: GatewayErrorCode.Internal, message: 'internal error' });
    },
  );
  app.setNotFoundHandler((req, reply) =>
    reply
      .code(404)
      .send({ code: GatewayErrorCode.NotFound, message: `no route ${req.method} ${req.url.split('?')[0]}` }),
  );

  const agentOf = (req: FastifyRequest) => system.ref<AgentProtocol>((req.params as { id: string }).id);
  const idOf = (req: FastifyRequest) => (req.params as { id: string }).id;

  add({
    method: 'GET',
    url: '/healthz',
    summary: 'Liveness (no credential needed)',
    scope: 'public',
    schema: { response: { 200: S.ok } },
    handler: async () => ({ ok: true }),
  });
  add({
    method: 'GET',
    url: '/openapi.json',
    summary: 'This OpenAPI document',
    scope: 'any',
    schema: {},
    handler: async () => app.swagger(),
  });
  add({
    method: 'GET',
    url: '/agents',
    summary: 'The agent cards of the registry',
    scope: () => 'agents:read',
    schema: {},
    handler: async () => {
      if (options.registry === undefined)
        throw new GatewayError(GatewayErrorCode.NotConfigured, 'this gateway has no agent registry');
      return { agents: await options.registry.list() };
    },
  });
  add({
    method: 'GET',
    url: '/agents/:id',
    summary: "An agent's status (its configuration and runs)",
    scope: () => 'agents:read',
    schema: { params: S.agentParams },
    handler: async (req) => agentOf(req).ask({ type: 'status' }, { timeout: askTimeout }),
  });
  for (const verb of ['pause', 'resume'] as const)
    add({
      method: 'POST',
      url: `/agents/:id/${verb}`,
      summary: `${verb === 'pause' ? 'Pauses' : 'Resumes'} an agent`,
      scope: () => 'agents:write',
      schema: { params: S.agentParams },
      handler: async (req) => {
        await system[verb](agentOf(req));
        return { ok: true };
      },
    });
  add({
    method: 'PUT',
    url: '/agents/:id/config',
    summary: "Changes an agent's model, temperature or instructions (from its runs' next step)",
    scope: () => 'agents:write',
    schema: { params: S.agentParams, body: S.agentConfig },
    handler: async (req) =>
      agentOf(req).ask({ type: 'configure', ...(req.body as object) }, { timeout: askTimeout }),
  });
  add({
    method: 'POST',
    url: '/agents/:id/run',
    summary: 'Runs an agent and answers its output',
    scope: (req) => `agents:run:${idOf(req)}`,
    schema: { params: S.agentParams, body: S.runBody },
    handler: async (req) => {
      const { input, runId } = req.body as { input: AgentProtocol['run']['input']; runId?: string };
      // An id minted here is new everywhere: the agent reads no journal for it.
      const id = runId ?? `gw-${crypto.randomUUID()}`;
      const output = await agentOf(req).ask(
        { type: 'run', input, runId: id, ...(runId === undefined ? { fresh: true } : {}) },
        { timeout: runTimeout },
      );
      return { runId: id, output };
    },
  });
  add({
    method: 'POST',
    url: '/agents/:id/runs',
    summary: 'Starts a run whose events stream at GET /agents/:id/runs/:runId/events',
    scope: (req) => `agents:run:${idOf(req)}`,
    schema: { params: S.agentParams, body: S.runBody },
    handler: async (req, reply) => {
      const { input, runId } = req.body as { input: AgentProtocol['run']['input']; runId?: string };
      const id = runId ?? `gw-${crypto.randomUUID()}`;
      streams.start(idOf(req), input, id, runId === undefined);
      // The answer waits one turn of the event loop, so what the run needs first goes first: the ask flushed to
      // the transport, and an agent on this node through its first step up to the model request. The answer is
      // rarely on the path to the first token (the client's GET is in place well before a model's first token);
      // the model request always is, and on one node the client's 202 and GET would be served ahead of it.
      await new Promise<void>((resolve) => setImmediate(resolve));
      return reply.code(202).send({
        runId: id,
        events: `/agents/${encodeURIComponent(idOf(req))}/runs/${encodeURIComponent(id)}/events`,
      });
    },
  });
  add({
    method: 'GET',
    url: '/agents/:id/runs/:runId/events',
    summary:
      "A run's events as server-sent events (id: the event's sequence; Last-Event-ID or ?from resumes)",
    scope: (req) => `agents:run:${idOf(req)}`,
    schema: { params: S.runParams, querystring: S.eventsQuery, headers: S.eventsHeaders },
    handler: async (req, reply) => {
      const { id, runId } = req.params as { id: string; runId: string };
      const lastId = req.headers['last-event-id'];
      const from = (req.query as { from?: number }).from;
      const after = typeof lastId === 'string' && /^\d+$/.test(lastId) ? Number(lastId) : (from ?? 0);
      const ac = new AbortController();
      open.add(ac);
      reply.hijack();
      const raw = reply.raw;
      raw.on('close', () => ac.abort());
      raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
      });
      raw.write(': troupe run events\n\n');
      // A comment now and then keeps proxies from closing a quiet stream (a run waiting for approval).
      const keepAlive = setInterval(() => raw.write(': keep-alive\n\n'), KEEP_ALIVE_MS);
      keepAlive.unref();
      try {
        for await (const record of streams.events(id, runId, after, ac.signal)) {
          const kind = eventKind(record.data) ?? 'event';
          if (!raw.write(`id: ${record.seq}\nevent: ${kind}\ndata: ${record.data}\n\n`))
            await new Promise<void>((resolve) => {
              raw.once('drain', resolve);
              ac.signal.addEventListener('abort', () => resolve(), { once: true });
            });
        }
      } catch (err) {
        const { body } = errorAnswer(err);
        if (!raw.writableEnded) raw.write(`event: error\ndata: ${JSON.stringify(body)}\n\n`);
      } finally {
        clearInterval(keepAlive);
        open.delete(ac);
        raw.end();
      }
    },
  });
  add({
    method: 'POST',
    url: '/graph/custom',
    summary: 'Runs a graph given as a JSON definition (node types: set, template) as a durable run',
    scope: () => 'graphs:run',
    schema: { body: S.customGraph },
    handler: async (req) => {
      const body = req.body as {
        name: string;
        definition: GraphDefinition;
        input?: Partial<JsonState>;
        runId?: string;
      };
      const runs = graphs.runs(body.name, body.definition);
      const runId = body.runId ?? `gw-${crypto.randomUUID()}`;
      await runs.start(runId, body.input, { timeout: askTimeout });
      return { runId, graph: body.name, ...(await runs.result(runId, { timeout: runTimeout })) };
    },
  });
  add({
    method: 'GET',
    url: '/graphs/:name/runs/:runId',
    summary: "A graph run's status",
    scope: () => 'graphs:run',
    schema: { params: S.graphRunParams },
    handler: async (req) => {
      const { name, runId } = req.params as { name: string; runId: string };
      return graphs.client(name).status(runId, { timeout: askTimeout });
    },
  });
  add({
    method: 'POST',
    url: '/graphs/:name/runs/:runId/resume',
    summary: 'Gives the node a graph run waits at its value',
    scope: () => 'graphs:run',
    schema: { params: S.graphRunParams, body: S.resumeBody },
    handler: async (req) => {
      const { name, runId } = req.params as { name: string; runId: string };
      const { value, node } = req.body as { value: unknown; node?: string };
      return graphs
        .client(name)
        .resume(runId, value, { timeout: askTimeout, ...(node === undefined ? {} : { node }) });
    },
  });
  add({
    method: 'POST',
    url: '/actors/ask',
    summary: 'Asks any actor and answers its reply',
    scope: () => 'actors:ask',
    schema: { body: S.actorMessage },
    handler: async (req) => {
      const { to, message, timeoutMs } = req.body as {
        to: string;
        message: { type: string };
        timeoutMs?: number;
      };
      return { reply: await system.ref(to).ask(message as never, { timeout: timeoutMs ?? askTimeout }) };
    },
  });
  add({
    method: 'POST',
    url: '/actors/tell',
    summary: 'Tells any actor a message (at most once)',
    scope: () => 'actors:tell',
    schema: { body: S.actorMessage },
    handler: async (req, reply) => {
      const { to, message } = req.body as { to: string; message: { type: string } };
      system.ref(to).tell(message as never);
      return reply.code(202).send({ ok: true });
    },
  });
  add({
    method: 'GET',
    url: '/dead-letters',
    summary: 'The recent dead letters of every node',
    scope: () => 'ops:read',
    schema: { querystring: S.waitQuery },
    handler: async (req) => {
      const wait = (req.query as { waitMs?: number }).waitMs ?? 500;
      const letters = await system.clusterDeadLetters({ timeoutMs: wait });
      return { deadLetters: letters.filter((l) => l.node !== system.nodeId).sort((a, b) => a.at - b.at) };
    },
  });
  add({
    method: 'GET',
    url: '/nodes',
    summary: 'The live nodes of the fleet',
    scope: () => 'ops:read',
    schema: { querystring: S.waitQuery },
    handler: async (req) => {
      const wait = (req.query as { waitMs?: number }).waitMs ?? 500;
      const nodes = (await system.transport?.nodes?.(wait)) ?? [system.nodeId];
      return { nodes: nodes.filter((n) => n !== system.nodeId).sort(), self: system.nodeId };
    },
  });
  add({
    method: 'POST',
    url: '/webhooks/:topic',
    summary: 'Publishes the JSON body as an event on topic webhooks.<topic>',
    scope: (req) => `webhooks:${(req.params as { topic: string }).topic}`,
    schema: { params: S.topicParams, body: S.webhookBody, headers: S.webhookHeaders },
    handler: async (req, reply) => {
      const { topic } = req.params as { topic: string };
      if (options.topics === undefined)
        throw new GatewayError(GatewayErrorCode.NotFound, 'this gateway publishes no webhooks');
      const eventId = req.headers['x-event-id'];
      const published = await options.topics.publish(`webhooks.${topic}`, {
        type: `webhook.${topic}`,
        data: req.body,
        ...(typeof eventId === 'string' ? { id: eventId } : {}),
      });
      return reply.code(202).send({
        id: published.event.id,
        topic: published.event.topic,
        ...(published.seq === undefined ? {} : { seq: published.seq }),
        ...(published.duplicate === undefined ? {} : { duplicate: published.duplicate }),
      });
    },
  });
  for (const route of fleet.routes) add(route);
  await app.ready();

  let url: string | undefined;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      for (const ac of open) ac.abort();
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
