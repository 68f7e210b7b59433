// Scenario `model-call`: what the model router adds to a call, and how fast it fails over. Overhead: sequential
// chat calls to the offline model server at 0 ms model latency, through `router.chat` and through a bare `openai`
// client (the baseline), interleaved one for one so both see the same machine. Failover: a group whose one
// deployment answers 503, with a fallback group; the first call's time to the fallback's answer (default retries:
// 3 attempts, 200 ms base backoff) and a later call's once the circuit is open.

import { performance } from 'node:perf_hooks';
import OpenAI from 'openai';
import { modelRouter } from '../../models/index.js';
import { silentLogger } from '../../runtime/index.js';
import { type LlmServer, startLlmServer } from '../../testing/index.js';
import { wallNow } from '../load.js';
import type { Scenario } from '../scenario.js';
import { quantile } from '../stats.js';

const messages = [{ role: 'user' as const, content: 'What is the capital of France?' }];

async function overheadRound(
  server: LlmServer,
  total: number,
  deadline: number,
): Promise<{ router: number[]; direct: number[] }> {
  const router = modelRouter({
    groups: { g: { deployments: [{ id: 'd', baseURL: server.url, model: 'bench' }] } },
    logger: silentLogger,
  });
  const client = new OpenAI({ baseURL: server.url, apiKey: 'no-key', maxRetries: 0, logLevel: 'off' });
  const viaRouter: number[] = [];
  const direct: number[] = [];
  for (let i = 0; i < total && wallNow() < deadline; i++) {
    let t = performance.now();
    await router.chat('g', { messages });
    viaRouter.push(performance.now() - t);
    t = performance.now();
    await client.chat.completions.create({ model: 'bench', messages });
    direct.push(performance.now() - t);
  }
  await router.close();
  return { router: viaRouter.sort((a, b) => a - b), direct: direct.sort((a, b) => a - b) };
}

async function failoverRound(server: LlmServer): Promise<{ first: number; open: number }> {
  server.fault('primary', 'overloaded');
  const router = modelRouter({
    groups: {
      main: {
        deployments: [{ id: 'primary', baseURL: server.url, model: 'primary' }],
        fallbacks: ['backup'],
      },
      backup: { deployments: [{ id: 'backup', baseURL: server.url, model: 'backup' }] },
    },
    logger: silentLogger,
  });
  let t = performance.now();
  const r1 = await router.chat('main', { messages });
  const first = performance.now() - t;
  t = performance.now();
  const r2 = await router.chat('main', { messages });
  const open = performance.now() - t;
  if (r1.model !== 'backup' || r2.model !== 'backup') throw new Error('failover did not reach the backup');
  server.clearFaults();
  await router.close();
  return { first, open };
}

/** `model-call`: see the file comment. */
export const modelCall: Scenario = {
  name: 'model-call',
  description:
    'router.chat vs a bare openai client on the offline model server at 0 ms latency (p50/p99, added µs), and failover time in an outage',
  needs: [],
  metrics: () => [
    { id: 'p50', label: 'chat p50', unit: 'µs', kind: 'latency', better: 'lower' },
    { id: 'p99', label: 'chat p99', unit: 'µs', kind: 'latency', better: 'lower' },
    { id: 'added-p50', label: 'router overhead p50', unit: 'µs', kind: 'latency', better: 'lower' },
    { id: 'added-p99', label: 'router overhead p99', unit: 'µs', kind: 'latency', better: 'lower' },
    {
      id: 'failover-first',
      label: 'outage: first call to fallback answer',
      unit: 'ms',
      kind: 'latency',
      better: 'lower',
    },
    {
      id: 'failover-open',
      label: 'outage: call with circuit open',
      unit: 'µs',
      kind: 'latency',
      better: 'lower',
    },
  ],
  async open(ctx) {
    const server = await startLlmServer();
    return {
      async round(budget) {
        const total = ctx.count(2000, 10_000, budget);
        ctx.progress(`overhead: ${total} calls each way`);
        const { router, direct } = await overheadRound(server, total, budget.deadline());
        server.reset();
        ctx.progress('failover');
        const { first, open } = await failoverRound(server);
        server.reset();
        const us = (ms: number) => ms * 1000;
        const p50 = { troupe: us(quantile(router, 0.5)), baseline: us(quantile(direct, 0.5)) };
        const p99 = { troupe: us(quantile(router, 0.99)), baseline: us(quantile(direct, 0.99)) };
        return {
          figures: {
            p50,
            p99,
            'added-p50': { troupe: p50.troupe - p50.baseline },
            'added-p99': { troupe: p99.troupe - p99.baseline },
            'failover-first': { troupe: first },
            'failover-open': { troupe: us(open) },
          },
        };
      },
      close: () => server.close(),
    };
  },
};
