// Scenario `spawn`: spawn rate and heap bytes per idle actor, measured in a child started with --expose-gc.

import { performance } from 'node:perf_hooks';
import { createSystem, defineActor } from '../../runtime/index.js';
import { RingQueue } from '../ring-queue.js';
import type { RoleCommands, Scenario } from '../scenario.js';

type Idle = { poke: { n: number } };

/** What the probe measured for one kind of entity. */
interface Probe {
  perSecond: number;
  bytesPerEntity: number;
}

interface ProbeResult {
  troupe: Probe;
  baseline: Probe;
  gcForced: boolean;
}

function collect(): boolean {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return false;
  gc();
  gc();
  return true;
}

/** Creates `count` entities with `make`, timing it and measuring the retained heap per entity. */
async function probe(
  count: number,
  make: () => Promise<() => Promise<void>>,
): Promise<Probe & { gc: boolean }> {
  const gc = collect();
  const before = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  const release = await make();
  const elapsed = performance.now() - t0;
  collect();
  const after = process.memoryUsage().heapUsed;
  await release();
  return { perSecond: (count / elapsed) * 1000, bytesPerEntity: Math.max(0, (after - before) / count), gc };
}

/** The child process side: spawns N idle actors, then N bare entities, with a forced GC around each. */
function probeRole(): RoleCommands {
  const idle = defineActor<Idle, { n: number }>({
    type: 'idle',
    init: () => ({ n: 0 }),
    handlers: {
      poke: (m, ctx) => {
        ctx.state.n += m.n;
      },
    },
  });
  return {
    async measure(args): Promise<ProbeResult> {
      const { count } = args as { count: number };
      const troupe = await probe(count, async () => {
        const system = await createSystem({ nodeId: 'probe' });
        for (let i = 0; i < count; i++) system.spawn(idle, { name: `a${i}` });
        return () => system.close();
      });
      const baseline = await probe(count, async () => {
        const entities = new Map<
          string,
          { state: { n: number }; queue: RingQueue<unknown>; handler: unknown }
        >();
        const handler = (m: { n: number }, state: { n: number }) => {
          state.n += m.n;
        };
        for (let i = 0; i < count; i++)
          entities.set(`a${i}`, { state: { n: 0 }, queue: new RingQueue(4), handler });
        return async () => entities.clear();
      });
      return {
        troupe: { perSecond: troupe.perSecond, bytesPerEntity: troupe.bytesPerEntity },
        baseline: { perSecond: baseline.perSecond, bytesPerEntity: baseline.bytesPerEntity },
        gcForced: troupe.gc,
      };
    },
  };
}

/** `spawn`: see the file comment. */
export const spawnScenario: Scenario = {
  name: 'spawn',
  description:
    'spawn rate and retained heap per idle actor (child process with --expose-gc) vs bare entities (state + queue in a map)',
  needs: [],
  metrics: () => [
    { id: 'rate', label: 'spawn rate', unit: 'actors/s', kind: 'rate', better: 'higher' },
    { id: 'heap', label: 'heap per idle actor', unit: 'bytes', kind: 'memory', better: 'lower' },
  ],
  roles: { probe: probeRole },
  async open(ctx) {
    const worker = await ctx.fork('probe', undefined, { execArgv: ['--expose-gc'] });
    return {
      async round(budget) {
        const count = ctx.count(20_000, 100_000, budget);
        ctx.progress(`${count} actors, then ${count} bare entities (child pid ${worker.pid})`);
        const r = await worker.call<ProbeResult>('measure', { count });
        if (!r.gcForced) ctx.progress('warning: gc() unavailable in the child; heap figures include garbage');
        return {
          figures: {
            rate: { troupe: r.troupe.perSecond, baseline: r.baseline.perSecond },
            heap: { troupe: r.troupe.bytesPerEntity, baseline: r.baseline.bytesPerEntity },
          },
        };
      },
      close: () => worker.close(),
    };
  },
};
