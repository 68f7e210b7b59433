// Scenario `tasks-latency`: one no-op task at a time from an actor to a worker node process, vs plain BullMQ.

import { Histogram } from '../histogram.js';
import { pipelined } from '../load.js';
import type { Figure, MetricSpec, Scenario } from '../scenario.js';
import { openTaskBench, taskWorkerRole } from './tasks-throughput.js';

/** The percentiles reported, as metric id → histogram percentile. */
const PERCENTILES: ReadonlyArray<[string, number]> = [
  ['p50', 50],
  ['p90', 90],
  ['p99', 99],
];

async function measure(
  total: number,
  deadline: number,
  run: (n: number) => Promise<unknown>,
): Promise<Histogram> {
  const histogram = new Histogram();
  const r = await pipelined({
    total,
    window: 1,
    deadline,
    issue: run,
    onLatency: (ns) => histogram.record(ns),
  });
  if (r.failed > 0) throw r.firstError;
  return histogram;
}

/** `tasks-latency`: see the file comment. */
export const tasksLatency: Scenario = {
  name: 'tasks-latency',
  description:
    'end-to-end latency of one no-op task (actor ask → runTask → worker node → result) vs plain BullMQ add → completed event',
  needs: ['redis'],
  metrics: () =>
    PERCENTILES.map(
      ([id]): MetricSpec => ({
        id,
        label: `task latency ${id}`,
        unit: 'µs',
        kind: 'latency',
        better: 'lower',
        ...(id === 'p50' ? { target: 1.3 } : {}),
      }),
    ),
  roles: { worker: taskWorkerRole },
  async open(ctx) {
    // One task at a time keeps one worker process busy at most: a second one could only add idle contention.
    const bench = await openTaskBench(ctx, 1, [1]);
    const side = bench.sides[0]!;
    let flip = false;
    return {
      async round(budget) {
        const total = ctx.count(500, 3_000, budget);
        flip = !flip;
        const order = flip ? (['troupe', 'baseline'] as const) : (['baseline', 'troupe'] as const);
        const histograms: Partial<Record<'troupe' | 'baseline', Histogram>> = {};
        for (const which of order) {
          ctx.progress(`${which}: ${total} sequential no-op tasks`);
          histograms[which] = await measure(
            total,
            budget.deadline(),
            which === 'troupe' ? side.troupe.run : side.baseline.run,
          );
        }
        const troupe = histograms.troupe!;
        const baseline = histograms.baseline!;
        const figures: Record<string, Figure> = {};
        for (const [id, p] of PERCENTILES) {
          figures[id] = { troupe: troupe.percentile(p) / 1000, baseline: baseline.percentile(p) / 1000 };
        }
        return { figures, latency: { troupe, baseline } };
      },
      close: () => bench.close(),
    };
  },
};
