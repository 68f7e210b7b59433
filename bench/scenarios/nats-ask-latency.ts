// Scenario `nats-ask-latency`: one ask at a time to an actor in another process, as a latency histogram.

import { openAskClient } from '../ask-client.js';
import { Histogram } from '../histogram.js';
import { pipelined } from '../load.js';
import { echoResponderRole } from '../roles/echo-responder.js';
import type { Figure, MetricSpec, Scenario } from '../scenario.js';

/** The percentiles reported, as metric id → histogram percentile. */
const PERCENTILES: ReadonlyArray<[string, number]> = [
  ['p50', 50],
  ['p90', 90],
  ['p99', 99],
  ['p99.9', 99.9],
  ['max', 100],
];

async function measure(total: number, deadline: number, issue: () => Promise<unknown>): Promise<Histogram> {
  const histogram = new Histogram();
  const r = await pipelined({ total, window: 1, deadline, issue, onLatency: (ns) => histogram.record(ns) });
  if (r.failed > 0) throw r.firstError;
  return histogram;
}

/** `nats-ask-latency`: see the file comment. */
export const natsAskLatency: Scenario = {
  name: 'nats-ask-latency',
  description:
    'sequential asks to an actor in another process over NATS vs plain nats.js nc.request() to a raw responder',
  needs: ['nats'],
  metrics: () =>
    PERCENTILES.map(
      ([id]): MetricSpec => ({
        id,
        label: `ask latency ${id}`,
        unit: 'µs',
        kind: 'latency',
        better: 'lower',
        ...(id === 'p50' ? { target: 1.2 } : {}),
      }),
    ),
  roles: { responder: echoResponderRole },
  async open(ctx) {
    const client = await openAskClient(ctx);
    return {
      async round(budget) {
        const total = ctx.count(3_000, 20_000, budget);
        ctx.progress(`troupe: ${total} sequential asks`);
        const troupe = await measure(total, budget.deadline(), client.troupe);
        ctx.progress(`baseline: ${total} sequential nc.request()`);
        const baseline = await measure(total, budget.deadline(), client.baseline);
        const figures: Record<string, Figure> = {};
        for (const [id, p] of PERCENTILES) {
          figures[id] = { troupe: troupe.percentile(p) / 1000, baseline: baseline.percentile(p) / 1000 };
        }
        return { figures, latency: { troupe, baseline } };
      },
      close: () => client.close(),
    };
  },
};
