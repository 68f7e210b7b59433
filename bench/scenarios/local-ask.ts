// Scenario `local-ask`: pipelined ask throughput to one in-process actor against bare promises over a queue.

import { type ActorSystem, createSystem, defineActor, type Reply } from '../../runtime/index.js';
import { pipelined } from '../load.js';
import { RingQueue } from '../ring-queue.js';
import type { Scenario } from '../scenario.js';

type Echo = { echo: { n: number } & Reply<number> };

/** Asks outstanding at once. */
const WINDOW = 256;

/** Baseline: an "ask" is a promise whose resolver waits in a bare queue drained by a microtask consumer. */
function bareAsker(): (n: number) => Promise<number> {
  const queue = new RingQueue<{ n: number; resolve: (v: number) => void }>();
  let scheduled = false;
  const drain = (): void => {
    scheduled = false;
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) item.resolve(item.n);
  };
  return (n) =>
    new Promise<number>((resolve) => {
      queue.push({ n, resolve });
      if (!scheduled) {
        scheduled = true;
        queueMicrotask(drain);
      }
    });
}

async function troupeRound(
  system: ActorSystem,
  round: number,
  total: number,
  deadline: number,
): Promise<number> {
  const ref = system.spawn(defineActor<Echo, undefined>({ type: 'echo', handlers: { echo: (m) => m.n } }), {
    name: `echo-${round}`,
  });
  const r = await pipelined({
    total,
    window: WINDOW,
    deadline,
    issue: (i) => ref.ask({ type: 'echo', n: i }, { timeout: 60_000 }),
  });
  await system.stop(ref);
  if (r.failed > 0) throw r.firstError;
  return (r.completed / r.elapsedMs) * 1000;
}

/** `local-ask`: see the file comment. */
export const localAsk: Scenario = {
  name: 'local-ask',
  description: `ask throughput to one local actor with ${WINDOW} asks in flight vs bare promises resolved from a queue`,
  needs: [],
  metrics: () => [
    { id: 'throughput', label: 'ask throughput', unit: 'ask/s', kind: 'throughput', better: 'higher' },
  ],
  async open(ctx) {
    const system = await createSystem({ nodeId: 'bench' });
    let round = 0;
    return {
      async round(budget) {
        const total = ctx.count(300_000, 2_000_000, budget);
        ctx.progress(`troupe: ${total} asks`);
        const troupe = await troupeRound(system, round++, total, budget.deadline());
        ctx.progress(`baseline: ${total} asks`);
        const ask = bareAsker();
        const r = await pipelined({ total, window: WINDOW, deadline: budget.deadline(), issue: ask });
        return { figures: { throughput: { troupe, baseline: (r.completed / r.elapsedMs) * 1000 } } };
      },
      close: () => system.close(),
    };
  },
};
