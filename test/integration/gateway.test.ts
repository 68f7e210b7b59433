// The gateway's routes against a real fleet (nats-server, an agent on the offline model server): each route's
// happy path, 400 on bad input, 401/403 with an audit record per denial, API keys and JWTs, the OpenAPI document.

import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentKit, agentRegistry } from '../../agents/index.js';
import { AUDIT_KEY, authFromEnv, type Gateway, gateway, parseApiKeys } from '../../gateway/index.js';
import { type ModelRouter, modelRouter } from '../../models/index.js';
import {
  type ActorSystem,
  createSystem,
  defineActor,
  ManualClock,
  memoryAppendLog,
  memoryKeyValue,
  memoryTopicBus,
  type Reply,
} from '../../runtime/index.js';
import { type LlmServer, type ServerProcess, startLlmServer, startNats } from '../../testing/index.js';
import { natsTransport } from '../../transport/index.js';
import { topics as makeTopics, type Topics } from '../../workflows/index.js';
import { until } from '../helpers/fixtures.js';
import { on } from '../helpers/models.js';

const ADMIN = 'admin-key-0123456789';
const READER = 'reader-key-0123456789';
const RUNNER = 'runner-key-0123456789';
const SECRET = 'jwt-secret-for-tests-0123456789abcdef';
const ns = `gw${process.pid}`;

let nats: ServerProcess;
let server: LlmServer;
let router: ModelRouter;
let fleet: ActorSystem;
let client: ActorSystem;
let gw: Gateway;
let bare: Gateway;
let topics: Topics;
const received: unknown[] = [];
let told = 0;

const admin = { 'x-api-key': ADMIN };
const agentUrl = (id: string) => `/agents/${encodeURIComponent(id)}`;

beforeAll(async () => {
  nats = await startNats();
  server = await startLlmServer();
  router = modelRouter({ groups: { g: { deployments: [on(server, 'm')] } } });
  fleet = await createSystem({
    nodeId: 'fleet',
    transport: natsTransport({ servers: nats.url, namespace: ns }),
  });
  client = await createSystem({
    nodeId: 'gw',
    transport: natsTransport({ servers: nats.url, namespace: ns }),
  });
  const kit = agentKit({ router });
  fleet.spawn(kit.defineAgent({ name: 'desk', model: 'g', instructions: 'Help.' }), { name: 'desk' });
  fleet.register('vdesk', kit.defineAgent({ name: 'vdesk', model: 'g', instructions: 'Virtual help.' }));
  fleet.spawn(
    defineActor<{ echo: { text: string } & Reply<string>; poke: object }>({
      handlers: {
        echo: (m) => `echo ${m.text}`,
        poke: () => void told++,
      },
    }),
    { name: 'echo' },
  );
  const registry = agentRegistry({ store: memoryKeyValue(), heartbeatMs: 0 });
  await registry.publish({
    name: 'desk',
    address: 'fleet/desk',
    node: 'fleet',
    description: 'the help desk',
    capabilities: ['help'],
    model: 'g',
    costPer1kTokens: { input: 0, output: 0 },
  });
  topics = makeTopics({ system: client, bus: memoryTopicBus() });
  const sink = client.spawn(
    defineActor<{ topicEvent: { event: unknown } }>({
      handlers: { topicEvent: (m) => void received.push(m.event) },
    }),
  );
  await topics.subscribe('webhooks.>', sink, { delivery: 'tell' });
  gw = await gateway({
    system: client,
    registry,
    topics,
    auth: {
      apiKeys: [
        { key: ADMIN, scopes: ['admin'] },
        { key: READER, scopes: ['agents:read'] },
        { key: RUNNER, scopes: ['agents:run:fleet/*', 'webhooks:orders'] },
      ],
      jwt: { secret: SECRET, issuer: 'tests' },
    },
  });
  bare = await gateway({ system: client, auth: { apiKeys: [{ key: ADMIN, scopes: ['admin'] }] } });
}, 60_000);

afterAll(async () => {
  await gw?.close();
  await bare?.close();
  await topics?.close();
  await client?.close();
  await fleet?.close();
  await router?.close();
  await server?.close();
  await nats?.stop();
});

async function audits(): Promise<Record<string, unknown>[]> {
  return (await gw.audit.read(AUDIT_KEY)).map((r) => JSON.parse(r.data) as Record<string, unknown>);
}

const token = (claims: Record<string, unknown>, secret = SECRET, expires = '5m') =>
  new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer('tests')
    .setSubject('alice')
    .setIssuedAt()
    .setExpirationTime(expires)
    .sign(new TextEncoder().encode(secret));

describe('gateway routes', () => {
  it('answers GET /healthz without a credential', async () => {
    const res = await gw.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ ok: true });
  });

  it('lists the agent cards (501 without a registry)', async () => {
    const res = await gw.inject({ method: 'GET', url: '/agents', headers: admin });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().agents.map((c: { address: string }) => c.address)).toEqual(['fleet/desk']);
    const none = await bare.inject({ method: 'GET', url: '/agents', headers: admin });
    expect(none.statusCode, none.body).toBe(501);
    expect(none.json().code).toBe('GATEWAY_NOT_CONFIGURED');
  });

  it("answers an agent's status, configures it, runs it", async () => {
    const status = await gw.inject({ method: 'GET', url: agentUrl('fleet/desk'), headers: admin });
    expect(status.statusCode, status.body).toBe(200);
    expect(status.json()).toMatchObject({ agent: 'desk', config: { model: 'g', instructions: 'Help.' } });
    const config = await gw.inject({
      method: 'PUT',
      url: `${agentUrl('fleet/desk')}/config`,
      headers: admin,
      payload: { instructions: 'Help kindly.' },
    });
    expect(config.statusCode, config.body).toBe(200);
    expect(config.json()).toMatchObject({ model: 'g', instructions: 'Help kindly.' });
    server.script('m', ['Hello from the desk.']);
    const run = await gw.inject({
      method: 'POST',
      url: `${agentUrl('fleet/desk')}/run`,
      headers: { 'x-api-key': RUNNER },
      payload: { input: 'hi', runId: 'r-1' },
    });
    expect(run.statusCode, run.body).toBe(200);
    expect(run.json()).toEqual({ runId: 'r-1', output: 'Hello from the desk.' });
  });

  it('reaches a virtual agent by its $v/ address', async () => {
    server.script('m', ['virtual answer']);
    const run = await gw.inject({
      method: 'POST',
      url: `${agentUrl('$v/vdesk/d1')}/run`,
      headers: admin,
      payload: { input: 'hi' },
    });
    expect(run.statusCode, run.body).toBe(200);
    expect(run.json()).toMatchObject({ output: 'virtual answer', runId: expect.stringMatching(/^gw-/) });
    const status = await gw.inject({ method: 'GET', url: agentUrl('$v/vdesk/d1'), headers: admin });
    expect(status.statusCode, status.body).toBe(200);
    expect(status.json()).toMatchObject({ agent: 'vdesk', config: { instructions: 'Virtual help.' } });
  });

  it('pauses and resumes an agent', async () => {
    const paused = await gw.inject({
      method: 'POST',
      url: `${agentUrl('fleet/desk')}/pause`,
      headers: admin,
    });
    expect(paused.statusCode, paused.body).toBe(200);
    const state = async () =>
      (await client.ps({ timeoutMs: 500 })).find((a) => a.address === 'fleet/desk')?.status;
    expect(await state()).toBe('paused');
    const resumed = await gw.inject({
      method: 'POST',
      url: `${agentUrl('fleet/desk')}/resume`,
      headers: admin,
    });
    expect(resumed.statusCode, resumed.body).toBe(200);
    expect(await state()).toBe('running');
  });

  it('answers 404 ACTOR_NOT_FOUND for an agent nobody holds', async () => {
    const res = await gw.inject({ method: 'POST', url: `${agentUrl('fleet/nobody')}/pause`, headers: admin });
    expect(res.statusCode, res.body).toBe(404);
    expect(res.json().code).toBe('ACTOR_NOT_FOUND');
  });

  it('runs a posted graph as a durable run and answers its status', async () => {
    const definition = {
      state: { user: 'replace', greeting: 'replace', verdict: 'replace' },
      nodes: [
        { name: 'greet', type: 'template', config: { field: 'greeting', text: 'Hello {{user}}' } },
        { name: 'judge', type: 'set', config: { verdict: 'ok' } },
      ],
      edges: [
        { from: '__start__', to: 'greet' },
        { from: 'greet', to: 'judge' },
      ],
    };
    const res = await gw.inject({
      method: 'POST',
      url: '/graph/custom',
      headers: admin,
      payload: { name: 'hello', definition, input: { user: 'Ada' }, runId: 'g-1' },
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({
      runId: 'g-1',
      graph: 'hello',
      status: 'done',
      state: { greeting: 'Hello Ada', verdict: 'ok' },
    });
    const status = await gw.inject({ method: 'GET', url: '/graphs/hello/runs/g-1', headers: admin });
    expect(status.statusCode, status.body).toBe(200);
    expect(status.json()).toMatchObject({ runId: 'g-1', status: 'done', step: 2 });
    // Nothing waits at an interrupt: resuming is a coded conflict.
    const resume = await gw.inject({
      method: 'POST',
      url: '/graphs/hello/runs/g-1/resume',
      headers: admin,
      payload: { value: 1 },
    });
    expect(resume.statusCode, resume.body).toBe(409);
    expect(resume.json().code).toBe('GRAPH_RUN_STATE');
    // Another definition under a known name is refused; an unknown node type is a 400.
    const other = await gw.inject({
      method: 'POST',
      url: '/graph/custom',
      headers: admin,
      payload: { name: 'hello', definition: { ...definition, edges: definition.edges.slice(0, 1) } },
    });
    expect(other.statusCode, other.body).toBe(409);
    const code = await gw.inject({
      method: 'POST',
      url: '/graph/custom',
      headers: admin,
      payload: { name: 'evil', definition: { state: {}, nodes: [{ name: 'x', type: 'code', config: {} }] } },
    });
    expect(code.statusCode, code.body).toBe(400);
    expect(code.json().code).toMatch(/^GRAPH_/);
  });

  it('asks and tells any actor', async () => {
    const ask = await gw.inject({
      method: 'POST',
      url: '/actors/ask',
      headers: admin,
      payload: { to: 'fleet/echo', message: { type: 'echo', text: 'ping' } },
    });
    expect(ask.statusCode, ask.body).toBe(200);
    expect(ask.json()).toEqual({ reply: 'echo ping' });
    const tell = await gw.inject({
      method: 'POST',
      url: '/actors/tell',
      headers: admin,
      payload: { to: 'fleet/echo', message: { type: 'poke' } },
    });
    expect(tell.statusCode, tell.body).toBe(202);
    await until(() => told === 1, 5000, 'the told message');
  });

  it('lists dead letters and nodes', async () => {
    await gw.inject({
      method: 'POST',
      url: '/actors/tell',
      headers: admin,
      payload: { to: 'fleet/ghost', message: { type: 'boo' } },
    });
    let letters: { address: string; node: string }[] = [];
    for (let i = 0; i < 50 && !letters.some((l) => l.address === 'fleet/ghost'); i++) {
      const res = await gw.inject({ method: 'GET', url: '/dead-letters?waitMs=200', headers: admin });
      expect(res.statusCode, res.body).toBe(200);
      letters = res.json().deadLetters;
    }
    expect(letters.find((l) => l.address === 'fleet/ghost')?.node).toBe('fleet');
    const nodes = await gw.inject({ method: 'GET', url: '/nodes?waitMs=300', headers: admin });
    expect(nodes.statusCode, nodes.body).toBe(200);
    expect(nodes.json()).toEqual({ nodes: ['fleet'], self: 'gw' });
  });

  it('publishes a webhook on webhooks.<topic> (404 without topics)', async () => {
    const res = await gw.inject({
      method: 'POST',
      url: '/webhooks/orders',
      headers: { 'x-api-key': RUNNER, 'x-event-id': 'evt-1' },
      payload: { order: 42 },
    });
    expect(res.statusCode, res.body).toBe(202);
    expect(res.json()).toMatchObject({ id: 'evt-1', topic: 'webhooks.orders' });
    await until(() => received.length === 1, 5000, 'the webhook event');
    expect(received[0]).toMatchObject({ id: 'evt-1', topic: 'webhooks.orders', data: { order: 42 } });
    const none = await bare.inject({ method: 'POST', url: '/webhooks/orders', headers: admin, payload: {} });
    expect(none.statusCode, none.body).toBe(404);
    expect(none.json().code).toBe('GATEWAY_NOT_FOUND');
  });

  it('answers 400 { code, message } on input its schema refuses', async () => {
    const bad = [
      { method: 'POST', url: `${agentUrl('fleet/desk')}/run`, payload: { runId: 'x' } },
      { method: 'POST', url: `${agentUrl('fleet/desk')}/run`, payload: { input: 'x', runId: 'has space' } },
      { method: 'PUT', url: `${agentUrl('fleet/desk')}/config`, payload: { colour: 'red' } },
      { method: 'PUT', url: `${agentUrl('fleet/desk')}/config`, payload: { temperature: 9 } },
      { method: 'POST', url: '/actors/ask', payload: { message: { type: 'echo' } } },
      { method: 'POST', url: '/actors/tell', payload: { to: 'fleet/echo', message: {} } },
      {
        method: 'POST',
        url: '/graph/custom',
        payload: { name: 'a b', definition: { state: {}, nodes: [] } },
      },
      { method: 'POST', url: '/graphs/hello/runs/g-1/resume', payload: {} },
      { method: 'GET', url: '/nodes?waitMs=-1' },
      { method: 'GET', url: `${agentUrl('fleet/desk')}/runs/r/events?from=x` },
      { method: 'POST', url: '/webhooks/orders', payload: '"text"' },
    ] as const;
    for (const req of bad) {
      const res = await gw.inject({
        ...req,
        headers: { ...admin, 'content-type': 'application/json' },
      } as never);
      expect(res.statusCode, `${req.method} ${req.url}`).toBe(400);
      expect(res.json(), `${req.method} ${req.url}`).toMatchObject({
        code: 'INVALID_REQUEST',
        message: expect.any(String),
      });
    }
  });

  it('lists every route in the OpenAPI document', async () => {
    const res = await gw.inject({ method: 'GET', url: '/openapi.json', headers: admin });
    expect(res.statusCode, res.body).toBe(200);
    const doc = res.json() as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(doc.openapi).toMatch(/^3\./);
    const routes = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect(routes.sort()).toEqual(
      [
        'GET /healthz',
        'GET /openapi.json',
        'GET /agents',
        'GET /agents/{id}',
        'POST /agents/{id}/pause',
        'POST /agents/{id}/resume',
        'PUT /agents/{id}/config',
        'POST /agents/{id}/run',
        'POST /agents/{id}/runs',
        'GET /agents/{id}/runs/{runId}/events',
        'POST /graph/custom',
        'GET /graphs/{name}/runs/{runId}',
        'POST /graphs/{name}/runs/{runId}/resume',
        'POST /actors/ask',
        'POST /actors/tell',
        'GET /dead-letters',
        'GET /nodes',
        'GET /fleet',
        'GET /fleet/snapshot',
        'GET /fleet/events',
        'POST /webhooks/{topic}',
      ].sort(),
    );
    // The run body's schema made it into the document.
    const run = doc.paths['/agents/{id}/run']?.post as { requestBody?: unknown };
    expect(JSON.stringify(run.requestBody)).toContain('runId');
  });
});

describe('gateway auth', () => {
  it('answers 401 without or with a bad credential, audited without the secret', async () => {
    const before = (await audits()).length;
    const none = await gw.inject({ method: 'GET', url: '/agents' });
    expect(none.statusCode, none.body).toBe(401);
    expect(none.json().code).toBe('GATEWAY_UNAUTHENTICATED');
    const wrong = await gw.inject({
      method: 'GET',
      url: '/agents',
      headers: { 'x-api-key': 'nope-not-a-key-at-all' },
    });
    expect(wrong.statusCode, wrong.body).toBe(401);
    const forged = await gw.inject({
      method: 'GET',
      url: '/agents',
      headers: {
        authorization: `Bearer ${await token({ scope: 'admin' }, 'another-secret-0123456789abcdefgh')}`,
      },
    });
    expect(forged.statusCode, forged.body).toBe(401);
    const expired = await gw.inject({
      method: 'GET',
      url: '/agents',
      headers: { authorization: `Bearer ${await token({ scope: 'admin' }, SECRET, '-1m')}` },
    });
    expect(expired.statusCode, expired.body).toBe(401);
    const records = (await audits()).slice(before);
    expect(records).toHaveLength(4);
    for (const r of records)
      expect(r).toMatchObject({ status: 401, code: 'GATEWAY_UNAUTHENTICATED', route: '/agents' });
    expect(JSON.stringify(records)).not.toContain('nope-not-a-key');
  });

  it('limits each credential to its rate (429 GATEWAY_RATE_LIMITED with retry-after); others go on', async () => {
    const clock = new ManualClock(1_000_000);
    await using limited = await gateway({
      system: client,
      clock,
      auth: {
        apiKeys: [
          { key: ADMIN, scopes: ['admin'] },
          { key: READER, scopes: ['ops:read'] },
        ],
      },
      rateLimit: { perSecond: 2, burst: 3 },
    });
    const get = (key: string) =>
      limited.inject({ method: 'GET', url: '/nodes', headers: { 'x-api-key': key } });
    // The burst, then refusals with the wait until the next token (1 token per 500 ms).
    for (let i = 0; i < 3; i++) expect((await get(ADMIN)).statusCode).toBe(200);
    const refused = await get(ADMIN);
    expect(refused.statusCode, refused.body).toBe(429);
    expect(refused.json().code).toBe('GATEWAY_RATE_LIMITED');
    expect(refused.headers['retry-after']).toBe('1');
    // Another credential has a bucket of its own; a denial (401) takes nothing from anyone.
    expect((await get(READER)).statusCode).toBe(200);
    expect((await get('not-a-key-0123456789')).statusCode).toBe(401);
    // Half a second later one more request goes through, the next does not.
    clock.advance(500);
    expect((await get(ADMIN)).statusCode).toBe(200);
    expect((await get(ADMIN)).statusCode).toBe(429);
    // Public routes are not limited.
    for (let i = 0; i < 5; i++)
      expect((await limited.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    await expect(
      gateway({
        system: client,
        auth: { apiKeys: [{ key: ADMIN, scopes: ['admin'] }] },
        rateLimit: { perSecond: 0 },
      }),
    ).rejects.toMatchObject({ code: 'INVALID_OPTIONS', field: 'rateLimit.perSecond' });
    await expect(
      gateway({
        system: client,
        auth: { apiKeys: [{ key: ADMIN, scopes: ['admin'] }] },
        rateLimit: { perSecond: 5, burst: 0.5 },
      }),
    ).rejects.toMatchObject({ code: 'INVALID_OPTIONS', field: 'rateLimit.burst' });
  });

  it('answers 403 to a credential without the scope, audited with the scope and subject', async () => {
    const before = (await audits()).length;
    const ask = await gw.inject({
      method: 'POST',
      url: '/actors/ask',
      headers: { 'x-api-key': READER },
      payload: { to: 'fleet/echo', message: { type: 'echo', text: 'x' } },
    });
    expect(ask.statusCode, ask.body).toBe(403);
    expect(ask.json().code).toBe('GATEWAY_FORBIDDEN');
    // The runner may run fleet/* agents, not $v/ ones, and publish on orders only.
    const run = await gw.inject({
      method: 'POST',
      url: `${agentUrl('$v/desk/d1')}/run`,
      headers: { 'x-api-key': RUNNER },
      payload: { input: 'hi' },
    });
    expect(run.statusCode, run.body).toBe(403);
    const hook = await gw.inject({
      method: 'POST',
      url: '/webhooks/refunds',
      headers: { 'x-api-key': RUNNER },
      payload: {},
    });
    expect(hook.statusCode, hook.body).toBe(403);
    const records = (await audits()).slice(before);
    expect(records.map((r) => r.scope)).toEqual(['actors:ask', 'agents:run:$v/desk/d1', 'webhooks:refunds']);
    for (const r of records) {
      expect(r).toMatchObject({
        status: 403,
        code: 'GATEWAY_FORBIDDEN',
        subject: expect.stringMatching(/^key:/),
      });
      expect(JSON.stringify(r)).not.toContain('key-0123456789');
    }
  });

  it('accepts a JWT with its scopes (space-separated scope claim)', async () => {
    const jwt = await token({ scope: 'agents:read graphs:run' });
    const res = await gw.inject({
      method: 'GET',
      url: agentUrl('fleet/desk'),
      headers: { authorization: `Bearer ${jwt}` },
    });
    expect(res.statusCode, res.body).toBe(200);
    const denied = await gw.inject({
      method: 'POST',
      url: `${agentUrl('fleet/desk')}/pause`,
      headers: { authorization: `Bearer ${jwt}` },
    });
    expect(denied.statusCode, denied.body).toBe(403);
    expect((await audits()).at(-1)).toMatchObject({ subject: 'jwt:alice', scope: 'agents:write' });
  });

  it('reads keys from the environment and refuses bad auth options', async () => {
    expect(
      authFromEnv({ TROUPE_GATEWAY_API_KEYS: 'k1-0123456789:agents:read,actors:ask;k2-0123456789:admin' }),
    ).toEqual({
      apiKeys: [
        { key: 'k1-0123456789', scopes: ['agents:read', 'actors:ask'] },
        { key: 'k2-0123456789', scopes: ['admin'] },
      ],
    });
    expect(() => parseApiKeys('justakey')).toThrowError(expect.objectContaining({ code: 'INVALID_OPTIONS' }));
    await expect(gateway({ system: client, auth: {} })).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
    await expect(
      gateway({ system: client, auth: { apiKeys: [{ key: 'short', scopes: [] }] } }),
    ).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
  });

  it('keeps using memoryAppendLog when given one', async () => {
    const audit = memoryAppendLog();
    const g = await gateway({
      system: client,
      audit,
      auth: { apiKeys: [{ key: ADMIN, scopes: ['admin'] }] },
    });
    try {
      expect((await g.inject({ method: 'GET', url: '/nodes' })).statusCode).toBe(401);
      expect(await audit.read(AUDIT_KEY)).toHaveLength(1);
    } finally {
      await g.close();
    }
    await audit.close();
  });
});
