// Scenario `local-tell`: tell throughput to one in-process actor against a bare queue with a consumer.

import { performance } from 'node:perf_hooks';
import { type ActorSystem, createSystem, defineActor } from '../../runtime/index.js';
import { wallNow, within } from '../load.js';
import { RingQueue } from '../ring-queue.js';
import type { Scenario } from '../scenario.js';

type Counter = { inc: { n: number } };

/** How often the send loop looks at the clock. */
const CLOCK_EVERY = 4096;

/** Sends up to `total` messages with `send` in a tight loop, stopping early at `deadline`; returns how many. */
function sendLoop(total: number, deadline: number, send: (i: number) => void): number {
  let i = 0;
  while (i < total) {
    const end = Math.min(total, i + CLOCK_EVERY);
    for (; i < end; i++) send(i);
    if (wallNow() > deadline) break;
  }
  return i;
}

/** Troupe: one actor with a sync handler that counts; the sender tells in a tight loop, then waits for all. */
async function troupeRound(
  system: ActorSystem,
  round: number,
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
    defineActor<Counter, undefined>({
      type: 'counter',
      handlers: {
        inc: () => {
          if (++count === target) done();
        },
      },
    }),
    { name: `counter-${round}` },
  );
  const message = { type: 'inc', n: 1 } as const;
  const start = performance.now();
  const sent = sendLoop(total, deadline, () => ref.tell(message));
  target = sent;
  if (count >= sent) done();
  await within(finished, 60_000, 'local-tell troupe round');
  const elapsed = performance.now() - start;
  await system.stop(ref);
  return (sent / elapsed) * 1000;
}

/** Baseline: the same counting consumer behind a bare ring-buffer queue drained in a microtask. */
async function bareRound(total: number, deadline: number): Promise<number> {
  const queue = new RingQueue<{ type: string; n: number }>();
  let count = 0;
  let target = Number.POSITIVE_INFINITY;
  let scheduled = false;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  const handler = (_m: { type: string; n: number }): void => {
    if (++count === target) done();
  };
  const drain = (): void => {
    scheduled = false;
    for (let m = queue.shift(); m !== undefined; m = queue.shift()) handler(m);
  };
  const tell = (m: { type: string; n: number }): void => {
    queue.push(m);
    if (!scheduled) {
      scheduled = true;
      queueMicrotask(drain);
    }
  };
  const message = { type: 'inc', n: 1 };
  const start = performance.now();
  const sent = sendLoop(total, deadline, () => tell(message));
  target = sent;
  if (count >= sent) done();
  await within(finished, 60_000, 'local-tell baseline round');
  return (sent / (performance.now() - start)) * 1000;
}

/** `local-tell`: see the file comment. */
export const localTell: Scenario = {
  name: 'local-tell',
  description:
    'tell throughput to one local actor (sync counting handler, tight send loop) vs a bare ring-buffer queue + consumer',
  needs: [],
  metrics: () => [
    {
      id: 'throughput',
      label: 'tell throughput',
      unit: 'msg/s',
      kind: 'throughput',
      better: 'higher',
      target: 0.25,
    },
  ],
  async open(ctx) {
    const system = await createSystem({ nodeId: 'bench' });
    let round = 0;
    return {
      async round(budget) {
        const total = ctx.count(1_000_000, 5_000_000, budget);
        ctx.progress(`troupe: ${total} tells`);
        const troupe = await troupeRound(system, round++, total, budget.deadline());
        ctx.progress(`baseline: ${total} pushes`);
        const baseline = await bareRound(total, budget.deadline());
        return { figures: { throughput: { troupe, baseline } } };
      },
      close: () => system.close(),
    };
  },
};
