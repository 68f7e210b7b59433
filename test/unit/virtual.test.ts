// Virtual actors on one node: activation by first message, passivation when idle or over the cap.

import { afterEach, describe, expect, it } from 'vitest';
import {
  type ActorSystem,
  createSystem,
  defineActor,
  ErrorCode,
  leastLoadedPlacement,
  ManualClock,
  type PlacementStrategy,
  preferLocalPlacement,
  type Reply,
  TroupeError,
} from '../../runtime/index.js';
import { createLocalHub, localTransport } from '../../transport/index.js';

type Account = { deposit: { amount: number }; balance: Reply<number>; whoami: Reply<string> };
let activations = 0;
let passivations = 0;
const account = defineActor<Account, { balance: number }>({
  type: 'account',
  init: () => {
    activations++;
    return { balance: 0 };
  },
  handlers: {
    deposit: (m, ctx) => {
      ctx.state.balance += m.amount;
    },
    balance: (_m, ctx) => ctx.state.balance,
    whoami: (_m, ctx) => ctx.self.address,
  },
  onStop: () => {
    passivations++;
  },
});

const systems: ActorSystem[] = [];
afterEach(async () => {
  await Promise.all(systems.splice(0).map((s) => s.close()));
  activations = 0;
  passivations = 0;
});

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('virtual actors', () => {
  it('activates on the first message, keeps state, and is addressed by type and id', async () => {
    const s = await createSystem({ nodeId: 'n' });
    systems.push(s);
    s.register('account', account);
    const a = s.virtual<Account>('account', 'alice');
    a.tell({ type: 'deposit', amount: 5 });
    a.tell({ type: 'deposit', amount: 7 });
    expect(await a.ask({ type: 'balance' })).toBe(12);
    expect(await s.virtual<Account>('account', 'alice').ask({ type: 'whoami' })).toBe('$v/account/alice');
    expect(await s.virtual<Account>('account', 'bob').ask({ type: 'balance' })).toBe(0);
    expect(activations).toBe(2);
  });

  it('passivates idle actors on the clock and reactivates them on the next message', async () => {
    const clock = new ManualClock();
    const s = await createSystem({ nodeId: 'n', clock });
    systems.push(s);
    s.register('account', account, { passivateAfterMs: 1000 });
    const a = s.virtual<Account>('account', 'alice');
    a.tell({ type: 'deposit', amount: 5 });
    await flush();
    clock.advance(600);
    expect(await a.ask({ type: 'balance' })).toBe(5);
    clock.advance(600);
    await flush();
    expect(passivations).toBe(0);
    clock.advance(1000);
    await flush();
    expect(passivations).toBe(1);
    // No persistence configured: a reactivated actor starts from init.
    expect(await a.ask({ type: 'balance' })).toBe(0);
    expect(activations).toBe(2);
  });

  it('holds mail that arrives while an instance is stopping, then gives it to a fresh one with the saved state', async () => {
    const s = await createSystem({ nodeId: 'n' });
    systems.push(s);
    const store = new Map<string, { balance: number }>();
    let releaseStop!: () => void;
    const stopGate = new Promise<void>((resolve) => {
      releaseStop = resolve;
    });
    type Quitter = Account & { quit: {} };
    const quitter = defineActor<Quitter, { balance: number }>({
      type: 'quitter',
      init: () => ({ balance: 0 }),
      handlers: {
        deposit: (m, ctx) => {
          ctx.state.balance += m.amount;
        },
        balance: (_m, ctx) => ctx.state.balance,
        whoami: (_m, ctx) => ctx.self.address,
        quit: (_m, ctx) => ctx.stop(),
      },
      persistence: {
        load: (ctx) => store.get(ctx.self.address),
        save: (state, ctx) => {
          store.set(ctx.self.address, { ...state });
        },
      },
      onStop: () => stopGate,
    });
    s.register('quitter', quitter, { passivateAfterMs: 0 });
    const a = s.virtual<Quitter>('quitter', 'alice');
    a.tell({ type: 'deposit', amount: 5 });
    a.tell({ type: 'quit' });
    await flush();
    expect(s.inspect().find((i) => i.address === '$v/quitter/alice')?.status).toBe('stopping');
    // The instance is stopping now (its onStop waits): this deposit must not be dead-lettered.
    a.tell({ type: 'deposit', amount: 3 });
    const balance = a.ask({ type: 'balance' }, { timeout: 10_000 });
    await flush();
    releaseStop();
    expect(await balance).toBe(8);
    expect(s.deadLetters.count).toBe(0);
  });

  it('passivates the least recently used when the node is over its cap', async () => {
    const s = await createSystem({ nodeId: 'n', maxActiveVirtual: 2 });
    systems.push(s);
    s.register('account', account, { passivateAfterMs: 0 });
    for (const id of ['a', 'b']) await s.virtual<Account>('account', id).ask({ type: 'balance' });
    await s.virtual<Account>('account', 'a').ask({ type: 'balance' });
    await s.virtual<Account>('account', 'c').ask({ type: 'balance' });
    await flush();
    expect(passivations).toBe(1);
    const active = s
      .inspect()
      .filter((i) => i.address.startsWith('$v/'))
      .map((i) => i.address);
    expect(active.sort()).toEqual(['$v/account/a', '$v/account/c']);
  });

  it('dead-letters messages for a type nobody registered, and refuses bad registrations', async () => {
    const s = await createSystem({ nodeId: 'n' });
    systems.push(s);
    const err = await s
      .virtual<Account>('ghost', 'x')
      .ask({ type: 'balance' })
      .catch((e: unknown) => e);
    expect(TroupeError.is(err, ErrorCode.ActorNotFound)).toBe(true);
    s.register('account', account);
    expect(() => s.register('account', account)).toThrowError(
      expect.objectContaining({ code: ErrorCode.NameTaken }),
    );
    expect(() => s.register('bad.type', account)).toThrowError(
      expect.objectContaining({ code: ErrorCode.InvalidName }),
    );
    expect(() =>
      s.register('other', account, { placement: leastLoadedPlacement(), durable: true }),
    ).toThrowError(expect.objectContaining({ field: 'placement' }));
    expect(() => s.virtual('account', 'has space')).toThrowError(
      expect.objectContaining({ code: ErrorCode.InvalidName }),
    );
  });

  it('places by load or next to the first sender on a hub, once per actor', async () => {
    const hub = createLocalHub();
    const node = async (nodeId: string, placement?: PlacementStrategy) => {
      const n = await createSystem({ nodeId, transport: localTransport({ hub }) });
      systems.push(n);
      if (placement) {
        n.register('account', account, { placement, passivateAfterMs: 0 });
        n.register('near', account, { placement: preferLocalPlacement(), passivateAfterMs: 0 });
      }
      return n;
    };
    const a = await node('a', leastLoadedPlacement());
    const b = await node('b', leastLoadedPlacement());
    const c = await node('c', leastLoadedPlacement());
    const client = await node('client');
    for (let i = 0; i < 4; i++) a.spawn(account);
    const on = (n: ActorSystem, type: string) =>
      n.inspect().filter((i) => i.address.startsWith(`$v/${type}/`)).length;
    for (const id of ['x1', 'x2', 'x3', 'x4']) {
      client.virtual<Account>('account', id).tell({ type: 'deposit', amount: 1 });
      await client.virtual<Account>('account', id).ask({ type: 'balance' });
    }
    // a already hosts 4 actors: the 4 new ones go to b and c.
    expect([on(a, 'account'), on(b, 'account'), on(c, 'account')]).toEqual([0, 2, 2]);
    for (const id of ['x1', 'x2', 'x3', 'x4']) {
      expect(await client.virtual<Account>('account', id).ask({ type: 'balance' })).toBe(1);
    }
    // Prefer-local: the first sender's node hosts it, and later senders reach that same instance.
    c.virtual<Account>('near', 'p').tell({ type: 'deposit', amount: 5 });
    expect(await a.virtual<Account>('near', 'p').ask({ type: 'balance' })).toBe(5);
    expect([on(a, 'near'), on(b, 'near'), on(c, 'near')]).toEqual([0, 0, 1]);
    // From a node that hosts no such type, prefer-local falls back to the least loaded.
    expect(await client.virtual<Account>('near', 'q').ask({ type: 'balance' })).toBe(0);
    expect(on(a, 'near')).toBe(0);
  });
});
