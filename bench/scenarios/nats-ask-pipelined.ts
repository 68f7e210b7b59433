// Scenario `nats-ask-pipelined`: ask throughput with many asks in flight to an actor in another process.

import { openAskClient } from '../ask-client.js';
import { pipelinedRate } from '../load.js';
import { echoResponderRole } from '../roles/echo-responder.js';
import type { Scenario } from '../scenario.js';

/** Asks outstanding at once. */
const WINDOW = 500;

const throughput = (
  total: number,
  deadline: number,
  issue: (i: number) => Promise<unknown>,
): Promise<number> => pipelinedRate({ total, window: WINDOW, deadline, issue });

/** `nats-ask-pipelined`: see the file comment. */
export const natsAskPipelined: Scenario = {
  name: 'nats-ask-pipelined',
  description: `asks with ${WINDOW} in flight to an actor in another process vs plain nc.request() with the same window`,
  needs: ['nats'],
  metrics: () => [
    {
      id: 'throughput',
      label: `ask throughput (window ${WINDOW})`,
      unit: 'ask/s',
      kind: 'throughput',
      better: 'higher',
      target: 0.7,
    },
  ],
  roles: { responder: echoResponderRole },
  async open(ctx) {
    const client = await openAskClient(ctx);
    return {
      async round(budget) {
        const total = ctx.count(30_000, 200_000, budget);
        ctx.progress(`troupe: ${total} asks, ${WINDOW} in flight`);
        const troupe = await throughput(total, budget.deadline(), client.troupe);
        ctx.progress(`baseline: ${total} nc.request(), ${WINDOW} in flight`);
        const baseline = await throughput(total, budget.deadline(), client.baseline);
        return { figures: { throughput: { troupe, baseline } } };
      },
      close: () => client.close(),
    };
  },
};
