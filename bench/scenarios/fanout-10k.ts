// Scenario `fanout-10k`: spawn 10,000 actors, tell each one message, wait for all; against bare queues per entity.

import { performance } from 'node:perf_hooks';
import { createSystem, defineActor } from '../../runtime/index.js';
import { within } from '../load.js';
import { RingQueue } from '../ring-queue.js';
import type { Scenario } from '../scenario.js';

type Leaf = { hit: { n: number } };

interface Rates {
  /** Entities created per second. */
  spawn: number;
  /** Messages handled per second, from the first tell until the last handler ran. */
  throughput: number;
}

async function troupeRound(total: number): Promise<Rates> {
  const system = await createSystem({ nodeId: 'bench' });
  try {
    let handled = 0;
    let done!: () => void;
    const finished = new Promise<void>((resolve) => {
      done = resolve;
    });
    const leaf = defineActor<Leaf, { hits: number }>({
      type: 'leaf',
      init: () => ({ hits: 0 }),
      handlers: {
        hit: (_m, ctx) => {
          ctx.state.hits++;
          if (++handled === total) done();
        },
      },
    });
    const t0 = performance.now();
    const refs = new Array<ReturnType<typeof system.spawn<Leaf, { hits: number }>>>(total);
    for (let i = 0; i < total; i++) refs[i] = system.spawn(leaf, { name: `a${i}` });
    const t1 = performance.now();
    const message = { type: 'hit', n: 1 } as const;
    for (const ref of refs) ref.tell(message);
    await within(finished, 60_000, 'fanout-10k troupe round');
    const t2 = performance.now();
    return { spawn: (total / (t1 - t0)) * 1000, throughput: (total / (t2 - t1)) * 1000 };
  } finally {
    await system.close();
  }
}

interface BareEntity {
  queue: RingQueue<{ type: string; n: number }>;
  scheduled: boolean;
  hits: number;
  drain: () => void;
}

/** Baseline: an "actor" is a map entry holding a bare queue, a state object and a microtask drain. */
async function bareRound(total: number): Promise<Rates> {
  let handled = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  const entities = new Map<string, BareEntity>();
  const t0 = performance.now();
  for (let i = 0; i < total; i++) {
    const entity: BareEntity = {
      queue: new RingQueue(4),
      scheduled: false,
      hits: 0,
      drain: () => {
        entity.scheduled = false;
        for (let m = entity.queue.shift(); m !== undefined; m = entity.queue.shift()) {
          entity.hits++;
          if (++handled === total) done();
        }
      },
    };
    entities.set(`a${i}`, entity);
  }
  const t1 = performance.now();
  const message = { type: 'hit', n: 1 };
  for (const entity of entities.values()) {
    entity.queue.push(message);
    if (!entity.scheduled) {
      entity.scheduled = true;
      queueMicrotask(entity.drain);
    }
  }
  await within(finished, 60_000, 'fanout-10k baseline round');
  const t2 = performance.now();
  return { spawn: (total / (t1 - t0)) * 1000, throughput: (total / (t2 - t1)) * 1000 };
}

/** `fanout-10k`: see the file comment. */
export const fanout10k: Scenario = {
  name: 'fanout-10k',
  description: 'spawn 10,000 actors and tell each one message vs 10,000 bare queues in a map',
  needs: [],
  metrics: () => [
    { id: 'throughput', label: 'fan-out throughput', unit: 'msg/s', kind: 'throughput', better: 'higher' },
    { id: 'spawn', label: 'spawn rate', unit: 'actors/s', kind: 'rate', better: 'higher' },
  ],
  async open(ctx) {
    return {
      async round(budget) {
        // The scenario is defined by its size: a warm-up uses the same 10k (it is quick anyway).
        const total = ctx.settings.count ?? 10_000;
        ctx.progress(`troupe: ${total} actors${budget.warmup ? ' (warm-up)' : ''}`);
        const troupe = await troupeRound(total);
        ctx.progress(`baseline: ${total} queues`);
        const bare = await bareRound(total);
        return {
          figures: {
            throughput: { troupe: troupe.throughput, baseline: bare.throughput },
            spawn: { troupe: troupe.spawn, baseline: bare.spawn },
          },
        };
      },
      close: async () => {},
    };
  },
};
