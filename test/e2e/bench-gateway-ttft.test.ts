// The `gateway-ttft` scenario on a small count, through the bench runner: every figure measured, the scenario
// did not fail (it checks each stream: every token of the scripted reply, in order, and the run's `finished`
// output, on both paths), and the figures hang together. No timing target is asserted (the machine decides).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Progress } from '../../bench/progress.js';
import { type ServerProcess, startNats } from '../../testing/index.js';

// The built bench (dist/): its `apart` set-up forks the agent node from dist/bench/worker.js beside the runner.
const { runScenarios } = (await import(
  new URL('../../dist/bench/runner.js', import.meta.url).href
)) as typeof import('../../bench/runner.js');
const { gatewayTtft } = (await import(
  new URL('../../dist/bench/scenarios/gateway-ttft.js', import.meta.url).href
)) as typeof import('../../bench/scenarios/gateway-ttft.js');

let nats: ServerProcess;
beforeAll(async () => {
  nats = await startNats();
});
afterAll(async () => {
  await nats?.stop();
});

const quiet: Progress = { scenario() {}, detail() {}, line() {}, close() {} };

describe('bench gateway-ttft', () => {
  it('measures TTFT through the gateway (one node, on NATS, agent node apart) next to a direct openai stream', async () => {
    const [report] = await runScenarios({
      scenarios: [gatewayTtft],
      settings: { quick: true, count: 30, clients: [1], nodes: [1] },
      repeat: 1,
      roundMs: 10_000,
      natsUrl: nats.url,
      redisUrl: undefined,
      progress: quiet,
    });
    expect(report?.error).toBeNull();
    const metrics = report!.metrics;
    expect(metrics.map((m) => m.id)).toEqual(gatewayTtft.metrics(undefined as never).map((m) => m.id));
    for (const m of metrics) expect(m.troupe.samples, m.id).toHaveLength(1);
    const f = (id: string) => metrics.find((m) => m.id === id)!;
    for (const suffix of ['', '-nats', '-apart']) {
      const p50 = f(`p50${suffix}`);
      expect(p50.baseline?.median).toBeGreaterThan(0);
      expect(p50.troupe.median).toBeGreaterThan(0);
      // The parts are parts: the model sees the request before the first token arrives, on both paths.
      expect(f(`to-model-p50${suffix}`).troupe.median).toBeLessThan(p50.troupe.median);
      expect(f(`to-model-p50${suffix}`).baseline?.median).toBeLessThan(p50.baseline!.median);
      for (const part of ['log-in', 'log-append', 'log-out', 'sse-out'])
        expect(f(`${part}-p50${suffix}`).troupe.median, part).toBeGreaterThanOrEqual(0);
    }
    // The added figures are the difference of the quantiles measured in the same round.
    expect(f('added-p50').troupe.median).toBeCloseTo(f('p50').troupe.median - f('p50').baseline!.median, 6);
  }, 120_000);
});
