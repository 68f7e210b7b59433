// Scenario `tracing-cost`: what tracing costs local and NATS tells, as ratios to the same tells untraced. Three
// settings: no `tracing` option (the baseline), `otelTracing()` with no tracer provider registered (should cost
// nothing measurable), and a real SDK (BasicTracerProvider, AlwaysOn sampler, BatchSpanProcessor into an
// InMemorySpanExporter, W3C propagator, AsyncLocalStorage context manager): the price of recording every message.

import { performance } from 'node:perf_hooks';
import { connect } from '@nats-io/transport-node';
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  AlwaysOnSampler,
  BasicTracerProvider,
  BatchSpanProcessor,
  InMemorySpanExporter,
} from '@opentelemetry/sdk-trace-base';
import { type ActorSystem, createSystem, defineActor, type Tracing } from '../../runtime/index.js';
import { otelTracing } from '../../telemetry/index.js';
import { natsTransport } from '../../transport/index.js';
import { wallNow, within } from '../load.js';
import { PAYLOAD_STRING } from '../payload.js';
import type { MetricSpec, RoleCommands, Scenario } from '../scenario.js';
import type { WorkerHandle } from '../worker-client.js';

/** How a process traces: not at all, through `otelTracing()` with no provider, or with a real SDK. */
type Mode = 'off' | 'noprovider' | 'sdk';

/** An SDK registered globally in this process; `uninstall` puts the API back to its no-op state. */
interface Sdk {
  readonly exporter: InMemorySpanExporter;
  uninstall(): Promise<void>;
}

function installSdk(): Sdk {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    sampler: new AlwaysOnSampler(),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  trace.setGlobalTracerProvider(provider);
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  return {
    exporter,
    async uninstall() {
      trace.disable();
      context.disable();
      propagation.disable();
      await provider.shutdown();
    },
  };
}

const tracingFor = (mode: Mode): Tracing | undefined => (mode === 'off' ? undefined : otelTracing());

/** Tells (`total`, tight loop, clock read every 4096) to one local actor with a counting handler; msg/s. */
async function localRound(
  system: ActorSystem,
  name: string,
  total: number,
  deadline: number,
): Promise<number> {
  let count = 0;
  let target = Number.POSITIVE_INFINITY;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  const ref = system.spawn(
    defineActor<{ inc: { n: number } }, undefined>({
      type: 'counter',
      handlers: {
        inc: () => {
          if (++count === target) done();
        },
      },
    }),
    { name },
  );
  const message = { type: 'inc', n: 1 } as const;
  const start = performance.now();
  let sent = 0;
  while (sent < total) {
    const end = Math.min(total, sent + 4096);
    for (; sent < end; sent++) ref.tell(message);
    if (wallNow() > deadline) break;
  }
  target = sent;
  if (count >= sent) done();
  await within(finished, 60_000, `tracing-cost local round ${name}`);
  const rate = (sent / (performance.now() - start)) * 1000;
  await system.stop(ref);
  return rate;
}

/**
 * Worker role: local tells in a process of their own per setting, so neither the JIT's feedback nor the garbage of
 * one setting weighs on another.
 */
async function localRole(init: unknown): Promise<RoleCommands> {
  const { mode } = init as { mode: Mode };
  const sdk = mode === 'sdk' ? installSdk() : undefined;
  const tracing = tracingFor(mode);
  const system = await createSystem({
    nodeId: `local-${mode}`,
    ...(tracing === undefined ? {} : { tracing }),
  });
  let round = 0;
  return {
    async run(args): Promise<number> {
      const { total, deadline } = args as { total: number; deadline: number };
      const rate = await localRound(system, `c${round++}`, total, deadline);
      sdk?.exporter.reset();
      return rate;
    },
    async close() {
      await system.close();
      await sdk?.uninstall();
    },
  };
}

/** Worker role: a node that receives (`recv-<mode>`) or sends (`send-<mode>`) tells, traced as `mode` says. */
async function tracedNodeRole(init: unknown): Promise<RoleCommands> {
  const { url, namespace, mode, side } = init as {
    url: string;
    namespace: string;
    mode: Mode;
    side: 'send' | 'recv';
  };
  const sdk = mode === 'sdk' ? installSdk() : undefined;
  const nc = await connect({ servers: url, name: `bench-${side}-${mode}` });
  const tracing = tracingFor(mode);
  const system = await createSystem({
    nodeId: `${side}-${mode}`,
    transport: natsTransport({ connection: nc, namespace }),
    ...(tracing === undefined ? {} : { tracing }),
  });
  let count = 0;
  let expected = Number.POSITIVE_INFINITY;
  let lastAt = 0;
  let waiter: (() => void) | undefined;
  if (side === 'recv') {
    system.spawn(
      defineActor<{ m: { body: string } }, undefined>({
        type: 'sink',
        handlers: {
          m: () => {
            if (++count === expected) {
              lastAt = wallNow();
              waiter?.();
            }
          },
        },
      }),
      { name: 'sink' },
    );
  }
  return {
    reset(args) {
      count = 0;
      lastAt = 0;
      expected = (args as { expected: number }).expected;
      sdk?.exporter.reset();
      return undefined;
    },
    async send(args): Promise<number> {
      const { total, deadline } = args as { total: number; deadline: number };
      const ref = system.ref<{ m: { body: string } }>(`recv-${mode}/sink`);
      const message = { type: 'm', body: PAYLOAD_STRING } as const;
      let i = 0;
      for (; i < total; i++) {
        ref.tell(message);
        if ((i & 1023) === 1023 && wallNow() > deadline) break;
        if ((i & 8191) === 8191) await nc.flush();
      }
      await nc.flush();
      sdk?.exporter.reset();
      return i;
    },
    async await(args): Promise<{ received: number; lastAt: number }> {
      const { expected: actual, timeoutMs } = args as { expected: number; timeoutMs: number };
      expected = actual;
      if (count < actual) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, timeoutMs);
          waiter = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        waiter = undefined;
      }
      return { received: count, lastAt: lastAt || wallNow() };
    },
    async close() {
      await system.close();
      await nc.close();
      await sdk?.uninstall();
    },
  };
}

/** One NATS round for a sender/receiver pair: messages received per second, first send to last receipt. */
async function natsRound(pair: Pair, total: number, deadline: number): Promise<number> {
  await pair.recv.call('reset', { expected: total });
  const t0 = wallNow();
  const sent = await pair.send.call<number>('send', { total, deadline });
  const { received, lastAt } = await pair.recv.call<{ received: number; lastAt: number }>('await', {
    expected: sent,
    timeoutMs: 30_000,
  });
  return (received / Math.max(lastAt - t0, 0.001)) * 1000;
}

interface Pair {
  send: WorkerHandle;
  recv: WorkerHandle;
}

const MODES: readonly Mode[] = ['off', 'noprovider', 'sdk'];

const metric = (id: string, label: string): MetricSpec => ({
  id,
  label,
  unit: 'msg/s',
  kind: 'throughput',
  better: 'higher',
});

/** `tracing-cost`: see the file comment. */
export const tracingCost: Scenario = {
  name: 'tracing-cost',
  description:
    'local and NATS tell throughput with otelTracing() and no provider, and with a real SDK (AlwaysOn, in-memory exporter), vs no tracing',
  needs: ['nats'],
  metrics: () => [
    metric('local-noprovider', 'local tell, otelTracing() without a provider (baseline: no tracing)'),
    metric('local-sdk', 'local tell, SDK recording every span (baseline: no tracing)'),
    metric('nats-noprovider', 'NATS tell 1 → 1, otelTracing() without a provider (baseline: no tracing)'),
    metric('nats-sdk', 'NATS tell 1 → 1, SDK recording every span (baseline: no tracing)'),
  ],
  roles: { node: tracedNodeRole, local: localRole },
  async open(ctx) {
    ctx.progress('starting a local, a sender and a receiver process per setting');
    const locals = {} as Record<Mode, WorkerHandle>;
    const pairs = {} as Record<Mode, Pair>;
    for (const mode of MODES) {
      locals[mode] = await ctx.fork('local', { mode });
      const init = (side: 'send' | 'recv') => ({ url: ctx.natsUrl, namespace: ctx.namespace, mode, side });
      const recv = await ctx.fork('node', init('recv'));
      const send = await ctx.fork('node', init('send'));
      pairs[mode] = { send, recv };
    }
    return {
      async round(budget) {
        const total = ctx.count(1_000_000, 3_000_000, budget);
        // Recording every span costs far more per message: fewer messages keep the round (and the heap) bounded.
        const traced = Math.max(1, Math.floor(total / 10));
        const local: Record<Mode, number> = { off: 0, noprovider: 0, sdk: 0 };
        for (const mode of MODES) {
          const n = mode === 'sdk' ? traced : total;
          ctx.progress(`local ${mode}: ${n} tells`);
          local[mode] = await locals[mode].call<number>('run', { total: n, deadline: budget.deadline() });
        }
        const natsTotal = ctx.count(100_000, 300_000, budget);
        const nats: Record<Mode, number> = { off: 0, noprovider: 0, sdk: 0 };
        for (const mode of MODES) {
          const n = mode === 'sdk' ? Math.max(1, Math.floor(natsTotal / 5)) : natsTotal;
          ctx.progress(`nats ${mode}: ${n} tells`);
          nats[mode] = await natsRound(pairs[mode], n, budget.deadline());
        }
        return {
          figures: {
            'local-noprovider': { troupe: local.noprovider, baseline: local.off },
            'local-sdk': { troupe: local.sdk, baseline: local.off },
            'nats-noprovider': { troupe: nats.noprovider, baseline: nats.off },
            'nats-sdk': { troupe: nats.sdk, baseline: nats.off },
          },
        };
      },
      async close() {
        await Promise.all(
          MODES.flatMap((m) => [locals[m].close(), pairs[m].send.close(), pairs[m].recv.close()]),
        );
      },
    };
  },
};
