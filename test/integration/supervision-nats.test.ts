// Fault injection over a real nats-server: crashing actors lose nothing, paused subtrees catch up, poison
// messages end in dead letters, and lifecycle control and `ps` work across nodes.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ActorSystem, defineActor, ErrorCode, type Reply } from '../../runtime/index.js';
import { defineSupervisor } from '../../supervisor/index.js';
import { makeWorld, type NatsServerRef, startSharedNats, until, type World } from '../helpers/fixtures.js';

const nats: NatsServerRef = { server: undefined };
beforeAll(() => startSharedNats(nats));
afterAll(() => nats.server?.stop());

let world: World;
afterEach(() => world?.dispose());

type Sink = { item: { n: number }; poison: { why: string }; count: Reply<number>; log: Reply<number[]> };

/** Appends items to a log that outlives restarts; crashes the first time it sees every `every`th item. */
function sink(log: number[], every: number) {
  const crashed = new Set<number>();
  return defineActor<Sink, undefined>({
    type: 'sink',
    handlers: {
      item: (m) => {
        if (m.n % every === every - 1 && !crashed.has(m.n)) {
          crashed.add(m.n);
          throw new Error(`injected crash at ${m.n}`);
        }
        log.push(m.n);
      },
      poison: (m) => {
        throw new Error(m.why);
      },
      count: () => log.length,
      log: () => log,
    },
  });
}

async function twoNodes(): Promise<[ActorSystem, ActorSystem]> {
  world = makeWorld('nats', nats);
  return [await world.node('a'), await world.node('b')];
}

/** Sends `total` items from `a` at a steady pace (a burst per event-loop turn), like a live stream. */
async function stream(send: (n: number) => void, total: number, perTurn = 50): Promise<void> {
  for (let n = 0; n < total; ) {
    for (let i = 0; i < perTurn && n < total; i++, n++) send(n);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('supervision over NATS', () => {
  it('an actor that crashes on every 10th message under a steady stream loses nothing, in order', async () => {
    const [a, b] = await twoNodes();
    const log: number[] = [];
    b.spawn(
      defineSupervisor({
        intensity: { maxRestarts: 1000, withinMs: 1000 },
        children: [{ name: 'sink', actor: sink(log, 10) }],
      }),
      {
        name: 'sup',
      },
    );
    const remote = a.ref<Sink>('b/sup/sink');
    const total = 3000;
    await stream((n) => remote.tell({ type: 'item', n }), total);
    await until(() => log.length === total, 15_000, `${total} items`);
    expect(log).toEqual(Array.from({ length: total }, (_, i) => i));
    const info = b.inspect().find((i) => i.address === 'b/sup/sink');
    expect(info?.restarts).toBe(total / 10);
    expect(b.deadLetters.count).toBe(0);
  });

  it('a subtree paused for a while, then resumed, delivers everything that arrived meanwhile', async () => {
    const [a, b] = await twoNodes();
    const logs = { x: [] as number[], y: [] as number[] };
    b.spawn(
      defineSupervisor({
        children: [
          { name: 'x', actor: sink(logs.x, 1_000_000) },
          { name: 'y', actor: sink(logs.y, 1_000_000) },
        ],
      }),
      { name: 'team' },
    );
    const x = a.ref<Sink>('b/team/x');
    const y = a.ref<Sink>('b/team/y');
    await stream((n) => {
      x.tell({ type: 'item', n });
      y.tell({ type: 'item', n });
    }, 200);
    await until(() => logs.x.length === 200 && logs.y.length === 200, 10_000, 'first 200');
    await a.pause(a.ref('b/team'), { subtree: true });
    await stream((n) => {
      x.tell({ type: 'item', n: 200 + n });
      y.tell({ type: 'item', n: 200 + n });
    }, 800);
    await until(
      () => b.inspect().filter((i) => i.mailboxDepth === 800 && i.status === 'paused').length === 2,
      10_000,
      'mail to queue while paused',
    );
    expect(logs.x).toHaveLength(200);
    const listed = await a.ps();
    expect(
      listed
        .filter((i) => i.status === 'paused')
        .map((i) => i.address)
        .sort(),
    ).toEqual(['b/team', 'b/team/x', 'b/team/y']);
    await a.resume(a.ref('b/team'), { subtree: true });
    await until(() => logs.x.length === 1000 && logs.y.length === 1000, 10_000, 'all 1000 after resume');
    const expected = Array.from({ length: 1000 }, (_, i) => i);
    expect(logs.x).toEqual(expected);
    expect(logs.y).toEqual(expected);
  });

  it('a poison message ends in dead letters with its error and does not stall the actor', async () => {
    const [a, b] = await twoNodes();
    const log: number[] = [];
    // Each try of a poison message crashes the actor: 3 tries of 2 poison messages make 6 restarts.
    const sup = defineSupervisor({
      intensity: { maxRestarts: 10, withinMs: 5000 },
      children: [{ name: 'sink', actor: sink(log, 1_000_000), maxAttempts: 3 }],
    });
    b.spawn(sup, { name: 'sup' });
    const remote = a.ref<Sink>('b/sup/sink');
    for (let n = 0; n < 100; n++) {
      if (n === 50) remote.tell({ type: 'poison', why: 'indigestible' });
      remote.tell({ type: 'item', n });
    }
    await until(() => log.length === 100, 10_000, '100 items');
    expect(log).toEqual(Array.from({ length: 100 }, (_, i) => i));
    const letters = b.deadLetters.recent();
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({
      address: 'b/sup/sink',
      reason: ErrorCode.ActorCrashed,
      message: { type: 'poison', why: 'indigestible' },
    });
    expect(letters[0]?.error?.message).toContain('indigestible');
    // An ask of a poison message fails with the crash, across the wire.
    const err = await remote.ask({ type: 'poison', why: 'again' } as never).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe(ErrorCode.ActorCrashed);
    expect(await remote.ask({ type: 'count' })).toBe(100);
  });

  it('stops and terminates remote actors, and ps lists the actors of every node', async () => {
    const [a, b] = await twoNodes();
    a.spawn(sink([], 1_000_000), { name: 'local' });
    b.spawn(sink([], 1_000_000), { name: 'one' });
    b.spawn(sink([], 1_000_000), { name: 'two' });
    const all = await a.ps();
    expect(all.map((i) => i.address).sort()).toEqual(['a/local', 'b/one', 'b/two']);
    await a.stop(a.ref('b/one'));
    await a.terminate(a.ref('b/two'));
    expect(b.inspect()).toEqual([]);
  });
});
