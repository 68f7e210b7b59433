// The built-in load targets against real servers on loopback: a node:http server, nats-server with responders,
// the offline model server and an in-process actor. What each request records (latency, bytes, error kinds,
// ttft and tokens), what it returns or rejects with, and that the run's stop aborts in-flight requests unrecorded.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LoadErrorCode } from '../../load/errors.js';
import type { Recorder } from '../../load/metrics/recorder.js';
import {
  actor,
  http,
  llm,
  natsTarget,
  type OpenedTarget,
  type TargetFactory,
} from '../../load/targets/index.js';
import { type ActorSystem, createSystem, defineActor, type Reply } from '../../runtime/index.js';
import {
  ensureServerBinaries,
  freePort,
  type LlmServer,
  type ServerProcess,
  startLlmServer,
  startNats,
} from '../../testing/index.js';
import { RawNatsErrorCode, rawNatsClient } from '../../transport/index.js';

/** A recorder that keeps everything it is given, for the assertions. */
class TestRecorder implements Recorder {
  readonly latencies: Array<[string, number]> = [];
  readonly values: Array<[string, number]> = [];
  readonly counters = new Map<string, number>();
  readonly requests: Array<{
    target: string;
    ms: number;
    error?: string;
    bytesIn?: number;
    bytesOut?: number;
  }> = [];

  latency(metric: string, ms: number): void {
    this.latencies.push([metric, ms]);
  }
  value(metric: string, value: number): void {
    this.values.push([metric, value]);
  }
  count(counter: string, n = 1): void {
    this.counters.set(counter, (this.counters.get(counter) ?? 0) + n);
  }
  request(
    target: string,
    ms: number,
    outcome: { error?: string; bytesIn?: number; bytesOut?: number },
  ): void {
    this.requests.push({ target, ms, ...outcome });
  }
  latencyOf(metric: string): number[] {
    return this.latencies.filter(([m]) => m === metric).map(([, v]) => v);
  }
}

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Opened<T> {
  client: T;
  recorder: TestRecorder;
  stop: AbortController;
  target: OpenedTarget<T>;
}

async function open<T>(
  factory: TargetFactory<T>,
  options: { system?: ActorSystem; name?: string } = {},
): Promise<Opened<T>> {
  const recorder = new TestRecorder();
  const stop = new AbortController();
  const target = await factory.open({
    name: options.name ?? 'api',
    recorder,
    signal: stop.signal,
    system: options.system ?? ({} as ActorSystem),
    allowHosts: [],
  });
  cleanups.push(() => target.close());
  return { client: target.client, recorder, stop, target };
}

async function rejection(promise: Promise<unknown>): Promise<{ code?: string; data?: { kind?: string } }> {
  try {
    await promise;
  } catch (err) {
    return err as { code?: string; data?: { kind?: string } };
  }
  throw new Error('expected a rejection');
}

describe('http target', () => {
  let server: Server;
  let base: string;
  const seen: Array<{ method: string; url: string; body: string; contentType?: string }> = [];

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body = '';
    for await (const chunk of req) body += chunk;
    seen.push({
      method: req.method ?? '',
      url: req.url ?? '',
      body,
      ...(req.headers['content-type'] === undefined ? {} : { contentType: req.headers['content-type'] }),
    });
    const path = (req.url ?? '').replace(/^\/api/, '');
    if (path === '/ok') res.end('hello');
    else if (path === '/utf8')
      res.end('héllo'); // 6 bytes
    else if (path === '/echo') res.end(body);
    else if (path === '/fail') {
      res.statusCode = 500;
      res.end('boom');
    } else if (path === '/slow') setTimeout(() => res.end('late'), 3000).unref();
    else if (path === '/cut') req.socket.destroy();
    else {
      res.statusCode = 404;
      res.end('nope');
    }
  }

  beforeAll(async () => {
    server = createServer((req, res) => {
      handle(req, res).catch(() => res.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    };
  });

  it('returns the response and records its latency and bytes under the target', async () => {
    seen.length = 0;
    const { client, recorder } = await open(http(base, { headers: { 'x-load': '1' } }));
    const r = await client.get('/ok');
    expect(r).toMatchObject({ status: 200, body: 'hello', bytes: 5 });
    expect(r.headers['content-length']).toBe('5');
    const u = await client.get('/utf8');
    expect(u.body).toBe('héllo');
    expect(u.bytes).toBe(6);
    expect(recorder.requests).toHaveLength(2);
    expect(recorder.requests[0]).toMatchObject({ target: 'api', bytesIn: 5, bytesOut: 0 });
    expect(recorder.requests[0]?.error).toBeUndefined();
    expect(recorder.requests[0]?.ms).toBeGreaterThan(0);
    expect(seen.map((s) => s.url)).toEqual(['/ok', '/utf8']);
  });

  it('sends JSON and text bodies, counting bytes out, under the base path', async () => {
    seen.length = 0;
    const { client, recorder } = await open(http(`${base}/api/`));
    const r = await client.post('/echo', { a: 1 });
    expect(r.body).toBe('{"a":1}');
    await client.request({
      method: 'PUT',
      path: '/echo',
      body: 'abc',
      headers: { 'content-type': 'text/plain' },
    });
    expect(seen).toEqual([
      { method: 'POST', url: '/api/echo', body: '{"a":1}', contentType: 'application/json' },
      { method: 'PUT', url: '/api/echo', body: 'abc', contentType: 'text/plain' },
    ]);
    expect(recorder.requests.map((q) => q.bytesOut)).toEqual([7, 3]);
  });

  it('records 4xx and 5xx as errors and still returns them', async () => {
    const { client, recorder } = await open(http(base));
    expect((await client.get('/fail')).status).toBe(500);
    expect((await client.get('/missing')).body).toBe('nope');
    expect(recorder.requests.map((q) => q.error)).toEqual(['http_5xx', 'http_4xx']);
  });

  it('reads and drops the body with discardBody, counting its bytes', async () => {
    const { client, recorder } = await open(http(base));
    const r = await client.get('/ok', { discardBody: true });
    expect(r).toMatchObject({ status: 200, body: '', bytes: 5 });
    expect(recorder.requests[0]?.bytesIn).toBe(5);
    // The connection is reused afterwards: the body was read to its end.
    expect((await client.get('/ok')).body).toBe('hello');
  });

  it('rejects a timeout with LOAD_TIMEOUT and records it', async () => {
    const { client, recorder } = await open(http(base, { timeoutMs: 100 }));
    const err = await rejection(client.get('/slow'));
    expect(err.code).toBe(LoadErrorCode.Timeout);
    expect(err.data?.kind).toBe('timeout');
    expect(recorder.requests.map((q) => q.error)).toEqual(['timeout']);
    // A request's own timeout wins over the target's.
    const own = await rejection(client.get('/slow', { timeoutMs: 50 }));
    expect(own.code).toBe(LoadErrorCode.Timeout);
  });

  it("from 2 s on, leaves the timeout to undici's own timers, recorded the same", async () => {
    const { client, recorder } = await open(http(base, { timeoutMs: 2000 }));
    const err = await rejection(client.get('/slow'));
    expect(err).toMatchObject({ code: LoadErrorCode.Timeout, data: { kind: 'timeout' } });
    expect((err as { cause?: { code?: string } }).cause?.code).toBe('UND_ERR_HEADERS_TIMEOUT');
    expect(recorder.requests.map((q) => q.error)).toEqual(['timeout']);
  });

  it('records a refused connection as connect and a dropped one as reset', async () => {
    const refused = await open(http(`http://127.0.0.1:${await freePort()}`));
    const err = await rejection(refused.client.get('/ok'));
    expect(err.code).toBe(LoadErrorCode.TargetFailed);
    expect(refused.recorder.requests.map((q) => q.error)).toEqual(['connect']);

    const { client, recorder } = await open(http(base));
    const cut = await rejection(client.get('/cut'));
    expect(cut.code).toBe(LoadErrorCode.TargetFailed);
    expect(recorder.requests.map((q) => q.error)).toEqual(['reset']);
  });

  it('aborts in-flight requests when the run stops, unrecorded, and refuses new ones', async () => {
    const { client, recorder, stop } = await open(http(base));
    const pending = Promise.all([client.get('/slow'), client.get('/slow')]);
    setTimeout(() => stop.abort(), 100);
    const err = await rejection(pending);
    expect(err.code).toBe(LoadErrorCode.Stopped);
    expect(recorder.requests).toEqual([]);
    expect((await rejection(client.get('/ok'))).code).toBe(LoadErrorCode.Stopped);
  });

  it('aborts a request with its own signal, unrecorded', async () => {
    const { client, recorder } = await open(http(base));
    const own = new AbortController();
    const pending = client.get('/slow', { signal: own.signal });
    setTimeout(() => own.abort(), 50);
    expect((await rejection(pending)).code).toBe(LoadErrorCode.Stopped);
    expect(recorder.requests).toEqual([]);
    expect((await client.get('/ok')).status).toBe(200);
  });

  it('rejects a request whose record throws (a faulty metrics hook) instead of leaving it pending', async () => {
    const { client, recorder } = await open(http(base));
    const boom = new Error('hook failed');
    recorder.request = () => {
      throw boom;
    };
    await expect(client.get('/ok')).rejects.toBe(boom);
    await expect(client.get('/fail')).rejects.toBe(boom);
    recorder.request = TestRecorder.prototype.request;
    expect((await client.get('/ok')).status).toBe(200);
    expect(recorder.requests).toHaveLength(1);
  });

  it('keeps as many requests in flight as connections × pipelining', async () => {
    let open_ = 0;
    let most = 0;
    const slow = createServer((_req, res) => {
      open_++;
      most = Math.max(most, open_);
      setTimeout(() => {
        open_--;
        res.end('x');
      }, 30);
    });
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => {
      slow.closeAllConnections();
      return new Promise((resolve) => slow.close(resolve));
    });
    const { client } = await open(
      http(`http://127.0.0.1:${(slow.address() as AddressInfo).port}`, { connections: 3 }),
    );
    await Promise.all(Array.from({ length: 12 }, () => client.get('/')));
    expect(most).toBe(3);
  });

  it('queues requests beyond the pool in order, pipelines, and fails the queued ones at the stop', async () => {
    const order: string[] = [];
    let open_ = 0;
    let most = 0;
    const slow = createServer((req, res) => {
      order.push(req.url ?? '');
      open_++;
      most = Math.max(most, open_);
      setTimeout(() => {
        open_--;
        res.end('x');
      }, 20);
    });
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => {
      slow.closeAllConnections();
      return new Promise((resolve) => slow.close(resolve));
    });
    const url = `http://127.0.0.1:${(slow.address() as AddressInfo).port}`;
    const piped = await open(http(url, { connections: 2, pipelining: 2 }));
    const all = await Promise.all(Array.from({ length: 10 }, (_, i) => piped.client.get(`/${i}`)));
    expect(all.every((r) => r.status === 200)).toBe(true);
    expect(most).toBe(4);
    expect([...order].sort()).toEqual(Array.from({ length: 10 }, (_, i) => `/${i}`));
    expect(piped.recorder.requests).toHaveLength(10);

    // One connection: the queue is the order the server sees.
    order.length = 0;
    const serial = await open(http(url, { connections: 1 }));
    await Promise.all(Array.from({ length: 5 }, (_, i) => serial.client.get(`/${i}`)));
    expect(order).toEqual(['/0', '/1', '/2', '/3', '/4']);

    // Closing lets the queued requests finish on their connection, then refuses new ones.
    const closing = await open(http(url, { connections: 1 }));
    const queued = Array.from({ length: 3 }, (_, i) => closing.client.get(`/c${i}`));
    const closed = closing.target.close();
    expect((await Promise.all(queued)).map((r) => r.status)).toEqual([200, 200, 200]);
    await closed;
    expect((await rejection(closing.client.get('/late'))).code).toBe(LoadErrorCode.TargetFailed);

    const { client, recorder, stop } = await open(http(url, { connections: 1 }));
    const pending = Array.from({ length: 3 }, () => rejection(client.get('/')));
    setTimeout(() => stop.abort(), 5);
    for (const err of await Promise.all(pending)) expect(err.code).toBe(LoadErrorCode.Stopped);
    expect(recorder.requests).toEqual([]);
  });
});

describe('nats target', () => {
  let nats: ServerProcess;
  let responder: NatsConnection;

  beforeAll(async () => {
    ensureServerBinaries(['nats-server']);
    nats = await startNats({ jetstream: false });
    responder = await connect({ servers: nats.url });
    responder.subscribe('echo', { callback: (_err, msg) => void msg.respond(msg.data) });
    responder.subscribe('slow', {
      callback: (_err, msg) => void setTimeout(() => msg.respond('late'), 2000).unref(),
    });
    await responder.flush();
    return async () => {
      await responder.close();
      await nats.stop();
    };
  });

  it('requests and records latency and bytes; replies read as text or JSON', async () => {
    const { client, recorder } = await open(natsTarget(nats.url), { name: 'svc' });
    const r = await client.request('echo', { sku: 'a1' });
    expect(r.json()).toEqual({ sku: 'a1' });
    expect((await client.request('echo', 'hi')).text()).toBe('hi');
    expect(recorder.requests).toEqual([
      expect.objectContaining({ target: 'svc', bytesIn: 12, bytesOut: 12 }),
      expect.objectContaining({ target: 'svc', bytesIn: 2, bytesOut: 2 }),
    ]);
    expect(recorder.requests.every((q) => q.error === undefined)).toBe(true);
  });

  it('records no responders and timeouts by kind', async () => {
    const { client, recorder } = await open(natsTarget(nats.url, { timeoutMs: 100 }));
    const none = await rejection(client.request('nobody.here', 'x'));
    expect(none).toMatchObject({ code: LoadErrorCode.TargetFailed, data: { kind: 'no_responders' } });
    const late = await rejection(client.request('slow', 'x'));
    expect(late).toMatchObject({ code: LoadErrorCode.Timeout, data: { kind: 'timeout' } });
    expect(recorder.requests.map((q) => q.error)).toEqual(['no_responders', 'timeout']);
  });

  it('publishes, counting requests and bytes out', async () => {
    const got: string[] = [];
    const sub = responder.subscribe('events', { callback: (_e, msg) => void got.push(msg.string()) });
    cleanups.push(() => sub.unsubscribe());
    await responder.flush();
    const { client, recorder } = await open(natsTarget(nats.url));
    client.publish('events', 'a');
    client.publish('events', 'bcd');
    await client.flush();
    await expect.poll(() => got).toEqual(['a', 'bcd']);
    expect(recorder.counters.get('requests')).toBe(2);
    expect(recorder.counters.get('bytes_out')).toBe(4);
  });

  it('aborts in-flight requests when the run stops, unrecorded', async () => {
    const { client, recorder, stop } = await open(natsTarget(nats.url, { timeoutMs: 5000 }));
    const pending = client.request('slow', 'x');
    setTimeout(() => stop.abort(), 50);
    expect((await rejection(pending)).code).toBe(LoadErrorCode.Stopped);
    expect(recorder.requests).toEqual([]);
  });

  it('raw client: codes connect failures, aborts and use after close', async () => {
    const refused = await rejection(rawNatsClient({ servers: `nats://127.0.0.1:${await freePort()}` }));
    expect(refused.code).toBe(RawNatsErrorCode.Connect);
    const raw = await rawNatsClient({ servers: nats.url });
    const own = new AbortController();
    const pending = raw.request('slow', 'x', { signal: own.signal, timeoutMs: 5000 });
    own.abort();
    expect((await rejection(pending)).code).toBe(RawNatsErrorCode.Aborted);
    expect(new TextDecoder().decode((await raw.request('echo', 'ok')).data)).toBe('ok');
    await raw.close();
    await raw.close();
    expect((await rejection(raw.request('echo', 'x'))).code).toBe(RawNatsErrorCode.Closed);
  });

  it('connects with credentials as the transport takes them', async () => {
    await using secured = await startNats({ jetstream: false, user: 'load', pass: 's3cret' });
    const wrong = await rejection(
      natsTarget(secured.url, { auth: { user: 'load', pass: 'no' } }).open({
        name: 'x',
        recorder: new TestRecorder(),
        signal: new AbortController().signal,
        system: {} as ActorSystem,
        allowHosts: [],
      }),
    );
    expect(wrong.code).toBe(RawNatsErrorCode.Connect);
    const responderSecured = await connect({ servers: secured.url, user: 'load', pass: 's3cret' });
    cleanups.push(() => responderSecured.close());
    responderSecured.subscribe('echo', { callback: (_err, msg) => void msg.respond(msg.data) });
    await responderSecured.flush();
    const { client } = await open(natsTarget(secured.url, { auth: { user: 'load', pass: 's3cret' } }));
    expect((await client.request('echo', 'in')).text()).toBe('in');
  });
});

describe('llm target', () => {
  let server: LlmServer;

  beforeAll(async () => {
    server = await startLlmServer({ latencyMs: 40, chunkDelayMs: 15 });
    return () => server.close();
  });
  afterEach(() => server.reset());

  it('streams a chat and records ttft below the whole latency, tokens/s, tokens and cost', async () => {
    server.script('m', { text: 'one two three four five six', usage: { inputTokens: 10, outputTokens: 6 } });
    const { client, recorder } = await open(
      llm({ baseURL: server.url, model: 'm', pricing: { inputPerMTok: 2, outputPerMTok: 10 } }),
      { name: 'model' },
    );
    const result = await client.chat('hello', { maxTokens: 16 });
    expect(result.text).toBe('one two three four five six');
    expect(result.usage).toEqual({ inputTokens: 10, outputTokens: 6 });
    expect(recorder.requests).toHaveLength(1);
    expect(recorder.requests[0]).toMatchObject({ target: 'model' });
    expect(recorder.requests[0]?.error).toBeUndefined();
    const [ttft] = recorder.latencyOf('ttft');
    expect(ttft).toBeGreaterThan(0);
    // The server pauses 15 ms between chunks: the first piece comes several pauses before the end.
    expect(ttft).toBeLessThan((recorder.requests[0]?.ms ?? 0) - 15);
    expect(result.ttftMs).toBe(ttft);
    expect(recorder.values.map(([m]) => m)).toEqual(['tokens_per_s']);
    expect(recorder.values[0]?.[1]).toBeGreaterThan(0);
    expect(recorder.counters.get('tokens_in')).toBe(10);
    expect(recorder.counters.get('tokens_out')).toBe(6);
    expect(recorder.counters.get('cost_micro_usd')).toBe(10 * 2 + 6 * 10);
    expect(server.requests.at(-1)?.body).toMatchObject({ stream: true, max_tokens: 16 });
  });

  it('records a server error under the model error code and a stalled stream as a timeout', async () => {
    const { client, recorder } = await open(llm({ baseURL: server.url, model: 'm', timeoutMs: 200 }));
    server.fault('m', 'server-error', { times: 1 });
    const failed = await rejection(client.chat('x'));
    expect(failed).toMatchObject({ code: LoadErrorCode.TargetFailed, data: { kind: 'model_server_error' } });
    server.fault('m', 'hang', { times: 1 });
    const hung = await rejection(client.chat('x'));
    expect(hung).toMatchObject({ code: LoadErrorCode.Timeout, data: { kind: 'timeout' } });
    expect(recorder.requests.map((q) => q.error)).toEqual(['model_server_error', 'timeout']);
    expect(recorder.latencyOf('ttft')).toEqual([]);
  });

  it('aborts a call when the run stops, unrecorded', async () => {
    const { client, recorder, stop } = await open(llm({ baseURL: server.url, model: 'm' }));
    server.fault('m', 'hang', { times: 1 });
    const pending = client.chat('x');
    setTimeout(() => stop.abort(), 100);
    expect((await rejection(pending)).code).toBe(LoadErrorCode.Stopped);
    expect(recorder.requests).toEqual([]);
  });
});

describe('actor target', () => {
  type Api = { get: { n: number } & Reply<number>; boom: Reply<number>; slow: Reply<number> };
  const api = defineActor<Api, null>({
    init: () => null,
    handlers: {
      get: (msg) => msg.n * 2,
      boom: () => {
        throw new Error('broken');
      },
      slow: async (_msg, ctx) => {
        await new Promise((resolve) => setTimeout(resolve, 2000));
        return ctx.state === null ? 0 : 1;
      },
    },
  });

  async function system(): Promise<ActorSystem> {
    const s = await createSystem();
    cleanups.push(() => s.close());
    return s;
  }

  it('asks by address and records the latency; tells count as requests', async () => {
    const s = await system();
    const ref = s.spawn(api, { name: 'api' });
    const { client, recorder } = await open(actor(ref.address), { system: s, name: 'pricer' });
    expect(await client.ask({ type: 'get', n: 21 })).toBe(42);
    client.tell({ type: 'get', n: 1 });
    expect(client.ref.address).toBe(ref.address);
    expect(recorder.requests).toEqual([expect.objectContaining({ target: 'pricer' })]);
    expect(recorder.requests[0]?.error).toBeUndefined();
    expect(recorder.counters.get('requests')).toBe(1);
  });

  it("records the actor's failure by its code and a timeout as timeout", async () => {
    const s = await system();
    const slowRef = s.spawn(api, { name: 'slow' });
    const boomRef = s.spawn(api, { name: 'boom' });
    const slowTarget = await open(actor(slowRef.address, { timeoutMs: 100 }), { system: s });
    const slow = await rejection(slowTarget.client.ask({ type: 'slow' }));
    expect(slow).toMatchObject({ code: LoadErrorCode.Timeout, data: { kind: 'timeout' } });
    expect(slowTarget.recorder.requests.map((q) => q.error)).toEqual(['timeout']);
    // A top-level actor that throws crashes (and stops: nobody supervises it).
    const boomTarget = await open(actor(boomRef.address), { system: s });
    const boom = await rejection(boomTarget.client.ask({ type: 'boom' }));
    expect(boom).toMatchObject({ code: LoadErrorCode.TargetFailed, data: { kind: 'actor_crashed' } });
    expect(boomTarget.recorder.requests.map((q) => q.error)).toEqual(['actor_crashed']);
  });

  it('asks a virtual actor by type and id', async () => {
    const s = await system();
    s.register('pricer', api);
    const { client } = await open(actor({ type: 'pricer', id: 'eu' }), { system: s });
    expect(await client.ask({ type: 'get', n: 2 })).toBe(4);
  });

  it('aborts an ask when the run stops, unrecorded', async () => {
    const s = await system();
    const ref = s.spawn(api, { name: 'api' });
    const { client, recorder, stop } = await open(actor(ref.address), { system: s });
    const pending = client.ask({ type: 'slow' });
    setTimeout(() => stop.abort(), 50);
    expect((await rejection(pending)).code).toBe(LoadErrorCode.Stopped);
    expect(recorder.requests).toEqual([]);
  });
});
