// Scenario `nats-ask-pipelined`: ask throughput with many asks in flight to an actor in another process.
//
// Two baselines, each with the same window, answered by the same child process: plain nats.js request/reply
// correlated by a header over one reply subscription (the strong one, which the target is set against), and
// plain `nc.request()` (kept as a second figure so earlier reports still compare).

import { openAskClient } from '../ask-client.js';
import { pipelinedRate } from '../load.js';
import { openCorrelatedAsker, pipelinedResponderRole } from '../roles/correlated-echo.js';
import type { Scenario } from '../scenario.js';

/** Asks outstanding at once. */
const WINDOW = 500;

/** As the ask client's: never fires in a healthy run. */
const ASK_TIMEOUT_MS = 30_000;

const throughput = (
  total: number,
  deadline: number,
  issue: (i: number) => Promise<unknown>,
): Promise<number> => pipelinedRate({ total, window: WINDOW, deadline, issue });

/** `nats-ask-pipelined`: see the file comment. */
export const natsAskPipelined: Scenario = {
  name: 'nats-ask-pipelined',
  description: `asks with ${WINDOW} in flight to an actor in another process vs plain nats.js request/reply correlated by a header over one reply subscription, and vs plain nc.request(), same window`,
  needs: ['nats'],
  metrics: () => [
    {
      id: 'throughput',
      label: `ask throughput (window ${WINDOW}) vs correlated nats.js`,
      unit: 'ask/s',
      kind: 'throughput',
      better: 'higher',
      target: 0.7,
    },
    {
      id: 'throughput-vs-request',
      label: `ask throughput (window ${WINDOW}) vs nc.request()`,
      unit: 'ask/s',
      kind: 'throughput',
      better: 'higher',
    },
  ],
  roles: { responder: pipelinedResponderRole },
  async open(ctx) {
    const client = await openAskClient(ctx);
    let correlated: Awaited<ReturnType<typeof openCorrelatedAsker>>;
    try {
      correlated = await openCorrelatedAsker(ctx.natsUrl!, ctx.namespace, ASK_TIMEOUT_MS);
    } catch (err) {
      await client.close();
      throw err;
    }
    return {
      async round(budget) {
        const total = ctx.count(30_000, 200_000, budget);
        ctx.progress(`troupe: ${total} asks, ${WINDOW} in flight`);
        const troupe = await throughput(total, budget.deadline(), client.troupe);
        ctx.progress(`baseline: ${total} correlated requests, ${WINDOW} in flight`);
        const strong = await throughput(total, budget.deadline(), correlated.request);
        ctx.progress(`baseline: ${total} nc.request(), ${WINDOW} in flight`);
        const weak = await throughput(total, budget.deadline(), client.baseline);
        return {
          figures: {
            throughput: { troupe, baseline: strong },
            'throughput-vs-request': { troupe, baseline: weak },
          },
        };
      },
      async close() {
        await correlated.close();
        await client.close();
      },
    };
  },
};
