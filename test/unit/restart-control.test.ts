// system.restart: a running actor restarts in place; a supervised child stopped from outside comes back from
// the spec its supervisor kept; ps and clusterDeadLetters say which node each entry comes from.

import { describe, expect, it } from 'vitest';
import { createSystem, defineActor, type Reply } from '../../runtime/index.js';
import { defineSupervisor } from '../../supervisor/index.js';

type Counter = { add: {}; get: Reply<number> };
const counter = defineActor<Counter, { n: number }>({
  type: 'counter',
  init: () => ({ n: 0 }),
  handlers: {
    add: (_m, ctx) => {
      ctx.state.n++;
    },
    get: (_m, ctx) => ctx.state.n,
  },
});

describe('system.restart', () => {
  it('restarts a running actor: same address and mailbox, fresh state', async () => {
    await using system = await createSystem({ nodeId: 'n1' });
    const ref = system.spawn(counter, { name: 'c' });
    ref.tell({ type: 'add' });
    expect(await ref.ask({ type: 'get' })).toBe(1);
    await system.restart(ref);
    expect(await ref.ask({ type: 'get' })).toBe(0);
    expect(system.inspect().find((a) => a.address === 'n1/c')?.restarts).toBe(1);
  });

  it('brings back a permanent child stopped from outside, and fails for an actor nobody knows', async () => {
    await using system = await createSystem({ nodeId: 'n1' });
    system.spawn(defineSupervisor({ children: [{ name: 'a', actor: counter, restart: 'permanent' }] }), {
      name: 'sup',
    });
    const child = system.ref<Counter>('n1/sup/a');
    child.tell({ type: 'add' });
    expect(await child.ask({ type: 'get' })).toBe(1);
    await system.stop(child);
    expect(system.lookup('sup/a')).toBeUndefined();
    await system.restart(child);
    expect(system.lookup('sup/a')).toBeDefined();
    // A new cell at the same address (a ref taken before the stop still names the stopped one).
    expect(await system.ref<Counter>('n1/sup/a').ask({ type: 'get' })).toBe(0);
    await expect(system.restart(system.ref('n1/sup/zz'))).rejects.toMatchObject({ code: 'ACTOR_NOT_FOUND' });
    await expect(system.restart(system.ref('n1/nobody'))).rejects.toMatchObject({ code: 'ACTOR_NOT_FOUND' });
  });

  it('tags ps entries and dead letters with their node', async () => {
    await using system = await createSystem({ nodeId: 'n1' });
    const ref = system.spawn(counter, { name: 'c' });
    ref.tell({ type: 'dance' } as never);
    await ref.ask({ type: 'get' });
    expect((await system.ps()).map((a) => [a.address, a.node])).toEqual([['n1/c', 'n1']]);
    const letters = await system.clusterDeadLetters();
    expect(letters).toContainEqual(
      expect.objectContaining({ node: 'n1', reason: 'UNHANDLED', address: 'n1/c' }),
    );
    expect(system.inspect()[0]).not.toHaveProperty('node');
  });
});
