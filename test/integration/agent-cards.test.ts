// Agents publish their capability cards in the kit's registry: when they start, with their latency, success
// rate and load as runs end, and they take them down when they stop. Through the real `openai` client against
// the offline model server.

import { afterEach, beforeEach, expect, it } from 'vitest';
import { agentKit } from '../../agents/agent/index.js';
import { agentRegistry } from '../../agents/registry/index.js';
import { type ModelRouter, modelRouter } from '../../models/index.js';
import { type ActorSystem, createSystem, ManualClock, memoryKeyValue } from '../../runtime/index.js';
import { type LlmServer, startLlmServer } from '../../testing/index.js';
import { on } from '../helpers/models.js';

/** Polls an async condition (the registry is read through its store). */
async function eventually(check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

let server: LlmServer;
let system: ActorSystem;
let router: ModelRouter;
beforeEach(async () => {
  server = await startLlmServer();
  system = await createSystem({ nodeId: 'n' });
  router = modelRouter({ groups: { g: { deployments: [on(server, 'm')] } } });
});
afterEach(async () => {
  await system.close();
  await router.close();
  await server.close();
});

it('publishes a card per agent, keeps its stats current, ranks it by capability, and removes it on stop', async () => {
  const store = memoryKeyValue();
  const registry = agentRegistry({ store, flushEveryMs: 10, heartbeatMs: 0, weights: { latency: 0 } });
  const kit = agentKit({ router, registry });
  const cheap = kit.defineAgent({
    name: 'cheap',
    description: 'summarises cheaply',
    capabilities: ['summarise'],
    costPer1kTokens: { input: 0.1, output: 0.2 },
    model: 'g',
    instructions: 'Summarise.',
  });
  const dear = kit.defineAgent({
    name: 'dear',
    capabilities: ['summarise', 'plan'],
    costPer1kTokens: { input: 3, output: 15 },
    model: 'g',
    instructions: 'Summarise or plan.',
  });
  const a = system.spawn(cheap, { name: 'cheap' });
  const b = system.spawn(dear, { name: 'dear' });
  await eventually(async () => (await registry.list()).length === 2);
  const [card] = (await registry.list()).filter((c) => c.name === 'cheap');
  expect(card).toMatchObject({
    address: 'n/cheap',
    description: 'summarises cheaply',
    capabilities: ['summarise'],
    model: 'g',
    costPer1kTokens: { input: 0.1, output: 0.2 },
  });

  server.script('m', ['short', 'shorter']);
  expect(await a.ask({ type: 'run', input: 'text one', runId: 'r1' })).toBe('short');
  expect(await a.ask({ type: 'run', input: 'text two', runId: 'r2' })).toBe('shorter');
  // Stats are written at most once per flushEveryMs: wait for the write that follows the second run.
  await eventually(async () => {
    const c = await registry.get('n/cheap');
    return c?.load === 0 && c.successRate === 1 && c.updatedAt > (card?.updatedAt ?? 0);
  });
  expect((await registry.get('n/cheap'))?.p50LatencyMs).toBeGreaterThanOrEqual(0);

  // Ranked (latency left out of the score, since only one has run): both summarise, the cheaper first.
  const ranked = await registry.find({ capability: 'summarise' });
  expect(ranked.map((c) => c.name)).toEqual(['cheap', 'dear']);
  expect((await kit.registry?.find({ capability: 'plan' }))?.map((c) => c.name)).toEqual(['dear']);

  await system.stop(b);
  await eventually(async () => (await registry.list()).length === 1);
  expect((await registry.list())[0]?.name).toBe('cheap');
  await registry.close();
});

it('refuses bad card fields with a code', () => {
  const kit = agentKit({
    router,
    registry: agentRegistry({ store: memoryKeyValue(), clock: new ManualClock() }),
  });
  expect(() =>
    kit.defineAgent({ name: 'x', model: 'g', instructions: '', capabilities: [''] as string[] }),
  ).toThrow(expect.objectContaining({ code: 'INVALID_OPTIONS' }));
  expect(() =>
    kit.defineAgent({ name: 'x', model: 'g', instructions: '', costPer1kTokens: { input: -1, output: 0 } }),
  ).toThrow(expect.objectContaining({ code: 'INVALID_OPTIONS' }));
});
