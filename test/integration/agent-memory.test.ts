// An agent with memory (`defineAgent({ memory })`) against real servers: semantic memory in `chroma run`,
// episodic memory in redis-server, the model through the real `openai` client on the offline server. Before each
// model call the agent recalls its session's earlier turns and the documents that match its input; each run's
// input and answer are stored as turns; the retrieval tool searches the same memory on the model's request.

import { afterAll, beforeAll, expect, it } from 'vitest';
import { agentKit } from '../../agents/agent/index.js';
import { retrievalTool, ToolRegistry } from '../../agents/tools/index.js';
import { chromaStore, episodicMemory, hashingEmbedder, semanticMemory } from '../../memory/index.js';
import { budgetLedger, modelRouter } from '../../models/index.js';
import { createSystem, memoryKeyValue } from '../../runtime/index.js';
import {
  type LlmServer,
  type ServerProcess,
  startChroma,
  startLlmServer,
  startRedis,
} from '../../testing/index.js';
import { on } from '../helpers/models.js';

let chroma: ServerProcess;
let redis: ServerProcess;
let server: LlmServer;
beforeAll(async () => {
  [chroma, redis, server] = await Promise.all([startChroma(), startRedis(), startLlmServer()]);
}, 60_000);
afterAll(async () => {
  await Promise.allSettled([chroma?.stop(), redis?.stop(), server?.close()]);
});

type Msg = { role: string; content?: unknown };
const chatBodies = () =>
  server.requests.filter((r) => r.endpoint === 'chat').map((r) => (r.body as { messages: Msg[] }).messages);
const text = (ms: Msg[]) => ms.map((m) => (typeof m.content === 'string' ? m.content : '')).join('\n');

it('recalls documents and earlier turns of its session, stores its turns, and searches memory as a tool', async () => {
  const embedder = hashingEmbedder({ dimension: 256 });
  const semantic = semanticMemory({
    store: chromaStore({ url: chroma.url }),
    embedder,
    collection: 'agentdocs',
  });
  await semantic.add([
    { id: 'tides', text: 'The harbour tide tables are published every Monday by the port authority.' },
    { id: 'cheese', text: 'Aged gouda keeps for months in a cool cellar.' },
  ]);
  const episodic = episodicMemory({ redis: redis.url, prefix: `t${Date.now()}` });
  const router = modelRouter({ groups: { g: { deployments: [on(server, 'm')] } } });
  const tools = new ToolRegistry().register(retrievalTool(semantic));
  const kit = agentKit({ router, tools });
  const system = await createSystem({ nodeId: 'mem' });
  try {
    const agent = system.spawn(
      kit.defineAgent({
        name: 'clerk',
        model: 'g',
        instructions: 'Answer from memory.',
        tools: ['search_memory'],
        memory: { semantic, episodic, k: 1, maxContextTokens: 2000 },
      }),
      { name: 'clerk' },
    );
    server.script('m', [
      'Mondays.',
      { toolCalls: [{ id: 's1', name: 'search_memory', arguments: { query: 'gouda cellar' } }] },
      'In a cool cellar.',
    ]);
    expect(
      await agent.ask({ type: 'run', input: 'When are the harbour tide tables published?', session: 's' }),
    ).toBe('Mondays.');
    // The first call carried the matching document, not the other one.
    const first = text(chatBodies()[0] ?? []);
    expect(first).toContain('published every Monday');
    expect(first).not.toContain('gouda');

    expect(await agent.ask({ type: 'run', input: 'And how do I keep cheese?', session: 's' })).toBe(
      'In a cool cellar.',
    );
    // The second run's first call continues the session: the earlier question and answer come before its input.
    const second = chatBodies()[1] ?? [];
    const at = (needle: string) =>
      second.findIndex((m) => typeof m.content === 'string' && m.content.includes(needle));
    expect(at('tide tables published')).toBeGreaterThan(-1);
    expect(at('Mondays.')).toBeGreaterThan(at('tide tables published'));
    expect(at('keep cheese')).toBeGreaterThan(at('Mondays.'));
    // The tool call's result went back to the model with the gouda document.
    const third = chatBodies()[2] ?? [];
    expect(third.find((m) => m.role === 'tool')?.content).toContain('gouda');

    const turns = await episodic.recent({ agent: 'clerk', session: 's' }, 10);
    expect(turns.map((t) => [t.role, t.content])).toEqual([
      ['user', 'When are the harbour tide tables published?'],
      ['assistant', 'Mondays.'],
      ['user', 'And how do I keep cheese?'],
      ['assistant', 'In a cool cellar.'],
    ]);
  } finally {
    await system.close();
    await router.close();
    await semantic.deleteCollection();
    await semantic.close();
    await episodic.close();
  }
});

it('keeps the recalled context within the memory window', async () => {
  const embedder = hashingEmbedder({ dimension: 64 });
  const semantic = semanticMemory({
    store: chromaStore({ url: chroma.url }),
    embedder,
    collection: 'bigdocs',
    chunk: false,
  });
  await semantic.add(
    Array.from({ length: 6 }, (_, i) => ({ id: `d${i}`, text: `harbour note ${i}: ${'x'.repeat(3000)}` })),
  );
  const router = modelRouter({ groups: { g: { deployments: [on(server, 'm')] } } });
  const kit = agentKit({ router });
  const system = await createSystem({ nodeId: 'mem2' });
  try {
    const before = chatBodies().length;
    server.script('m', ['ok']);
    const agent = system.spawn(
      kit.defineAgent({
        name: 'small',
        model: 'g',
        instructions: 'Be brief.',
        memory: { semantic, k: 6, maxContextTokens: 1200 },
      }),
      { name: 'small' },
    );
    expect(await agent.ask({ type: 'run', input: 'harbour notes?' })).toBe('ok');
    const sent = chatBodies()[before] ?? [];
    const tokens = sent.reduce(
      (n, m) => n + Math.ceil((typeof m.content === 'string' ? m.content.length : 0) / 4),
      0,
    );
    expect(tokens).toBeLessThanOrEqual(1200);
    expect(text(sent)).toContain('harbour notes?');
  } finally {
    await system.close();
    await router.close();
    await semantic.deleteCollection();
    await semantic.close();
  }
});

it('summarises a long session through its own model, on its own budget', async () => {
  const episodic = episodicMemory({ redis: redis.url, prefix: `s${Date.now()}` });
  const budget = budgetLedger({
    store: memoryKeyValue(),
    limits: [{ scope: 'agent', id: 'keeper', window: 'hour', maxTokens: 100_000 }],
  });
  const router = modelRouter({ groups: { g: { deployments: [on(server, 'k')] } }, budget });
  const kit = agentKit({ router });
  const system = await createSystem({ nodeId: 'mem3' });
  try {
    const agent = system.spawn(
      kit.defineAgent({
        name: 'keeper',
        model: 'g',
        instructions: '',
        memory: { episodic, turns: 2, summarizeAfter: 4 },
      }),
      { name: 'keeper' },
    );
    server.script('k', ['a1', 'a2', 'a3', 'the user asked three things']);
    for (const q of ['q1', 'q2', 'q3']) await agent.ask({ type: 'run', input: q, session: 'long' });
    const kCalls = () => server.requests.filter((r) => r.endpoint === 'chat' && r.model === 'k');
    // The answer goes out first; the turn is stored and the session summarised after it.
    const deadline = Date.now() + 5000;
    while ((await episodic.recent({ agent: 'keeper', session: 'long' }, 10))[0]?.summary === undefined) {
      if (Date.now() > deadline) throw new Error('no summary turn');
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(kCalls()).toHaveLength(4); // three answers, then the summary
    const summaryBody = kCalls()[3]?.body as { messages: Msg[] } | undefined;
    expect(text(summaryBody?.messages ?? [])).toContain('Summarise this conversation');
    const turns = await episodic.recent({ agent: 'keeper', session: 'long' }, 10);
    expect(turns[0]?.summary?.turns).toBe(4);
    expect(turns[0]?.content).toBe('the user asked three things');
    expect(turns.slice(1).map((t) => t.content)).toEqual(['q3', 'a3']);
    // The summary's tokens were charged to the agent like its other calls.
    const billed = server.billed.byModel.k;
    expect((await budget.usage('agent', 'keeper'))?.tokens).toBe(
      (billed?.inputTokens ?? 0) + (billed?.outputTokens ?? 0),
    );
  } finally {
    await system.close();
    await router.close();
    await episodic.close();
  }
});
