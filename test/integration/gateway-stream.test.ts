// A streamed agent run resumed across gateway instances: two gateways on one nats-server share the stream log
// (JetStream); the client reads part of a run's tokens from A over real HTTP, drops the connection, and goes on
// from B with Last-Event-ID (and ?from): every token arrives exactly once, in order.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentKit } from '../../agents/index.js';
import { type Gateway, gateway, streamKey } from '../../gateway/index.js';
import { type ModelRouter, modelRouter } from '../../models/index.js';
import { type ActorSystem, type AppendLog, createSystem } from '../../runtime/index.js';
import { type LlmServer, type ServerProcess, startLlmServer, startNats } from '../../testing/index.js';
import { natsAppendLog, natsTransport } from '../../transport/index.js';
import { on } from '../helpers/models.js';

const KEY = 'stream-key-0123456789';
const ns = `gws${process.pid}`;
const WORDS = Array.from({ length: 40 }, (_, i) => `w${i}`);
const TEXT = WORDS.join(' ');

let nats: ServerProcess;
let server: LlmServer;
let router: ModelRouter;
let fleet: ActorSystem;
const nodes: { system: ActorSystem; log: AppendLog; gw: Gateway; url: string }[] = [];

async function instance(name: string) {
  const transport = natsTransport({ servers: nats.url, namespace: ns });
  const system = await createSystem({ nodeId: name, transport });
  const log = await natsAppendLog({ transport, name: 'gateway-streams', namespace: ns });
  const gw = await gateway({
    system,
    streams: log,
    streamPollMs: 50,
    auth: { apiKeys: [{ key: KEY, scopes: ['agents:run:fleet/*'] }] },
  });
  const url = await gw.listen(0);
  nodes.push({ system, log, gw, url });
  return nodes.at(-1) as (typeof nodes)[number];
}

beforeAll(async () => {
  nats = await startNats();
  server = await startLlmServer();
  router = modelRouter({ groups: { g: { deployments: [on(server, 'm')] } } });
  fleet = await createSystem({
    nodeId: 'fleet',
    transport: natsTransport({ servers: nats.url, namespace: ns }),
  });
  fleet.spawn(agentKit({ router }).defineAgent({ name: 'desk', model: 'g', instructions: 'Talk.' }), {
    name: 'desk',
  });
}, 60_000);

afterAll(async () => {
  for (const n of nodes) {
    await n.gw.close();
    await n.log.close();
    await n.system.close();
  }
  await fleet?.close();
  await router?.close();
  await server?.close();
  await nats?.stop();
});

interface SseEvent {
  id: number;
  event: string;
  data: { kind: string; text?: string; output?: unknown };
}

/** Reads SSE events from `url` until `stop(events)` holds or the stream ends; then drops the connection. */
async function readEvents(
  url: string,
  headers: Record<string, string>,
  stop: (events: SseEvent[]) => boolean,
  post?: unknown,
): Promise<{ events: SseEvent[]; ended: boolean; status: number; res: Response }> {
  const ac = new AbortController();
  const res = await fetch(url, {
    headers: { 'x-api-key': KEY, ...headers },
    signal: ac.signal,
    ...(post === undefined
      ? {}
      : { method: 'POST', body: JSON.stringify(post), headers: { 'x-api-key': KEY, ...headers } }),
  });
  const events: SseEvent[] = [];
  if (res.body === null || res.status !== 200) return { events, ended: true, status: res.status, res };
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return { events, ended: true, status: res.status, res };
      buffer += value;
      let cut = buffer.indexOf('\n\n');
      while (cut >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        cut = buffer.indexOf('\n\n');
        const fields = Object.fromEntries(
          block
            .split('\n')
            .filter((l) => !l.startsWith(':') && l.includes(': '))
            .map((l) => [l.slice(0, l.indexOf(': ')), l.slice(l.indexOf(': ') + 2)]),
        );
        if (fields.id === undefined || fields.data === undefined) continue;
        events.push({ id: Number(fields.id), event: fields.event ?? '', data: JSON.parse(fields.data) });
        if (stop(events)) return { events, ended: false, status: res.status, res };
      }
    }
  } finally {
    ac.abort();
    await reader.cancel().catch(() => {});
  }
}

const tokens = (events: SseEvent[]) =>
  events.filter((e) => e.data.kind === 'token').map((e) => e.data.text ?? '');

describe('gateway run streams', () => {
  it('resumes a run on another instance with Last-Event-ID: no token lost, none repeated', async () => {
    const a = await instance('gw-a');
    const b = await instance('gw-b');
    server.script('m', [{ text: TEXT, chunkDelayMs: 25 }]);
    const agent = encodeURIComponent('fleet/desk');
    const started = await fetch(`${a.url}/agents/${agent}/runs`, {
      method: 'POST',
      headers: { 'x-api-key': KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ input: 'talk', runId: 'run-1' }),
    });
    expect(started.status).toBe(202);
    const { events: path } = (await started.json()) as { events: string };

    // From A until a few tokens came, then the client goes away mid-stream.
    const first = await readEvents(`${a.url}${path}`, {}, (ev) => tokens(ev).length >= 5);
    expect(first.ended).toBe(false);
    const lastId = first.events.at(-1)?.id as number;
    // From B, after the last event seen.
    const second = await readEvents(`${b.url}${path}`, { 'last-event-id': String(lastId) }, () => false);
    expect(second.ended).toBe(true);
    expect(second.events[0]?.id).toBeGreaterThan(lastId);
    expect(second.events.at(-1)?.data).toMatchObject({ kind: 'finished', output: TEXT });
    // The run was still streaming when A's client left: B served stored and live events.
    expect(tokens(second.events).length).toBeGreaterThan(0);

    const all = [...first.events, ...second.events];
    const ids = all.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length); // none repeated
    expect([...ids].sort((x, y) => x - y)).toEqual(ids); // in order
    expect(tokens(all).join('')).toBe(TEXT); // none lost
    expect(all[0]?.data.kind).toBe('started');

    // ?from= does the same as Last-Event-ID, and the log holds what both served.
    const again = await readEvents(`${b.url}${path}?from=${lastId}`, {}, () => false);
    expect(again.events.map((e) => e.id)).toEqual(second.events.map((e) => e.id));
    const stored = await b.log.read(streamKey('fleet/desk', 'run-1'));
    expect(stored.map((r) => r.seq)).toEqual(ids);
  });

  it('streams a run in the POST itself with Accept: text/event-stream, resumable on another instance', async () => {
    const a = nodes[0] ?? (await instance('gw-a'));
    const b = nodes[1] ?? (await instance('gw-b'));
    server.script('m', [{ text: TEXT, chunkDelayMs: 25 }]);
    const agent = encodeURIComponent('fleet/desk');
    const first = await readEvents(
      `${a.url}/agents/${agent}/runs`,
      { accept: 'text/event-stream', 'content-type': 'application/json' },
      (ev) => tokens(ev).length >= 5,
      { input: 'talk', runId: 'run-post' },
    );
    expect(first.status).toBe(200);
    expect(first.ended).toBe(false);
    expect(first.res.headers.get('troupe-run-id')).toBe('run-post');
    const path = first.res.headers.get('content-location') as string;
    expect(path).toBe(`/agents/${agent}/runs/run-post/events`);
    expect(first.events[0]?.data.kind).toBe('started');
    // The client dropped the POST mid-run: the run goes on, and B serves the rest after the last id seen.
    const lastId = first.events.at(-1)?.id as number;
    const second = await readEvents(`${b.url}${path}`, { 'last-event-id': String(lastId) }, () => false);
    expect(second.events.at(-1)?.data).toMatchObject({ kind: 'finished', output: TEXT });
    const all = [...first.events, ...second.events];
    const ids = all.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(tokens(all).join('')).toBe(TEXT);
    // Without the Accept header the same route still answers 202 with the events URL.
    const started = await fetch(`${a.url}/agents/${agent}/runs`, {
      method: 'POST',
      headers: { 'x-api-key': KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ input: 'talk', runId: 'run-post-2' }),
    });
    expect(started.status).toBe(202);
    expect(await started.json()).toEqual({
      runId: 'run-post-2',
      events: `/agents/${agent}/runs/run-post-2/events`,
    });
    await readEvents(`${a.url}/agents/${agent}/runs/run-post-2/events`, {}, (ev) =>
      ev.some((e) => e.data.kind === 'finished'),
    );
  });

  it('keeps streaming through a NATS restart: the end arrives, no event twice, none out of order', async () => {
    const a = nodes[0] ?? (await instance('gw-a'));
    const b = nodes[1] ?? (await instance('gw-b'));
    const text = Array.from({ length: 60 }, (_, i) => `r${i}`).join(' ');
    server.script('m', [{ text, chunkDelayMs: 40 }]);
    const agent = encodeURIComponent('fleet/desk');
    const started = await fetch(`${a.url}/agents/${agent}/runs`, {
      method: 'POST',
      headers: { 'x-api-key': KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ input: 'talk', runId: 'run-restart' }),
    });
    expect(started.status).toBe(202);
    const { events: path } = (await started.json()) as { events: string };
    let restarted: Promise<void> | undefined;
    const read = await readEvents(`${b.url}${path}`, {}, (ev) => {
      if (restarted === undefined && tokens(ev).length >= 10) restarted = nats.restart(300);
      return false;
    });
    await restarted;
    expect(restarted).toBeDefined();
    expect(read.ended).toBe(true);
    expect(read.events.at(-1)?.data).toMatchObject({ kind: 'finished', output: text });
    const ids = read.events.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort((x, y) => x - y)).toEqual(ids);
    // Tokens the agent told while NATS was down are gone (tells are at most once), but what arrived is in
    // order, and the step and finished events carry the whole text.
    const words = text.split(' ');
    const got = tokens(read.events).join('').split(' ');
    expect(got.slice(0, 10)).toEqual(words.slice(0, 10));
    let at = 0;
    for (const w of got) {
      at = words.indexOf(w, at);
      expect(at, `token ${w} out of order`).toBeGreaterThanOrEqual(0);
      at++;
    }
    expect(read.events.find((e) => e.data.kind === 'step')?.data).toMatchObject({ text });
  }, 30_000);

  it('answers 401 to a stream without a credential, and 400 to a bad Last-Event-ID', async () => {
    const a = nodes[0] ?? (await instance('gw-a'));
    const url = `${a.url}/agents/${encodeURIComponent('fleet/desk')}/runs/run-1/events`;
    const anonymous = await fetch(url);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ code: 'GATEWAY_UNAUTHENTICATED' });
    const bad = await fetch(url, { headers: { 'x-api-key': KEY, 'last-event-id': 'abc' } });
    expect(bad.status).toBe(400);
  });
});
