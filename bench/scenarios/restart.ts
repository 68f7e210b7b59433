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

/**
 * An actor whose `crash` fails once per id, and whose stream items crash on every `every`th (never with 0).
 * Both streams run the same test per item (one comparison), so the crashing one pays for its crashes only.
 */
function flaky(every: number) {
  let crashedAt = 0n;
  let lastCrashed = -1;
  // The item that crashes next; the crash moves it on first, so the retried item goes through.
  let nextCrash = every > 0 ? every - 1 : -1;
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
        if (m.n === nextCrash) {
          nextCrash += every;
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
 * promoted to the old generation, and the major collection that follows (~100 ms) lands in one stream or the
 * other at random. Small windows also keep each scavenge small: one copies the window's unhandled backlog,
 * and at 20,000 items a scavenge cost ~1 ms, enough to tip a comparison of two ~150 ms streams.
 */
const WINDOW = 2_000;

/** One stream's supervised actor, in a system of its own, fed a window at a time. */
interface Stream {
  /** Tells items `from` to `from + count - 1` and waits until they are handled; returns the ms it took. */
  feed(from: number, count: number): Promise<number>;
  handled(): Promise<number>;
  close(): Promise<void>;
}

async function openStream(every: number, round: number): Promise<Stream> {
  const system = await createSystem({ nodeId: `r${round}${every}` });
  system.spawn(supervised(every), { name: 's' });
  const ref = system.ref<Flaky>(`${system.nodeId}/s/f`);
  return {
    async feed(from, count) {
      const start = performance.now();
      for (let n = from, end = from + count; n < end; n++) ref.tell({ type: 'item', n });
      await ref.ask({ type: 'done' }, { timeout: 600_000 });
      return performance.now() - start;
    },
    handled: () => ref.ask({ type: 'done' }, { timeout: 600_000 }),
    close: () => system.close(),
  };
}

/** Share of each stream's windows counted: the slowest tenth are dropped, the same for both streams. */
const KEEP = 0.9;

/** Items per second over the fastest {@link KEEP} of the windows, from each window's ms per item. */
function typicalRate(msPerItem: number[]): number {
  const sorted = [...msPerItem].sort((x, y) => x - y);
  const kept = Math.max(1, Math.floor(sorted.length * KEEP));
  let sum = 0;
  for (let i = 0; i < kept; i++) sum += sorted[i]!;
  return 1000 / (sum / kept);
}

/**
 * Streams up to `total` items through a crashing and a never-crashing supervised actor, one window of each in
 * turn; returns each one's items per second. Run one after the other, the two streams met different
 * conditions (a noisy neighbour, a collection, the JIT's latest mood) and their ratio swung from 0.7 to 1.15.
 * Interleaved, they share them. The order within each pair is random: a fixed one (or an alternating one)
 * locks to the period of the scavenges, which then all land in the same stream's windows (a ±20% bias
 * between two identical actors). A window is ~150 µs, so the few that a preemption by another process (or a
 * collection) lands in are outliers of several ms: each stream's slowest tenth is left out. Every crashing
 * window holds the same two crashes, so none of their cost is.
 */
async function streams(
  total: number,
  round: number,
  deadline: number,
): Promise<{ crashing: number; steady: number }> {
  const crashing = await openStream(1000, round);
  const steady = await openStream(0, round);
  try {
    const ms = { crashing: [] as number[], steady: [] as number[] };
    let n = 0;
    while (n < total && (n === 0 || wallNow() < deadline)) {
      const count = Math.min(WINDOW, total - n);
      const first = Math.random() < 0.5;
      if (first) ms.crashing.push((await crashing.feed(n, count)) / count);
      ms.steady.push((await steady.feed(n, count)) / count);
      if (!first) ms.crashing.push((await crashing.feed(n, count)) / count);
      n += count;
    }
    for (const s of [crashing, steady]) {
      const handled = await s.handled();
      if (handled !== n) throw new Error(`restart bench: ${handled} of ${n} items handled`);
    }
    return { crashing: typicalRate(ms.crashing), steady: typicalRate(ms.steady) };
  } finally {
    await Promise.allSettled([crashing.close(), steady.close()]);
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
        ctx.progress(`streams: ${items} items each, crashing every 1,000 and never, interleaved`);
        const { crashing, steady } = await streams(items, rounds++, budget.deadline());
        figures.throughput = { troupe: crashing, baseline: steady };
        return { figures, latency: { troupe: n.rtt, baseline: n.baseline } };
      },
      async close() {
        await Promise.allSettled([local.close(), client.close(), host.close()]);
      },
    };
  },
};
