// Asks and replies over NATS travel in per-turn batches like tells: order, fast failure and replies must hold.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ActorSystem, defineActor, ErrorCode, type Reply, TroupeError } from '../../runtime/index.js';
import { createCodec } from '../../transport/index.js';
import { makeWorld, type NatsServerRef, startSharedNats, until, type World } from '../helpers/fixtures.js';

type Counter = { add: { n: number }; get: Reply<number[]>; echo: { v: number } & Reply<number> };

const counter = defineActor<Counter, number[]>({
  type: 'counter',
  init: () => [],
  handlers: {
    add: (msg, ctx) => {
      ctx.state.push(msg.n);
    },
    get: (_msg, ctx) => [...ctx.state],
    echo: (msg) => msg.v,
  },
});

const nats: NatsServerRef = { server: undefined };
beforeAll(() => startSharedNats(nats));
afterAll(() => nats.server?.stop());

describe('asks batched over NATS', () => {
  let world: World;
  let a: ActorSystem;
  let b: ActorSystem;

  afterEach(async () => {
    await world.dispose();
  });

  async function twoNodes(): Promise<void> {
    world = makeWorld('nats', nats);
    a = await world.node('a');
    b = await world.node('b');
  }

  it('never lets an ask overtake the tells sent before it, within a turn and across turns', async () => {
    await twoNodes();
    b.spawn(counter, { name: 'c' });
    const ref = a.ref<Counter>('b/c');
    const seen: Promise<number[]>[] = [];
    for (let n = 0; n < 300; n++) {
      ref.tell({ type: 'add', n });
      if (n % 7 === 0) seen.push(ref.ask({ type: 'get' }));
    }
    const answers = await Promise.all(seen);
    answers.forEach((list, i) => {
      expect(list).toEqual(Array.from({ length: i * 7 + 1 }, (_, k) => k));
    });
  });

  it('answers many asks made in one turn, each with its own reply', async () => {
    await twoNodes();
    b.spawn(counter, { name: 'c' });
    const ref = a.ref<Counter>('b/c');
    const values = Array.from({ length: 2000 }, (_, i) => i);
    expect(await Promise.all(values.map((v) => ref.ask({ type: 'echo', v })))).toEqual(values);
  });

  it('fails every ask of a batch that found no subscriber with NO_RESPONDERS, and dead-letters its tells', async () => {
    await twoNodes();
    const ghost = a.ref<Counter>('gone/c');
    const before = a.deadLetters.byReason()[ErrorCode.NoResponders] ?? 0;
    const asks: Promise<unknown>[] = [];
    for (let n = 0; n < 5; n++) {
      ghost.tell({ type: 'add', n });
      asks.push(ghost.ask({ type: 'echo', v: n }, { timeout: 10_000 }).catch((e: unknown) => e));
    }
    const started = performance.now();
    const errors = await Promise.all(asks);
    expect(performance.now() - started).toBeLessThan(5000);
    for (const err of errors) expect(TroupeError.is(err, ErrorCode.NoResponders)).toBe(true);
    await until(
      () => a.deadLetters.byReason()[ErrorCode.NoResponders] === before + 5,
      5000,
      'a dead letter per tell',
    );
    // A single ask (no batch) fails fast the same way.
    const single = await a
      .ref<Counter>('gone/d')
      .ask({ type: 'echo', v: 1 }, { timeout: 10_000 })
      .catch((e: unknown) => e);
    expect(TroupeError.is(single, ErrorCode.NoResponders)).toBe(true);
  });

  it('dead-letters a reply to an address that is no subject, and keeps answering', async () => {
    await twoNodes();
    b.spawn(counter, { name: 'c' });
    const before = b.deadLetters.count;
    // A forged ask whose reply address holds a space: its reply can never be published.
    await world.injectFrame(
      'b/c',
      createCodec().encode({
        kind: 0,
        target: 'b/c',
        sender: undefined,
        correlationId: '1',
        replyTo: 'a b/$r',
        deadline: undefined,
        headers: undefined,
        payload: { type: 'echo', v: 1 },
      }),
    );
    await until(() => b.deadLetters.count > before, 5000, 'the unsendable reply as a dead letter');
    expect(await a.ref<Counter>('b/c').ask({ type: 'echo', v: 2 })).toBe(2);
  });
});
