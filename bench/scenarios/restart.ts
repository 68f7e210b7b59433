// Scenario `restart`: how fast a crashed actor is back at work (locally and over NATS), and what crashing every
// 1,000 messages costs a stream compared with an actor that never crashes.

import { performance } from 'node:perf_hooks';
import { type ActorSystem, createSystem, defineActor, type Reply } from '../../runtime/index.js';
import { defineSupervisor } from '../../supervisor/index.js';
import { natsTransport } from '../../transport/index.js';
import { Histogram } from '../histogram.js';
import { wallNow } from '../load.js';
import type { Figure, MetricSpec, Scenario } from '../scenario.js';

type Flaky = {
  /** Crashes on its first try; the restarted actor's retry answers how long recovery took (ns). */
  crash: { id: number } & Reply<number>;
  ok: { id: number } & Reply<number>;
  item: { n: number };
  done: Reply<number>;
};

/** An actor whose `crash` fails once per id, and whose stream items crash once on every `every`th. */
function flaky(every: number) {
  let crashedAt = 0n;
  let lastCrashed = -1;
  let handled = 0;
  return defineActor<Flaky, undefined>({
    type: 'flaky',
    handlers: {
      crash: (m) => {
        if (lastCrashed !== m.id) {
          lastCrashed = m.id;
          crashedAt = process.hrtime.bigint();
          throw new Error(`crash ${m.id}`);
        }
        return Number(process.hrtime.bigint() - crashedAt);
      },
      ok: (m) => m.id,
      item: (m) => {
        if (every > 0 && m.n % every === every - 1 && lastCrashed !== -m.n - 2) {
          lastCrashed = -m.n - 2;
          throw new Error(`crash at ${m.n}`);
        }
        handled++;
      },
      done: () => handled,
    },
  });
}

/** A supervisor that restarts its one child at once, without limit. */
function supervised(every: number) {
  return defineSupervisor({
    intensity: { maxRestarts: 1_000_000_000, withinMs: 1000 },
    children: [{ name: 'f', actor: flaky(every) }],
  });
}

const PCTS: ReadonlyArray<[string, number]> = [
  ['p50', 50],
  ['p99', 99],
];

/** Sequential crash-asks: the in-actor recovery time, and the asker's round trip against plain asks. */
async function recovery(
  system: ActorSystem,
  address: string,
  total: number,
  deadline: number,
): Promise<{ recovery: Histogram; rtt: Histogram; baseline: Histogram }> {
  const ref = system.ref<Flaky>(address);
  const out = { recovery: new Histogram(), rtt: new Histogram(), baseline: new Histogram() };
  for (let id = 0; id < total && wallNow() < deadline; id++) {
    let t = performance.now();
    out.recovery.record(await ref.ask({ type: 'crash', id }));
    out.rtt.record((performance.now() - t) * 1e6);
    t = performance.now();
    await ref.ask({ type: 'ok', id });
    out.baseline.record((performance.now() - t) * 1e6);
  }
  return out;
}

/**
 * Items told per window before waiting for the actor to catch up. A backlog of millions of messages is
 * promoted to the old generation, and the major collection that follows (~100 ms, half a stream) lands in
 * one stream or the other at random: the ratio swung from 0.6 to 1.4. Windows keep the backlog young.
 */
const WINDOW = 20_000;

/** Streams `total` items through a fresh supervised actor, in windows; returns items per second. */
async function stream(every: number, total: number, round: number): Promise<number> {
  const system = await createSystem({ nodeId: `r${round}${every}` });
  try {
    system.spawn(supervised(every), { name: 's' });
    const ref = system.ref<Flaky>(`${system.nodeId}/s/f`);
    const start = performance.now();
    for (let n = 0; n < total; ) {
      const end = Math.min(total, n + WINDOW);
      for (; n < end; n++) ref.tell({ type: 'item', n });
      if (n < total) await ref.ask({ type: 'done' }, { timeout: 600_000 });
    }
    const handled = await ref.ask({ type: 'done' }, { timeout: 600_000 });
    if (handled !== total) throw new Error(`restart bench: ${handled} of ${total} items handled`);
    return total / ((performance.now() - start) / 1000);
  } finally {
    await system.close();
  }
}

/** `restart`: see the file comment. */
export const restartScenario: Scenario = {
  name: 'restart',
  description:
    'crash-to-next-message recovery of a supervised actor (local, and asked over NATS vs a plain ask), and stream throughput with a crash every 1,000 messages vs none',
  needs: ['nats'],
  metrics: () => [
    ...PCTS.map(
      ([id]): MetricSpec => ({
        id: `local-${id}`,
        label: `local crash→next message ${id}`,
        unit: 'µs',
        kind: 'latency',
        better: 'lower',
      }),
    ),
    ...PCTS.map(
      ([id]): MetricSpec => ({
        id: `nats-${id}`,
        label: `NATS crash→next message ${id}`,
        unit: 'µs',
        kind: 'latency',
        better: 'lower',
      }),
    ),
    ...PCTS.map(
      ([id]): MetricSpec => ({
        id: `nats-rtt-${id}`,
        label: `NATS ask with restart vs plain ask ${id}`,
        unit: 'µs',
        kind: 'latency',
        better: 'lower',
      }),
    ),
    {
      id: 'throughput',
      label: 'stream, crash every 1,000 vs never',
      unit: 'msg/s',
      kind: 'throughput',
      better: 'higher',
      target: 0.9,
    },
  ],
  async open(ctx) {
    const local = await createSystem({ nodeId: 'restart-local' });
    local.spawn(supervised(0), { name: 's' });
    const host = await createSystem({
      nodeId: 'restart-host',
      transport: natsTransport({ servers: ctx.natsUrl!, namespace: ctx.namespace }),
    });
    host.spawn(supervised(0), { name: 's' });
    const client = await createSystem({
      nodeId: 'restart-client',
      transport: natsTransport({ servers: ctx.natsUrl!, namespace: ctx.namespace }),
    });
    let rounds = 0;
    return {
      async round(budget) {
        const figures: Record<string, Figure> = {};
        const asks = ctx.count(2_000, 10_000, budget);
        ctx.progress(`local: ${asks} crashes`);
        const l = await recovery(local, 'restart-local/s/f', asks, budget.deadline());
        ctx.progress(`NATS: ${asks} crashes asked from another node`);
        const n = await recovery(client, 'restart-host/s/f', asks, budget.deadline());
        for (const [id, p] of PCTS) {
          figures[`local-${id}`] = { troupe: l.recovery.percentile(p) / 1000 };
          figures[`nats-${id}`] = { troupe: n.recovery.percentile(p) / 1000 };
          figures[`nats-rtt-${id}`] = {
            troupe: n.rtt.percentile(p) / 1000,
            baseline: n.baseline.percentile(p) / 1000,
          };
        }
        const items = ctx.count(200_000, 2_000_000, budget);
        // Alternate which stream goes first: the second pays for the first one's garbage.
        const order = rounds % 2 === 0 ? [1000, 0] : [0, 1000];
        const rate: Record<number, number> = {};
        for (const every of order) {
          ctx.progress(`stream: ${items} items, ${every > 0 ? 'crashing every 1,000' : 'never crashing'}`);
          rate[every] = await stream(every, items, rounds);
        }
        const crashing = rate[1000]!;
        const steady = rate[0]!;
        rounds++;
        figures.throughput = { troupe: crashing, baseline: steady };
        return { figures, latency: { troupe: n.rtt, baseline: n.baseline } };
      },
      async close() {
        await Promise.allSettled([local.close(), client.close(), host.close()]);
      },
    };
  },
};
