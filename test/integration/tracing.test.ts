// Traces through a real SDK and a real nats-server: parent links of tells, asks (local and remote), async handlers
// that send after an await, error status, spawn and activation spans, and no headers at all without tracing.

import { randomBytes } from 'node:crypto';
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type ActorRef,
  type ActorSystem,
  createSystem,
  defineActor,
  defineTask,
  defineVirtual,
  type Reply,
  type Tracing,
  taskPool,
} from '../../runtime/index.js';
import { bullmqTaskRunner } from '../../tasks-bullmq/index.js';
import { otelTracing } from '../../telemetry/index.js';
import { type ServerProcess, startNats, startRedis } from '../../testing/index.js';
import { natsTransport } from '../../transport/index.js';
import { until } from '../helpers/fixtures.js';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const contextManager = new AsyncLocalStorageContextManager();

let nats: ServerProcess;
beforeAll(async () => {
  nats = await startNats({ jetstream: false });
  context.setGlobalContextManager(contextManager.enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
});
afterAll(async () => {
  trace.disable();
  context.disable();
  propagation.disable();
  await provider.shutdown();
  await nats.stop();
});

const systems: ActorSystem[] = [];
beforeEach(() => {
  trace.setGlobalTracerProvider(provider);
  exporter.reset();
});
afterEach(async () => {
  await Promise.all(systems.splice(0).map((s) => s.close()));
  trace.disable();
});

async function node(nodeId: string, options: { tracing?: Tracing; namespace?: string } = {}) {
  const system = await createSystem({
    nodeId,
    ...(options.tracing === undefined ? {} : { tracing: options.tracing }),
    ...(options.namespace === undefined
      ? {}
      : { transport: natsTransport({ servers: nats.url, namespace: options.namespace }) }),
  });
  systems.push(system);
  return system;
}

const spans = (): ReadableSpan[] => exporter.getFinishedSpans();
const named = (name: string): ReadableSpan[] => spans().filter((s) => s.name === name);
const one = (name: string): ReadableSpan => {
  const found = named(name);
  expect(found, `${name} among ${spans().map((s) => s.name)}`).toHaveLength(1);
  return found[0]!;
};
const isChild = (child: ReadableSpan, parent: ReadableSpan): void => {
  expect(child.spanContext().traceId).toBe(parent.spanContext().traceId);
  expect(child.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
};

type Sink = { note: { n: number } };
const sink = defineActor<Sink, number[]>({
  type: 'sink',
  init: () => [],
  handlers: {
    note: (m, ctx) => {
      ctx.state.push(m.n);
    },
  },
});

describe('tracing', () => {
  it('is enabled exactly while a tracer provider is registered, and checks its option', async () => {
    const tracing = otelTracing();
    expect(tracing.enabled()).toBe(true);
    trace.disable();
    expect(tracing.enabled()).toBe(false);
    trace.setGlobalTracerProvider(provider);
    expect(tracing.enabled()).toBe(true);
    expect(otelTracing({ tracerProvider: provider }).enabled()).toBe(true);
    await expect(createSystem({ tracing: {} as Tracing })).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
    expect(() => taskPool({ tracing: 'on' as unknown as Tracing })).toThrow(/tracing/);
    expect(() => bullmqTaskRunner({ tracing: 5 as unknown as Tracing })).toThrow(/tracing/);
  });

  it('links a tell made inside a user span to the handler that takes it (local)', async () => {
    const system = await node('t1', { tracing: otelTracing() });
    const seen: string[] = [];
    const ref = system.spawn(
      defineActor<Sink, undefined>({
        type: 'recorder',
        handlers: {
          note: (_m, ctx) => {
            seen.push(ctx.headers.traceparent ?? '');
          },
        },
      }),
      { name: 'rec' },
    );
    const root = trace.getTracer('test').startSpan('entry');
    context.with(trace.setSpan(context.active(), root), () => ref.tell({ type: 'note', n: 1 }));
    root.end();
    await until(() => named('process recorder').length === 1);
    const send = one('send recorder');
    const processed = one('process recorder');
    isChild(send, spans().find((s) => s.name === 'entry')!);
    isChild(processed, send);
    expect(send.kind).toBe(SpanKind.INTERNAL);
    expect(processed.kind).toBe(SpanKind.CONSUMER);
    expect(processed.attributes['messaging.system']).toBe('troupe');
    expect(processed.attributes['messaging.operation.type']).toBe('process');
    expect(processed.attributes['troupe.actor.type']).toBe('recorder');
    expect(processed.attributes['troupe.node.id']).toBe('t1');
    expect(seen[0]).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  });

  it('makes a remote ask a client span whose handler is its child on the other node', async () => {
    const namespace = `tr${randomBytes(3).toString('hex')}`;
    const tracing = otelTracing();
    const a = await node('a', { tracing, namespace });
    const b = await node('b', { tracing, namespace });
    b.spawn(
      defineActor<{ echo: { v: number } & Reply<number> }, undefined>({
        type: 'echo',
        handlers: { echo: (m) => m.v },
      }),
      { name: 'echo' },
    );
    exporter.reset();
    await expect(
      a.ref<{ echo: { v: number } & Reply<number> }>('b/echo').ask({ type: 'echo', v: 7 }),
    ).resolves.toBe(7);
    await until(() => named('process echo').length === 1);
    const ask = one('ask b/echo');
    const processed = one('process echo');
    isChild(processed, ask);
    expect(ask.kind).toBe(SpanKind.CLIENT);
    expect(ask.attributes['messaging.system']).toBe('nats');
    expect(ask.attributes['messaging.destination.name']).toBe('b/echo');
    expect(ask.attributes['troupe.node.id']).toBe('a');
    expect(processed.attributes['troupe.node.id']).toBe('b');
    expect(processed.attributes['messaging.message.conversation_id']).toEqual(expect.any(String));
    // The ask span lasts until the reply came back: it holds the whole handling (durations come from one clock).
    const ns = (d: [number, number]): number => d[0] * 1e9 + d[1];
    expect(ns(ask.duration)).toBeGreaterThan(ns(processed.duration));
  });

  it('keeps an async handler’s tells after an await in its trace, and its span open until it settles', async () => {
    const namespace = `tr${randomBytes(3).toString('hex')}`;
    const tracing = otelTracing();
    const a = await node('a', { tracing, namespace });
    const b = await node('b', { tracing, namespace });
    const target = b.spawn(sink, { name: 'sink' });
    const relay = a.spawn(
      defineActor<{ go: Reply<string> }, undefined>({
        type: 'relay',
        handlers: {
          go: async (_m, ctx) => {
            await new Promise((resolve) => setTimeout(resolve, 20));
            (ctx.refFor(target.address) as ActorRef<Sink>).tell({ type: 'note', n: 1 });
            await new Promise((resolve) => setTimeout(resolve, 20));
            return 'done';
          },
        },
      }),
      { name: 'relay' },
    );
    exporter.reset();
    await relay.ask({ type: 'go' });
    await until(() => named('process sink').length === 1);
    const ask = one('ask relay');
    const handled = one('process relay');
    const send = one(`send ${target.address}`);
    const received = one('process sink');
    isChild(handled, ask);
    isChild(send, handled);
    isChild(received, send);
    expect(send.kind).toBe(SpanKind.PRODUCER);
    expect(send.attributes['messaging.system']).toBe('nats');
    const ms = (t: [number, number]): number => t[0] * 1e3 + t[1] / 1e6;
    expect(ms(handled.endTime) - ms(handled.startTime)).toBeGreaterThanOrEqual(35);
  });

  it('marks a throwing handler’s span and the failed ask as errors, with the code', async () => {
    const system = await node('t2', { tracing: otelTracing() });
    const ref = system.spawn(
      defineActor<{ boom: Reply<number> }, undefined>({
        type: 'bomb',
        handlers: {
          boom: () => {
            throw new Error('kaboom');
          },
        },
      }),
      { name: 'bomb' },
    );
    const failure = await ref.ask({ type: 'boom' }).catch((err: { code: string }) => err);
    expect(failure).toMatchObject({ code: expect.any(String) });
    await until(() => named('ask bomb').length === 1);
    const handled = one('process bomb');
    const ask = one('ask bomb');
    isChild(handled, ask);
    expect(handled.status.code).toBe(SpanStatusCode.ERROR);
    expect(handled.status.message).toBe('kaboom');
    expect(handled.events.some((e) => e.name === 'exception')).toBe(true);
    expect(ask.status.code).toBe(SpanStatusCode.ERROR);
    expect(ask.attributes['troupe.error.code']).toBe((failure as { code: string }).code);
    expect(ask.attributes['error.type']).toBe((failure as { code: string }).code);
  });

  it('records a spawn (until init ran) and a virtual actor’s activation under the message that caused it', async () => {
    const system = await node('t3', { tracing: otelTracing() });
    const counter = defineVirtual(
      'counter',
      defineActor<{ get: Reply<number> }, number>({
        init: async () => {
          await new Promise((resolve) => setTimeout(resolve, 10));
          return 5;
        },
        handlers: { get: (_m, ctx) => ctx.state },
      }),
    );
    system.register(counter);
    const root = trace.getTracer('test').startSpan('entry');
    await context.with(trace.setSpan(context.active(), root), async () => {
      system.spawn(sink, { name: 's' });
      await expect(system.virtual<{ get: Reply<number> }>(counter, 'c1').ask({ type: 'get' })).resolves.toBe(
        5,
      );
    });
    root.end();
    const entry = one('entry');
    isChild(one('spawn sink'), entry);
    const ask = one('ask counter');
    const activation = one('activate counter');
    isChild(activation, ask);
    isChild(one('process counter'), ask);
    const ms = (t: [number, number]): number => t[0] * 1e3 + t[1] / 1e6;
    expect(ms(activation.endTime) - ms(activation.startTime)).toBeGreaterThanOrEqual(8);
  });

  it('records a durable send until JetStream stored it, and the acknowledgement under the handling', async () => {
    const js = await startNats({ jetstream: true });
    try {
      const namespace = `tr${randomBytes(3).toString('hex')}`;
      const system = await createSystem({
        nodeId: 'd1',
        tracing: otelTracing(),
        transport: natsTransport({ servers: js.url, namespace }),
      });
      systems.push(system);
      const ledger = defineVirtual('ledger', sink, { durable: true });
      system.register(ledger);
      exporter.reset();
      await system.virtual(ledger, 'l1').send({ type: 'note', n: 1 });
      const send = one('send ledger');
      expect(send.kind).toBe(SpanKind.PRODUCER);
      expect(send.attributes['messaging.system']).toBe('nats');
      await until(() => named('ack ledger').length === 1, 10_000);
      const handled = one('process ledger');
      isChild(handled, send);
      const ack = one('ack ledger');
      isChild(ack, handled);
      expect(ack.attributes['messaging.operation.type']).toBe('settle');
      await system.close();
    } finally {
      await js.stop();
    }
  });

  it('carries a task’s trace through the in-process pool, each attempt a child of the queuing', async () => {
    const tracing = otelTracing();
    const pool = taskPool({ tracing });
    try {
      const system = await node('t4', { tracing });
      const ref = system.spawn(sink, { name: 'sink' });
      const shout = defineTask<{ s: string }, string>('shout', (input) => {
        ref.tell({ type: 'note', n: 1 });
        return input.s.toUpperCase();
      });
      const flaky = defineTask<{ s: string }, string>(
        'flaky',
        (_input, ctx) => {
          if (ctx.attempt === 1) throw new Error('first attempt fails');
          return 'ok';
        },
        { attempts: 2, backoffMs: 1 },
      );
      exporter.reset();
      const root = trace.getTracer('test').startSpan('entry');
      await context.with(trace.setSpan(context.active(), root), async () => {
        await expect(pool.run(shout, { s: 'hi' })).resolves.toBe('HI');
        await expect(pool.run(flaky, { s: 'x' })).resolves.toBe('ok');
      });
      root.end();
      await until(() => named('process sink').length === 1);
      const enqueue = one('send shout');
      isChild(enqueue, one('entry'));
      const run = one('process shout');
      isChild(run, enqueue);
      expect(run.attributes['troupe.task.runner']).toBe('pool');
      // The task handler ran inside its span: its tell is a child.
      isChild(one('send sink'), run);
      const attempts = named('process flaky');
      expect(attempts.map((a) => a.attributes['troupe.task.attempt'])).toEqual([1, 2]);
      for (const attempt of attempts) isChild(attempt, one('send flaky'));
      expect(attempts.map((a) => a.status.code)).toEqual([SpanStatusCode.ERROR, SpanStatusCode.UNSET]);
    } finally {
      await pool.close();
    }
  });

  it('carries a task’s trace in the BullMQ job from an actor’s handler to the worker', async () => {
    const redis = await startRedis();
    const prefix = `tr${randomBytes(3).toString('hex')}`;
    const tracing = otelTracing();
    const triple = defineTask<{ n: number }, number>('triple', (input) => input.n * 3);
    const worker = bullmqTaskRunner({ redis: redis.url, prefix, work: [triple], tracing });
    const tasks = bullmqTaskRunner({ redis: redis.url, prefix, tracing });
    try {
      await Promise.all([worker.ready(), tasks.ready()]);
      const system = await createSystem({ nodeId: 't5', tracing, tasks });
      systems.push(system);
      const ref = system.spawn(
        defineActor<{ go: { n: number } & Reply<number> }, undefined>({
          type: 'caller',
          handlers: { go: (m, ctx) => ctx.runTask(triple, { n: m.n }) as Promise<number> },
        }),
        { name: 'caller' },
      );
      exporter.reset();
      await expect(ref.ask({ type: 'go', n: 5 })).resolves.toBe(15);
      const handled = one('process caller');
      const enqueue = one('send triple');
      isChild(enqueue, handled);
      expect(enqueue.kind).toBe(SpanKind.PRODUCER);
      expect(enqueue.attributes['messaging.system']).toBe('bullmq');
      await until(() => named('process triple').length === 1);
      const run = one('process triple');
      isChild(run, enqueue);
      expect(run.kind).toBe(SpanKind.CONSUMER);
      expect(run.attributes['messaging.message.id']).toBe(enqueue.attributes['messaging.message.id']);
    } finally {
      await tasks.close();
      await worker.close();
      await redis.stop();
    }
  });

  it('adds no header and no span without a tracing option, and none while no provider is registered', async () => {
    const namespace = `tr${randomBytes(3).toString('hex')}`;
    const plainA = await node('pa', { namespace });
    const plainB = await node('pb', { namespace });
    const headers: Record<string, string>[] = [];
    const probe = defineActor<{ see: Reply<boolean> }, undefined>({
      type: 'probe',
      handlers: {
        see: (_m, ctx) => {
          headers.push({ ...ctx.headers });
          return true;
        },
      },
    });
    plainB.spawn(probe, { name: 'probe' });
    const local = plainA.spawn(probe, { name: 'probe' });
    const root = trace.getTracer('test').startSpan('entry');
    await context.with(trace.setSpan(context.active(), root), async () => {
      await plainA.ref<{ see: Reply<boolean> }>('pb/probe').ask({ type: 'see' });
      await local.ask({ type: 'see' });
    });
    root.end();
    expect(headers).toEqual([{}, {}]);
    expect(spans().map((s) => s.name)).toEqual(['entry']);

    // Tracing configured, but no SDK: still nothing.
    trace.disable();
    exporter.reset();
    const traced = await node('tc', { tracing: otelTracing() });
    const ref = traced.spawn(probe, { name: 'probe' });
    await ref.ask({ type: 'see' });
    ref.tell({ type: 'see' });
    await until(() => headers.length === 4);
    expect(headers.slice(2)).toEqual([{}, {}]);
    expect(spans()).toEqual([]);
  });
});
