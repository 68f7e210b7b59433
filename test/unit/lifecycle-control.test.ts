// Unit tests of one actor's lifecycle: self-supervised restarts that lose nothing, poison messages, pause and
// resume, stop and terminate during a long await, the handler watchdog, bounded mailboxes and persistence.

import { describe, expect, it } from 'vitest';
import {
  type ActorSystem,
  defineActor,
  ErrorCode,
  type LifecycleEvent,
  ManualClock,
  type Reply,
  type SystemOptions,
  TroupeError,
} from '../../runtime/index.js';
import { restartPolicy } from '../../supervisor/index.js';
import { createLocalHub, localTransport } from '../../transport/index.js';
import { settle, systemsClosedAfterEach } from '../helpers/systems.js';

const system = (options: SystemOptions = {}): Promise<ActorSystem> =>
  makeSystem({ clock: new ManualClock(), ...options });
const makeSystem = systemsClosedAfterEach();

type Log = { item: { n: number }; list: Reply<number[]>; starts: Reply<number> };

/** Records items in a log kept outside the actor (so it survives restarts); crashes on the first try of every `every`th. */
function flaky(log: number[], every: number, stats = { starts: 0 }) {
  const crashed = new Set<number>();
  return defineActor<Log, { count: number }>({
    type: 'flaky',
    supervision: { restart: restartPolicy({ maxRestarts: 1_000_000, withinMs: 1000 }) },
    init: () => {
      stats.starts++;
      return { count: 0 };
    },
    handlers: {
      item: (m, ctx) => {
        if (m.n % every === every - 1 && !crashed.has(m.n)) {
          crashed.add(m.n);
          throw new Error(`crash on ${m.n}`);
        }
        ctx.state.count++;
        log.push(m.n);
      },
      list: () => log,
      starts: () => stats.starts,
    },
  });
}

describe('self-supervised restarts', () => {
  it('an actor that crashes on every 10th message loses nothing and keeps the order', async () => {
    const s = await system();
    const log: number[] = [];
    const stats = { starts: 0 };
    const ref = s.spawn(flaky(log, 10, stats), { name: 'f' });
    for (let n = 0; n < 1000; n++) ref.tell({ type: 'item', n });
    expect(await ref.ask({ type: 'list' })).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(stats.starts).toBe(101);
    expect(s.inspect()[0]).toMatchObject({ restarts: 100, status: 'running', processed: 1001 });
    expect(s.deadLetters.count).toBe(0);
  });

  it('a poison message is retried maxAttempts times, then dead-lettered with its error; the rest go on', async () => {
    const s = await system();
    const seen: number[] = [];
    let tries = 0;
    const ref = s.spawn(
      defineActor<{ item: { n: number }; poison: Reply<number> }, undefined>({
        supervision: { maxAttempts: 4 },
        handlers: {
          item: (m) => {
            seen.push(m.n);
          },
          poison: () => {
            tries++;
            throw new TypeError('cannot digest');
          },
        },
      }),
    );
    ref.tell({ type: 'item', n: 1 });
    const asked = ref.ask({ type: 'poison' }).catch((e: unknown) => e);
    ref.tell({ type: 'item', n: 2 });
    const err = await asked;
    expect(TroupeError.is(err, ErrorCode.ActorCrashed)).toBe(true);
    expect((err as Error).message).toContain('cannot digest');
    await settle();
    expect(tries).toBe(4);
    expect(seen).toEqual([1, 2]);
    const letters = s.deadLetters.recent();
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ reason: ErrorCode.ActorCrashed, message: { type: 'poison' } });
    expect(letters[0]?.error?.message).toContain('cannot digest');
  });

  it('the decider chooses: resume keeps state, stop ends the actor', async () => {
    const s = await system();
    type P = { add: { n: number }; fail: { how: 'resume' | 'stop' }; sum: Reply<number> };
    const def = defineActor<P, { sum: number }>({
      supervision: {
        decider: (e) => ((e as Error).message === 'resume' ? 'resume' : 'stop'),
        maxAttempts: 1,
      },
      init: () => ({ sum: 0 }),
      handlers: {
        add: (m, ctx) => {
          ctx.state.sum += m.n;
        },
        fail: (m) => {
          throw new Error(m.how);
        },
        sum: (_m, ctx) => ctx.state.sum,
      },
    });
    const ref = s.spawn(def, { name: 'r' });
    ref.tell({ type: 'add', n: 5 });
    ref.tell({ type: 'fail', how: 'resume' });
    ref.tell({ type: 'add', n: 2 });
    expect(await ref.ask({ type: 'sum' })).toBe(7);
    ref.tell({ type: 'fail', how: 'stop' });
    await settle();
    expect(s.lookup('r')).toBeUndefined();
  });

  it('gives up past its restart intensity and stops with RESTART_LIMIT', async () => {
    const s = await system();
    const ref = s.spawn(
      defineActor<{ boom: object }>({
        supervision: { restart: restartPolicy({ maxRestarts: 2, withinMs: 1000 }), maxAttempts: 10 },
        handlers: {
          boom: () => {
            throw new Error('always');
          },
        },
      }),
      { name: 'b' },
    );
    const stopped: LifecycleEvent[] = [];
    s.onLifecycle((e) => e.type === 'stopped' && stopped.push(e));
    ref.tell({ type: 'boom' });
    await settle();
    expect(stopped).toHaveLength(1);
    const letter = s.deadLetters.recent().find((l) => l.reason === ErrorCode.ActorCrashed);
    expect(letter?.error?.message).toContain('always');
  });

  it('retries a failing init with backoff on the injected clock', async () => {
    const clock = new ManualClock();
    const s = await system({ clock });
    let inits = 0;
    const ref = s.spawn(
      defineActor<{ ping: Reply<string> }, undefined>({
        supervision: {
          restart: restartPolicy({ maxRestarts: 5, withinMs: 60_000, backoff: { minMs: 1000, jitter: 0 } }),
        },
        init: () => {
          inits++;
          if (inits < 3) throw new Error('not yet');
          return undefined;
        },
        handlers: { ping: () => 'pong' },
      }),
    );
    const reply = ref.ask({ type: 'ping' }, { timeout: 60_000 });
    await settle();
    expect(inits).toBe(1);
    clock.advance(1000);
    await settle();
    expect(inits).toBe(2);
    clock.advance(2000);
    await settle();
    expect(inits).toBe(3);
    expect(await reply).toBe('pong');
  });

  it('restores persisted state on restart', async () => {
    const s = await system();
    const store = new Map<string, number>();
    const crashed = new Set<number>();
    type P = { add: { n: number }; total: Reply<number> };
    const ref = s.spawn(
      defineActor<P, { total: number }>({
        supervision: {},
        init: () => ({ total: 0 }),
        persistence: {
          load: (ctx) => {
            const total = store.get(ctx.self.address);
            return total === undefined ? undefined : { total };
          },
          save: async (state, ctx) => {
            store.set(ctx.self.address, state.total);
          },
        },
        handlers: {
          add: (m, ctx) => {
            if (m.n === 3 && !crashed.has(m.n)) {
              crashed.add(m.n);
              throw new Error('flake');
            }
            ctx.state.total += m.n;
          },
          total: (_m, ctx) => ctx.state.total,
        },
      }),
    );
    for (const n of [1, 2, 3, 4]) ref.tell({ type: 'add', n });
    expect(await ref.ask({ type: 'total' })).toBe(10);
  });
  it('restarts from the saved state after a failed save, even when the decider says resume', async () => {
    const s = await system();
    const store = new Map<string, number>();
    let failOnce = true;
    type P = { add: { n: number }; total: Reply<number> };
    const ref = s.spawn(
      defineActor<P, { total: number }>({
        supervision: { decider: () => 'resume' },
        init: () => ({ total: 0 }),
        persistence: {
          load: (ctx) => {
            const total = store.get(ctx.self.address);
            return total === undefined ? undefined : { total };
          },
          save: (state, ctx) => {
            if (state.total === 6 && failOnce) {
              failOnce = false;
              throw new Error('store down');
            }
            store.set(ctx.self.address, state.total);
          },
        },
        handlers: {
          add: (m, ctx) => {
            ctx.state.total += m.n;
          },
          total: (_m, ctx) => ctx.state.total,
        },
      }),
    );
    for (const n of [1, 2, 3, 4, 5]) ref.tell({ type: 'add', n });
    // Resuming would have kept the unsaved 3 in memory and added it again on the retry: 18.
    expect(await ref.ask({ type: 'total' })).toBe(15);
    expect(failOnce).toBe(false);
    expect(store.get(ref.address)).toBe(15);
  });
});

describe('pause, resume, stop, terminate', () => {
  it('pause holds messages in order; resume delivers them all', async () => {
    const s = await system();
    const log: number[] = [];
    const ref = s.spawn(flaky(log, 1_000_000), { name: 'p' });
    ref.tell({ type: 'item', n: 0 });
    await settle();
    await s.pause(ref);
    for (let n = 1; n <= 50; n++) ref.tell({ type: 'item', n });
    await settle();
    expect(log).toEqual([0]);
    expect(s.inspect()[0]).toMatchObject({ status: 'paused', mailboxDepth: 50 });
    await s.resume(ref);
    expect(await ref.ask({ type: 'list' })).toEqual(Array.from({ length: 51 }, (_, i) => i));
  });

  it('pauses and resumes a whole subtree', async () => {
    const s = await system();
    const child = defineActor<{ hit: object; hits: Reply<number> }, { hits: number }>({
      init: () => ({ hits: 0 }),
      handlers: {
        hit: (_m, ctx) => {
          ctx.state.hits++;
        },
        hits: (_m, ctx) => ctx.state.hits,
      },
    });
    const parent = defineActor<{ make: Reply<string> }>({
      handlers: { make: (_m, ctx) => ctx.spawn(child, { name: 'k' }).address },
    });
    const p = s.spawn(parent, { name: 'p' });
    const k = s.ref<{ hit: object; hits: Reply<number> }>(await p.ask({ type: 'make' }));
    await s.pause(p, { subtree: true });
    k.tell({ type: 'hit' });
    await settle();
    expect(s.inspect().map((i) => i.status)).toEqual(['paused', 'paused']);
    await s.resume(p, { subtree: true });
    expect(await k.ask({ type: 'hits' })).toBe(1);
  });

  it('stop lets a long handler finish and runs cleanup; the rest of the mail is dead-lettered', async () => {
    const s = await system();
    let release!: () => void;
    const events: string[] = [];
    const ref = s.spawn(
      defineActor<{ think: Reply<string>; later: object }>({
        handlers: {
          think: async (_m, ctx) => {
            await new Promise<void>((resolve) => {
              release = resolve;
            });
            events.push(`done, aborted=${ctx.signal.aborted}`);
            return 'thought';
          },
          later: () => {
            events.push('later');
          },
        },
        onStop: () => {
          events.push('cleanup');
        },
      }),
    );
    const answer = ref.ask({ type: 'think' });
    ref.tell({ type: 'later' });
    await settle();
    const stopped = s.stop(ref);
    await settle();
    expect(events).toEqual([]);
    release();
    await stopped;
    expect(await answer).toBe('thought');
    expect(events).toEqual(['done, aborted=false', 'cleanup']);
    expect(s.deadLetters.byReason()[ErrorCode.ActorStopped]).toBe(1);
  });

  it('terminate aborts the running handler at once; its asker gets ACTOR_STOPPED', async () => {
    const s = await system();
    let reason: unknown;
    const ref = s.spawn(
      defineActor<{ think: Reply<string> }>({
        handlers: {
          think: (_m, ctx) =>
            new Promise<string>(() => {
              ctx.signal.addEventListener('abort', () => {
                reason = ctx.signal.reason;
              });
            }),
        },
      }),
    );
    const answer = ref.ask({ type: 'think' }).catch((e: unknown) => e);
    await settle();
    await s.terminate(ref);
    expect(TroupeError.is(reason, ErrorCode.ActorStopped)).toBe(true);
    expect(TroupeError.is(await answer, ErrorCode.ActorStopped)).toBe(true);
  });

  it('emits paused and resumed events', async () => {
    const s = await system();
    const types: string[] = [];
    s.onLifecycle((e) => types.push(e.type));
    const ref = s.spawn(flaky([], 1_000_000));
    await s.pause(ref);
    await s.resume(ref);
    await s.stop(ref);
    expect(types).toEqual(['started', 'paused', 'resumed', 'stopped']);
  });

  it('controls actors on another node with system envelopes, and ps lists every node', async () => {
    const hub = createLocalHub();
    const a = await system({ nodeId: 'a', transport: localTransport({ hub }) });
    const b = await system({ nodeId: 'b', transport: localTransport({ hub }) });
    const log: number[] = [];
    b.spawn(flaky(log, 1_000_000), { name: 'w' });
    const remote = a.ref<Log>('b/w');
    await a.pause(remote);
    for (let n = 0; n < 10; n++) remote.tell({ type: 'item', n });
    await settle();
    expect(log).toEqual([]);
    const listed = await a.ps();
    expect(listed.map((i) => [i.address, i.status, i.mailboxDepth])).toEqual([['b/w', 'paused', 10]]);
    await a.resume(remote);
    expect(await remote.ask({ type: 'list' })).toHaveLength(10);
    await a.stop(remote);
    expect(b.lookup('w')).toBeUndefined();
  });
});

describe('watchdog and bounded mailboxes', () => {
  it('a handler past its deadline counts as a crash: its signal aborts and the actor restarts', async () => {
    const clock = new ManualClock();
    const s = await system({ clock });
    let aborted: unknown;
    let starts = 0;
    const ref = s.spawn(
      defineActor<{ slow: Reply<string>; fast: Reply<string> }>({
        handlerTimeoutMs: 1000,
        supervision: { maxAttempts: 1 },
        init: () => {
          starts++;
          return undefined;
        },
        handlers: {
          slow: (_m, ctx) =>
            new Promise<string>(() => {
              ctx.signal.addEventListener('abort', () => {
                aborted = ctx.signal.reason;
              });
            }),
          fast: () => 'quick',
        },
      }),
    );
    const slow = ref.ask({ type: 'slow' }, { timeout: 60_000 }).catch((e: unknown) => e);
    const fast = ref.ask({ type: 'fast' }, { timeout: 60_000 });
    await settle();
    clock.advance(999);
    await settle();
    expect(aborted).toBeUndefined();
    clock.advance(1);
    expect(TroupeError.is(aborted, ErrorCode.HandlerTimeout)).toBe(true);
    const err = await slow;
    expect(TroupeError.is(err, ErrorCode.ActorCrashed)).toBe(true);
    expect(await fast).toBe('quick');
    expect(starts).toBe(2);
  });

  it('an unsupervised handler past its deadline stops the actor like any crash', async () => {
    const clock = new ManualClock();
    const s = await system({ clock });
    const ref = s.spawn(
      defineActor<{ slow: Reply<string> }>({ handlers: { slow: () => new Promise<string>(() => {}) } }),
      { name: 'x', handlerTimeoutMs: 10 },
    );
    const err = ref.ask({ type: 'slow' }, { timeout: 60_000 }).catch((e: unknown) => e);
    await settle();
    clock.advance(10);
    expect(TroupeError.is(await err, ErrorCode.ActorCrashed)).toBe(true);
    await settle();
    expect(s.lookup('x')).toBeUndefined();
  });

  const gate = () => {
    let open!: () => void;
    const opened = new Promise<void>((resolve) => {
      open = resolve;
    });
    const seen: number[] = [];
    const def = defineActor<{ item: { n: number } & Reply<number> }>({
      handlers: {
        item: async (m) => {
          await opened;
          seen.push(m.n);
          return m.n;
        },
      },
    });
    return { open: () => open(), seen, def };
  };

  it('reject: a full mailbox refuses the new message; an ask fails with MAILBOX_FULL', async () => {
    const s = await system();
    const g = gate();
    const ref = s.spawn(g.def, { mailbox: { capacity: 2, overflow: 'reject' } });
    const first = ref.ask({ type: 'item', n: 0 });
    await settle();
    const asks = [first, ...[1, 2, 3].map((n) => ref.ask({ type: 'item', n }).catch((e: unknown) => e))];
    await settle();
    // 0 is being handled, 1 and 2 fill the mailbox, 3 is refused.
    expect(TroupeError.is(await asks[3], ErrorCode.MailboxFull)).toBe(true);
    g.open();
    expect(await Promise.all(asks.slice(0, 3))).toEqual([0, 1, 2]);
    expect(s.deadLetters.byReason()[ErrorCode.MailboxFull]).toBe(1);
  });

  it('drop-oldest makes room by dropping the oldest queued message; drop-newest drops the new one', async () => {
    const s = await system();
    const oldest = gate();
    const a = s.spawn(oldest.def, { mailbox: { capacity: 2, overflow: 'drop-oldest' } });
    a.tell({ type: 'item', n: 0 });
    await settle();
    for (const n of [1, 2, 3]) a.tell({ type: 'item', n });
    oldest.open();
    await settle();
    expect(oldest.seen).toEqual([0, 2, 3]);
    const newest = gate();
    const b = s.spawn(newest.def, { mailbox: { capacity: 2, overflow: 'drop-newest' } });
    b.tell({ type: 'item', n: 0 });
    await settle();
    for (const n of [1, 2, 3]) b.tell({ type: 'item', n });
    newest.open();
    await settle();
    expect(newest.seen).toEqual([0, 1, 2]);
    expect(s.deadLetters.byReason()[ErrorCode.MailboxFull]).toBe(2);
  });

  it('rejects bad limits at spawn with a clear error', async () => {
    const s = await system();
    const def = defineActor<{ x: object }>({ handlers: { x: () => undefined } });
    expect(() => s.spawn(def, { mailbox: { capacity: 0 } })).toThrowError(/mailbox.capacity/);
    expect(() => s.spawn(def, { handlerTimeoutMs: -5 })).toThrowError(/handlerTimeoutMs/);
    expect(() => defineActor({ handlers: {}, supervision: { maxAttempts: 0 } })).toThrowError(/maxAttempts/);
  });
});
