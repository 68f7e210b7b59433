// The child side of `agent-step`'s idle-agents figure, run with --expose-gc: the heap and RSS that 10,000 idle
// agents add to a node (each started: its init looked its open runs up in the journal's index), and as many plain
// idle actors for comparison.

import { z } from 'zod';
import { agentKit, defineTool, ToolRegistry } from '../../agents/index.js';
import { modelRouter } from '../../models/index.js';
import {
  type ActorSystem,
  createSystem,
  defineActor,
  memoryAppendLog,
  memoryKeyValue,
  type Reply,
  silentLogger,
} from '../../runtime/index.js';
import type { RoleCommands } from '../scenario.js';

const lookup = defineTool({
  name: 'lookup',
  description: 'Looks a key up',
  input: z.object({ key: z.string() }),
  run: ({ key }) => key.toUpperCase(),
});

/** The child side of the idle-agents probe: spawns `count` agents, then `count` plain actors, GC around each. */
export function idleAgentsRole(): RoleCommands {
  const collect = (): boolean => {
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    gc?.();
    return gc !== undefined;
  };
  const measure = async (count: number, spawnAll: (system: ActorSystem) => Promise<void>) => {
    const system = await createSystem({ nodeId: 'idle', logger: silentLogger });
    collect();
    const before = process.memoryUsage();
    await spawnAll(system);
    collect();
    const after = process.memoryUsage();
    await system.close();
    return { heap: after.heapUsed - before.heapUsed, rss: after.rss - before.rss, count };
  };
  return {
    async measure(args) {
      const { count } = args as { count: number };
      const gc = collect();
      const router = modelRouter({
        groups: { g: { deployments: [{ id: 'none', baseURL: 'http://127.0.0.1:9/v1', model: 'none' }] } },
        logger: silentLogger,
      });
      const agents = await measure(count, async (system) => {
        const kit = agentKit({
          router,
          tools: new ToolRegistry({ logger: silentLogger }).register(lookup),
          journal: { log: memoryAppendLog(), blobs: memoryKeyValue() },
          logger: silentLogger,
        });
        const def = kit.defineAgent({
          name: 'idle',
          model: 'g',
          instructions: 'Look keys up when asked.',
          tools: ['lookup'],
        });
        const refs = [];
        for (let i = 0; i < count; i++) refs.push(system.spawn(def, { name: `a${i}` }));
        // Each agent started (its init looked for open runs) and answers.
        await Promise.all(refs.map((r) => r.ask({ type: 'status' } as never, { timeout: 60_000 })));
      });
      const actors = await measure(count, async (system) => {
        const idle = defineActor<{ status: Reply<number> }, { n: number }>({
          type: 'idle',
          init: () => ({ n: 0 }),
          handlers: { status: (_m, ctx) => ctx.state.n },
        });
        const refs = [];
        for (let i = 0; i < count; i++) refs.push(system.spawn(idle, { name: `a${i}` }));
        await Promise.all(refs.map((r) => r.ask({ type: 'status' }, { timeout: 60_000 })));
      });
      await router.close();
      return { agents, actors, gc };
    },
  };
}
