// Metrics and health over real servers: two nodes on a nats-server report through the OpenTelemetry API into a
// Prometheus exporter, scraped over HTTP from the telemetry server; /readyz follows the NATS connection.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ActorRef,
  type ActorSystem,
  createSystem,
  defineActor,
  defineTask,
  ErrorCode,
  type Reply,
} from '../../runtime/index.js';
import { restartPolicy } from '../../supervisor/index.js';
import { bullmqTaskRunner } from '../../tasks-bullmq/index.js';
import { attachTaskRunner, nodeReadiness, otelMetrics } from '../../telemetry/index.js';
import {
  type PrometheusMetrics,
  prometheusMetrics,
  startTelemetryServer,
  type TelemetryServer,
} from '../../telemetry/sdk/index.js';
import { type ServerProcess, startNats, startRedis } from '../../testing/index.js';
import { natsTransport } from '../../transport/index.js';
import { until } from '../helpers/fixtures.js';

/** One series of a Prometheus text exposition: its name, labels and value. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseProm(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

/** The value of the one series named `name` whose labels include `labels` (undefined when none). */
function seriesValue(samples: Sample[], name: string, labels: Record<string, string>): number | undefined {
  const found = samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  if (found.length > 1) throw new Error(`${found.length} series match ${name} ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

async function get(url: string, init?: RequestInit): Promise<{ status: number; body: string }> {
  const res = await fetch(url, init);
  return { status: res.status, body: await res.text() };
}

type Counter = {
  add: { n: number };
  get: Reply<number>;
  crash: object;
  slow: Reply<string>;
};
type Relay = { go: { to: string; times: number } };

let nats: ServerProcess;
let prometheus: PrometheusMetrics;
let telemetry: TelemetryServer;
let a: ActorSystem | undefined;
let b: ActorSystem | undefined;

beforeAll(async () => {
  nats = await startNats();
  prometheus = prometheusMetrics({ serviceName: 'metrics-test' });
  telemetry = await startTelemetryServer({ port: 0, ready: () => nodeReadiness(a), metrics: prometheus });
}, 30_000);

afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
  await telemetry?.close();
  await prometheus?.shutdown();
  await nats?.stop();
});

describe('metrics and health endpoints', () => {
  it('serves /healthz, and /readyz 503 while starting, 404 and 405 elsewhere', async () => {
    expect(await get(`${telemetry.url}/healthz`)).toEqual({ status: 200, body: 'ok\n' });
    const starting = await get(`${telemetry.url}/readyz`);
    expect(starting.status).toBe(503);
    expect(JSON.parse(starting.body)).toEqual({ ready: false, checks: { system: 'starting' } });
    expect((await get(`${telemetry.url}/nope`)).status).toBe(404);
    expect((await get(`${telemetry.url}/metrics`, { method: 'POST', body: 'x' })).status).toBe(405);
  });

  it('counts messages, restarts, dead letters and asks per node and actor type, as Prometheus series', async () => {
    const metrics = otelMetrics({ meterProvider: prometheus.meterProvider, handleSampleEvery: 1 });
    a = await createSystem({ nodeId: 'ma', transport: natsTransport({ servers: nats.url }), metrics });
    b = await createSystem({ nodeId: 'mb', transport: natsTransport({ servers: nats.url }), metrics });
    let crashed = false;
    let added = 0;
    b.spawn(
      defineActor<Counter, undefined>({
        type: 'counter',
        handlers: {
          add: (m) => {
            added += m.n;
          },
          get: () => added,
          crash: () => {
            if (!crashed) {
              crashed = true;
              throw new Error('injected crash');
            }
          },
          slow: async () => {
            await new Promise((resolve) => setTimeout(resolve, 300));
            return 'late';
          },
        },
      }),
      { name: 'counter', supervision: { restart: restartPolicy({ maxRestarts: 10, withinMs: 1000 }) } },
    );
    a.spawn(
      defineActor<Relay, undefined>({
        type: 'relay',
        handlers: {
          go: (m, ctx) => {
            for (let i = 0; i < m.times; i++)
              (ctx.refFor(m.to) as ActorRef<Counter>).tell({ type: 'add', n: 1 });
          },
        },
      }),
      { name: 'relay' },
    );
    const counter = a.ref<Counter>('mb/counter');
    for (let i = 0; i < 20; i++) counter.tell({ type: 'add', n: 1 });
    a.ref<Relay>('ma/relay').tell({ type: 'go', to: 'mb/counter', times: 5 });
    counter.tell({ type: 'crash' });
    // Two dead letters on mb: a message type the counter has no handler for, and an address without an actor.
    a.ref<{ nope: object }>('mb/counter').tell({ type: 'nope' });
    a.ref<Counter>('mb/nobody').tell({ type: 'add', n: 1 });
    await until(() => added === 25, 5000, 'the adds');
    expect(await counter.ask({ type: 'get' })).toBe(25);
    await expect(counter.ask({ type: 'slow' }, { timeout: 50 })).rejects.toMatchObject({
      code: ErrorCode.AskTimeout,
    });
    await until(() => b!.deadLetters.count >= 2, 5000, 'the dead letters');
    // The slow handler finishes (its late reply is a dead letter on ma), so every count is final.
    await until(() => (a!.deadLetters.byReason()[ErrorCode.LateReply] ?? 0) >= 1, 5000, 'the late reply');

    const scrape = await get(`${telemetry.url}/metrics`);
    expect(scrape.status).toBe(200);
    const s = parseProm(scrape.body);
    const mb = { troupe_node_id: 'mb' };
    const ma = { troupe_node_id: 'ma' };
    const counterType = { ...mb, troupe_actor_type: 'counter' };
    // 25 adds, the crash twice (it failed once and was retried), one get, one slow.
    expect(seriesValue(s, 'troupe_actor_messages_in_total', counterType)).toBe(29);
    expect(seriesValue(s, 'troupe_actor_messages_in_total', { ...ma, troupe_actor_type: 'relay' })).toBe(1);
    expect(seriesValue(s, 'troupe_actor_messages_out_total', { ...ma, troupe_actor_type: 'relay' })).toBe(5);
    expect(seriesValue(s, 'troupe_actor_restarts_total', counterType)).toBe(1);
    expect(seriesValue(s, 'troupe_actor_failures_total', counterType)).toBe(1);
    expect(seriesValue(s, 'troupe_actor_active', counterType)).toBe(1);
    expect(seriesValue(s, 'troupe_actor_mailbox_depth', counterType)).toBe(0);
    // Every handled message was timed (handleSampleEvery: 1).
    expect(seriesValue(s, 'troupe_actor_handle_duration_count', counterType)).toBe(29);
    const slowest = seriesValue(s, 'troupe_actor_handle_duration_bucket', { ...counterType, le: '0.1' });
    expect(slowest).toBe(28);
    expect(seriesValue(s, 'troupe_dead_letters_total', { ...mb, error_type: ErrorCode.Unhandled })).toBe(1);
    expect(seriesValue(s, 'troupe_dead_letters_total', { ...mb, error_type: ErrorCode.ActorNotFound })).toBe(
      1,
    );
    expect(seriesValue(s, 'troupe_dead_letters_total', { ...ma, error_type: ErrorCode.LateReply })).toBe(1);
    expect(seriesValue(s, 'troupe_asks_total', { ...ma, troupe_ask_outcome: 'ok' })).toBe(1);
    expect(
      seriesValue(s, 'troupe_asks_total', {
        ...ma,
        troupe_ask_outcome: 'error',
        error_type: ErrorCode.AskTimeout,
      }),
    ).toBe(1);
    expect(seriesValue(s, 'troupe_asks_pending', ma)).toBe(0);
    expect(seriesValue(s, 'troupe_cluster_members', ma)).toBe(2);
    expect(seriesValue(s, 'troupe_transport_connected', ma)).toBe(1);
    // The exporter's own series and the resource are there too.
    expect(scrape.body).toContain('target_info{');
    expect(scrape.body).toContain('service_name="metrics-test"');
  });

  it('/readyz is 503 with reasons while the NATS server is down, and 200 again once it is back', async () => {
    const ready = async (): Promise<{ status: number; checks: Record<string, unknown> }> => {
      const { status, body } = await get(`${telemetry.url}/readyz`);
      return { status, checks: (JSON.parse(body) as { checks: Record<string, unknown> }).checks };
    };
    const poll = async (want: number): Promise<Record<string, unknown>> => {
      const deadline = Date.now() + 15_000;
      for (;;) {
        const r = await ready();
        if (r.status === want) return r.checks;
        if (Date.now() > deadline) throw new Error(`/readyz stayed ${r.status}: ${JSON.stringify(r.checks)}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    expect(await poll(200)).toEqual({ transport: true, shards: true, accepting: true });
    const restarted = nats.restart(2500);
    const down = await poll(503);
    expect(down.transport).toMatch(/connection down/);
    expect(down.accepting).toBe(true);
    await restarted;
    expect(await poll(200)).toEqual({ transport: true, shards: true, accepting: true });
    const s = parseProm((await get(`${telemetry.url}/metrics`)).body);
    expect(seriesValue(s, 'troupe_transport_disconnects_total', { troupe_node_id: 'ma' })).toBe(1);
    expect(seriesValue(s, 'troupe_transport_connected', { troupe_node_id: 'ma' })).toBe(1);
  }, 30_000);

  it('/readyz says draining once the node drains', async () => {
    const draining = a!.drain();
    const deadline = Date.now() + 5000;
    let verdict: { status: number; body: string } = { status: 0, body: '' };
    while (Date.now() < deadline) {
      verdict = await get(`${telemetry.url}/readyz`);
      if (verdict.status === 503) break;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(verdict.status).toBe(503);
    expect(JSON.parse(verdict.body).checks.accepting).toMatch(/draining|closed/);
    await draining;
  });
});

describe('handle durations', () => {
  it('times one sync message in handleSampleEvery, and every message of an actor type whose handlers are async', async () => {
    const provider = prometheusMetrics();
    const system = await createSystem({
      nodeId: 'md',
      metrics: otelMetrics({ meterProvider: provider.meterProvider, handleSampleEvery: 32 }),
    });
    try {
      let syncCount = 0;
      const quick = system.spawn(
        defineActor<{ hit: object }, undefined>({ type: 'quick', handlers: { hit: () => void syncCount++ } }),
      );
      for (let i = 0; i < 64; i++) quick.tell({ type: 'hit' });
      await until(() => syncCount === 64, 5000, 'the sync messages');
      let asyncCount = 0;
      const slow = system.spawn(
        defineActor<{ hit: object }, undefined>({
          type: 'slow',
          handlers: {
            hit: async () => {
              await Promise.resolve();
              // At least 2 ms after the call, whatever the timers' granularity.
              for (const end = performance.now() + 2; performance.now() < end; );
              asyncCount++;
            },
          },
        }),
      );
      for (let i = 0; i < 5; i++) slow.tell({ type: 'hit' });
      await until(() => asyncCount === 5, 5000, 'the async messages');
      // A virtual actor counts under its virtual type, not its definition's.
      let virtualCount = 0;
      system.register(
        'vcount',
        defineActor<{ hit: object }, undefined>({
          type: 'inner',
          handlers: { hit: () => void virtualCount++ },
        }),
      );
      for (let i = 0; i < 3; i++) system.virtual<{ hit: object }>('vcount', 'a').tell({ type: 'hit' });
      await until(() => virtualCount === 3, 5000, 'the virtual actor');
      await new Promise((resolve) => setTimeout(resolve, 10));
      const server = await startTelemetryServer({
        port: 0,
        ready: () => nodeReadiness(system),
        metrics: provider,
      });
      try {
        const s = parseProm((await get(`${server.url}/metrics`)).body);
        const of = (type: string) => ({ troupe_node_id: 'md', troupe_actor_type: type });
        expect(seriesValue(s, 'troupe_actor_messages_in_total', of('quick'))).toBe(64);
        expect(seriesValue(s, 'troupe_actor_messages_in_total', of('vcount'))).toBe(3);
        expect(seriesValue(s, 'troupe_actor_active', of('vcount'))).toBe(1);
        expect(seriesValue(s, 'troupe_actor_messages_in_total', of('inner'))).toBeUndefined();
        expect(seriesValue(s, 'troupe_actor_handle_duration_count', of('quick'))).toBe(2);
        expect(seriesValue(s, 'troupe_actor_handle_duration_count', of('slow'))).toBe(5);
        // The async handler's time runs to its promise settling: every one took 2 ms or more.
        expect(seriesValue(s, 'troupe_actor_handle_duration_bucket', { ...of('slow'), le: '0.001' })).toBe(0);
        expect((await get(`${server.url}/readyz`)).status).toBe(200);
      } finally {
        await server.close();
      }
    } finally {
      await system.close();
      await provider.shutdown();
    }
  });
});

describe('task metrics over BullMQ', () => {
  let redis: ServerProcess | undefined;
  afterAll(() => redis?.stop());

  it('counts runs (enqueued, completed) and worker attempts (completed, retried) by task', async () => {
    redis = await startRedis();
    let calls = 0;
    const flaky = defineTask<{ x: number }, number>(
      'flaky',
      (input) => {
        calls++;
        if (calls === 1) throw new Error('first attempt fails');
        return input.x * 2;
      },
      { attempts: 2, backoffMs: 10 },
    );
    const provider = prometheusMetrics();
    const runner = bullmqTaskRunner({ redis: redis.url, work: [flaky] });
    const metrics = otelMetrics({ meterProvider: provider.meterProvider });
    const system = await createSystem({ nodeId: 'mt', tasks: runner, metrics });
    // The same runner reported as a task-only worker node would be (no system).
    const detach = attachTaskRunner(metrics, runner, 'mt-worker');
    try {
      await runner.ready();
      expect(await runner.run(flaky, { x: 21 })).toBe(42);
      const server = await startTelemetryServer({
        port: 0,
        ready: () => nodeReadiness(system),
        metrics: provider,
      });
      try {
        const s = parseProm((await get(`${server.url}/metrics`)).body);
        for (const node of ['mt', 'mt-worker']) {
          const task = { troupe_node_id: node, troupe_task_name: 'flaky' };
          const runs = (state: string) =>
            seriesValue(s, 'troupe_task_runs_total', { ...task, troupe_task_state: state });
          const attempts = (state: string) =>
            seriesValue(s, 'troupe_task_attempts_total', { ...task, troupe_task_state: state });
          expect([runs('enqueued'), runs('completed'), runs('failed')]).toEqual([1, 1, 0]);
          expect([attempts('completed'), attempts('retried'), attempts('failed')]).toEqual([1, 1, 0]);
        }
        // Detached, the worker's figures are no longer read (the SDK keeps reporting their last values).
        detach();
        expect(await runner.run(flaky, { x: 1 })).toBe(2);
        const after = parseProm((await get(`${server.url}/metrics`)).body);
        const completed = (node: string) =>
          seriesValue(after, 'troupe_task_runs_total', {
            troupe_node_id: node,
            troupe_task_name: 'flaky',
            troupe_task_state: 'completed',
          });
        expect([completed('mt'), completed('mt-worker')]).toEqual([2, 1]);
        expect((await get(`${server.url}/readyz`)).status).toBe(200);
      } finally {
        await server.close();
      }
    } finally {
      await system.close();
      await runner.close();
      await provider.shutdown();
    }
  }, 30_000);
});
