// A node that closes while one of its agents runs a tool has interrupted the call, not failed it: the
// journal must not record a failure, so the run resumed elsewhere makes the call again (and makes no model
// call twice).

import { afterEach, beforeEach, expect, it } from 'vitest';
import { z } from 'zod';
import { agentKit } from '../../agents/agent/index.js';
import { RunJournal } from '../../agents/journal/index.js';
import { defineTool, ToolRegistry } from '../../agents/tools/index.js';
import { type ModelRouter, modelRouter } from '../../models/index.js';
import { type ActorSystem, createSystem, memoryAppendLog, memoryKeyValue } from '../../runtime/index.js';
import { type LlmServer, startLlmServer } from '../../testing/index.js';
import { until } from '../helpers/fixtures.js';
import { on, sleep } from '../helpers/models.js';

let server: LlmServer;
let router: ModelRouter;
beforeEach(async () => {
  server = await startLlmServer();
  router = modelRouter({ groups: { g: { deployments: [on(server, 'm')] } } });
});
afterEach(async () => {
  await router.close();
  await server.close();
});

it('a tool call cut short by its node closing is run again by the resumed run, not journaled as failed', async () => {
  const stores = { log: memoryAppendLog(), blobs: memoryKeyValue() };
  let runs = 0;
  let release: (() => void) | undefined;
  const tools = new ToolRegistry().register(
    defineTool({
      name: 'slow',
      description: 'Takes a while',
      input: z.object({ n: z.number() }),
      run: async ({ n }, { signal }) => {
        runs++;
        if (runs === 1) {
          // The first call waits until its node closes (its signal aborts), as a long call would.
          await new Promise<void>((resolve) => {
            release = resolve;
            signal.addEventListener('abort', () => resolve(), { once: true });
          });
          throw new Error('interrupted');
        }
        return n * 2;
      },
    }),
  );
  server.script('m', [{ toolCalls: [{ id: 'c1', name: 'slow', arguments: { n: 21 } }] }, 'the answer is 42']);
  const start = async (): Promise<ActorSystem> => {
    const system = await createSystem({ nodeId: 'n' });
    const kit = agentKit({ router, tools, journal: stores });
    system.spawn(kit.defineAgent({ name: 'calc', model: 'g', instructions: '', tools: ['slow'] }), {
      name: 'calc',
    });
    return system;
  };

  const first = await start();
  const asked = first.ref('n/calc').ask({ type: 'run', input: 'double 21', runId: 'r-1' }, { timeout: 5000 });
  asked.catch(() => undefined);
  await until(() => release !== undefined, 3000, 'the first tool call to start');
  await first.close();
  await expect(asked).rejects.toMatchObject({ code: expect.stringMatching(/AGENT_STOPPED|SYSTEM_CLOSED/) });
  await sleep(20);

  // Nothing about the interrupted call was journaled as its outcome.
  const journal = await RunJournal.open(stores.log, stores.blobs, 'r-1');
  expect(journal.entries().filter((e) => e.kind === 'tool')).toEqual([]);

  const second = await start();
  try {
    expect(
      await second.ref('n/calc').ask({ type: 'run', input: 'double 21', runId: 'r-1' }, { timeout: 5000 }),
    ).toBe('the answer is 42');
    expect(runs).toBe(2); // interrupted once, run again on resume
    // One model call for the tool call (before the close), one for the answer: none repeated.
    expect(server.requests.filter((r) => r.endpoint === 'chat')).toHaveLength(2);
  } finally {
    await second.close();
  }
});
