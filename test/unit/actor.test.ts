// Unit tests of the actor model on a single in-process node: no I/O, the manual clock where time matters.

import { describe, expect, it } from 'vitest';
import { definePool } from '../../actors/index.js';
import {
  defineActor,
  ErrorCode,
  type LifecycleEvent,
  ManualClock,
  type Replier,
  type Reply,
  TroupeError,
} from '../../runtime/index.js';
import { resolveSystemOptions } from '../../runtime/internal.js';
import { systemsClosedAfterEach } from '../helpers/systems.js';

const system = systemsClosedAfterEach();

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

type Counter = { inc: { by: number }; get: Reply<number>; fail: Reply<number> };
const counter = defineActor<Counter, { n: number }>({
  type: 'counter',
  init: () => ({ n: 0 }),
  handlers: {
    inc: (msg, ctx) => {
      ctx.state.n += msg.by;
    },
    get: (_msg, ctx) => ctx.state.n,
    fail: (_msg, ctx) => {
      ctx.fail(new TroupeError('NOPE', 'refused on purpose'));
    },
  },
});

describe('actors', () => {
  it('handles tells in order and answers typed asks', async () => {
    const s = await system();
    const ref = s.spawn(counter, { name: 'c' });
    for (let i = 1; i <= 100; i++) ref.tell({ type: 'inc', by: i });
    const n: number = await ref.ask({ type: 'get' });
    expect(n).toBe(5050);
    expect(ref.address).toBe('n/c');
  });

  it('treats message types named after Object.prototype members as unhandled, over the wire too', async () => {
    const s = await system();
    const ref = s.spawn(counter, { name: 'c' });
    const names = ['constructor', 'toString', 'hasOwnProperty', 'valueOf', '__proto__', 'isPrototypeOf'];
    for (const type of names) {
      const err = await ref.ask({ type } as never, { timeout: 1000 }).catch((e: unknown) => e);
      expect(TroupeError.is(err, ErrorCode.Unhandled), type).toBe(true);
      ref.tell({ type } as never);
    }
    // The actor is still alive and its state untouched.
    ref.tell({ type: 'inc', by: 3 });
    expect(await ref.ask({ type: 'get' })).toBe(3);
    expect(s.deadLetters.byReason()[ErrorCode.Unhandled]).toBe(names.length * 2);
  });

  it('refuses unusable addresses in system.ref with INVALID_NAME, at once', async () => {
    const s = await system();
    for (const bad of [
      'srv/e x',
      'noslash',
      '',
      'a.b/c',
      'x/>',
      'x/*',
      'x//y',
      '/x',
      `x/${'y'.repeat(200)}`,
      42,
    ]) {
      let err: unknown;
      try {
        s.ref(bad as string);
      } catch (e) {
        err = e;
      }
      expect(TroupeError.is(err, ErrorCode.InvalidName), String(bad)).toBe(true);
    }
    for (const good of ['n/c', 'srv/a/b', '$v/ledger/acct-1', 'n/$0', 'node-1/team:a@x']) {
      expect(s.ref(good).address).toBe(good);
    }
  });

  it('rejects with the error a handler fails the ask with', async () => {
    const s = await system();
    const err = await s
      .spawn(counter)
      .ask({ type: 'fail' })
      .catch((e: unknown) => e);
    expect(TroupeError.is(err, 'NOPE')).toBe(true);
  });

  it('runs one message at a time even when handlers await', async () => {
    const s = await system();
    let running = 0;
    let maxRunning = 0;
    const order: number[] = [];
    const slow = defineActor<{ work: { n: number } }, undefined>({
      handlers: {
        work: async (msg) => {
          running++;
          maxRunning = Math.max(maxRunning, running);
          await new Promise((r) => setTimeout(r, msg.n % 3));
          order.push(msg.n);
          running--;
        },
      },
    });
    const ref = s.spawn(slow);
    for (let n = 0; n < 30; n++) ref.tell({ type: 'work', n });
    await s.drain();
    expect(maxRunning).toBe(1);
    expect(order).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });

  it('waits for an async init before the first message', async () => {
    const s = await system();
    const lazy = defineActor<{ get: Reply<string> }, { value: string }>({
      init: async () => {
        await new Promise((r) => setTimeout(r, 5));
        return { value: 'ready' };
      },
      handlers: { get: (_m, ctx) => ctx.state.value },
    });
    expect(await s.spawn(lazy).ask({ type: 'get' })).toBe('ready');
  });

  it('answers NO_REPLY when an ask handler returns without replying', async () => {
    const s = await system();
    const mute = defineActor<{ q: Reply<number> }, undefined>({ handlers: { q: () => undefined } });
    const err = await s
      .spawn(mute)
      .ask({ type: 'q' })
      .catch((e: unknown) => e);
    expect(TroupeError.is(err, ErrorCode.NoReply)).toBe(true);
  });

  it('replies later through deferReply, and sets ctx.sender from tell options', async () => {
    const s = await system();
    type Gate = { wait: Reply<string>; open: { word: string }; who: Reply<string | undefined> };
    const gate = defineActor<Gate, { waiting: Replier<string>[]; lastSender: string | undefined }>({
      init: () => ({ waiting: [], lastSender: undefined }),
      handlers: {
        wait: (_m, ctx) => {
          const r = ctx.deferReply();
          if (r) ctx.state.waiting.push(r);
        },
        open: (m, ctx) => {
          ctx.state.lastSender = ctx.sender?.address;
          for (const r of ctx.state.waiting) r.reply(m.word);
        },
        who: (_m, ctx) => ctx.state.lastSender,
      },
    });
    const g = s.spawn(gate);
    const other = s.spawn(counter, { name: 'other' });
    const waiting = [g.ask({ type: 'wait' }), g.ask({ type: 'wait' })];
    g.tell({ type: 'open', word: 'go' }, { sender: other });
    expect(await Promise.all(waiting)).toEqual(['go', 'go']);
    expect(await g.ask({ type: 'who' })).toBe('n/other');
  });

  it('stashes messages and unstashes them in order, ahead of newer ones', async () => {
    const s = await system();
    type Door = { open: {}; item: { n: number }; seen: Reply<number[]> };
    const door = defineActor<Door, { open: boolean; seen: number[] }>({
      init: () => ({ open: false, seen: [] }),
      handlers: {
        open: (_m, ctx) => {
          ctx.state.open = true;
          ctx.unstashAll();
        },
        item: (m, ctx) => {
          if (!ctx.state.open) ctx.stash();
          else ctx.state.seen.push(m.n);
        },
        seen: (_m, ctx) => ctx.state.seen,
      },
    });
    const d = s.spawn(door);
    for (let n = 0; n < 5; n++) d.tell({ type: 'item', n });
    d.tell({ type: 'open' });
    for (let n = 5; n < 8; n++) d.tell({ type: 'item', n });
    expect(await d.ask({ type: 'seen' })).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('fails the handler when the stash is full, and the actor is stopped', async () => {
    const s = await system();
    const hoarder = defineActor<{ item: {} }, undefined>({
      stashCapacity: 2,
      handlers: { item: (_m, ctx) => ctx.stash() },
    });
    const h = s.spawn(hoarder, { name: 'h' });
    for (let i = 0; i < 3; i++) h.tell({ type: 'item' });
    await s.drain();
    const crash = s.deadLetters.recent().find((l) => l.reason === ErrorCode.ActorCrashed);
    expect(crash?.error?.code).toBe(ErrorCode.StashFull);
    // The two stashed messages are not lost: they are dead-lettered when the actor stops.
    expect(s.deadLetters.byReason()[ErrorCode.ActorStopped]).toBe(2);
    expect(s.lookup('h')).toBeUndefined();
  });

  it('fires single and periodic timers on the injected clock, and cancels them', async () => {
    const clock = new ManualClock();
    const s = await system({ clock });
    type Ticker = {
      start: {};
      tick: {};
      once: {};
      stopTicking: {};
      count: Reply<{ ticks: number; once: number }>;
    };
    const ticker = defineActor<Ticker, { ticks: number; once: number }>({
      init: () => ({ ticks: 0, once: 0 }),
      handlers: {
        start: (_m, ctx) => {
          ctx.timers.startPeriodic('tick', { type: 'tick' }, 100);
          ctx.timers.startSingle('once', { type: 'once' }, 250);
        },
        tick: (_m, ctx) => {
          ctx.state.ticks++;
        },
        once: (_m, ctx) => {
          ctx.state.once++;
        },
        stopTicking: (_m, ctx) => ctx.timers.cancel('tick'),
        count: (_m, ctx) => ({ ticks: ctx.state.ticks, once: ctx.state.once }),
      },
    });
    const t = s.spawn(ticker);
    t.tell({ type: 'start' });
    await flush();
    clock.advance(350);
    expect(await t.ask({ type: 'count' })).toEqual({ ticks: 3, once: 1 });
    t.tell({ type: 'stopTicking' });
    await flush();
    clock.advance(1000);
    expect(await t.ask({ type: 'count' })).toEqual({ ticks: 3, once: 1 });
  });

  it('times out an ask on the injected clock without sleeping', async () => {
    const clock = new ManualClock();
    const s = await system({ clock });
    const never = defineActor<{ q: Reply<number> }, undefined>({
      handlers: { q: (_m, ctx) => void ctx.deferReply() },
    });
    const pending = s.spawn(never).ask({ type: 'q' }, { timeout: 1000 });
    const settled = pending.catch((e: unknown) => e);
    await flush();
    clock.advance(999);
    await flush();
    clock.advance(1);
    const err = await settled;
    expect(TroupeError.is(err, ErrorCode.AskTimeout)).toBe(true);
    expect(clock.pending).toBe(0);
  });

  it('dead-letters an expired message instead of handling it', async () => {
    const clock = new ManualClock();
    const s = await system({ clock });
    let handled = 0;
    type Slow = { block: {}; q: Reply<number> };
    let release!: () => void;
    const blocker = new Promise<void>((r) => {
      release = r;
    });
    const slow = defineActor<Slow, undefined>({
      handlers: {
        block: () => blocker,
        q: () => ++handled,
      },
    });
    const ref = s.spawn(slow, { name: 'slow' });
    ref.tell({ type: 'block' });
    const late = ref.ask({ type: 'q' }, { timeout: 100 }).catch((e: unknown) => e);
    clock.advance(150);
    expect(TroupeError.is(await late, ErrorCode.AskTimeout)).toBe(true);
    release();
    await s.drain();
    expect(handled).toBe(0);
    expect(s.deadLetters.byReason()[ErrorCode.Expired]).toBe(1);
  });

  it('spawns children, stops them before their parent, and names them under it', async () => {
    const s = await system();
    const stops: string[] = [];
    const leaf = defineActor<{ ping: Reply<string> }, undefined>({
      type: 'leaf',
      handlers: { ping: (_m, ctx) => ctx.self.address },
      onStop: (ctx) => {
        stops.push(ctx.self.address);
      },
    });
    type Parent = { make: { name: string } & Reply<string>; stopChild: { address: string } };
    const parent = defineActor<Parent, undefined>({
      type: 'parent',
      handlers: {
        make: (m, ctx) => ctx.spawn(leaf, { name: m.name }).address,
        stopChild: (m, ctx) => ctx.stop(ctx.refFor(m.address)),
      },
      onStop: (ctx) => {
        stops.push(ctx.self.address);
      },
    });
    const p = s.spawn(parent, { name: 'p' });
    expect(await p.ask({ type: 'make', name: 'x' })).toBe('n/p/x');
    expect(await p.ask({ type: 'make', name: 'y' })).toBe('n/p/y');
    const err = await p.ask({ type: 'make', name: 'x' }).catch((e: unknown) => e);
    expect(TroupeError.is(err, ErrorCode.ActorCrashed)).toBe(true);
    expect((err as Error).message).toContain('already exists');
    // The duplicate name crashed the parent: children stopped first, then the parent.
    await s.drain();
    expect(stops.at(-1)).toBe('n/p');
    expect(stops.slice(0, 2).sort()).toEqual(['n/p/x', 'n/p/y']);
  });

  it('stops a child on request and dead-letters what its stale ref sends', async () => {
    const s = await system();
    const c = s.spawn(counter, { name: 'c' });
    await s.stop(c);
    c.tell({ type: 'inc', by: 1 });
    const err = await c.ask({ type: 'get' }).catch((e: unknown) => e);
    expect(TroupeError.is(err, ErrorCode.ActorStopped)).toBe(true);
    expect(s.deadLetters.byReason()[ErrorCode.ActorStopped]).toBe(2);
  });

  it('reports a crash as a lifecycle event, dead-letters the mail left behind, and keeps the node up', async () => {
    const s = await system();
    const events: LifecycleEvent[] = [];
    s.onLifecycle((e) => events.push(e));
    const fragile = defineActor<{ hit: { n: number } }, undefined>({
      handlers: {
        hit: (m) => {
          if (m.n === 2) throw new Error('broken at 2');
        },
      },
    });
    const f = s.spawn(fragile, { name: 'f' });
    for (let n = 0; n < 5; n++) f.tell({ type: 'hit', n });
    await s.drain();
    expect(events.map((e) => e.type)).toEqual(['started', 'failed', 'stopped']);
    expect(events[1]?.error?.message).toContain('broken at 2');
    const reasons = s.deadLetters.byReason();
    expect(reasons[ErrorCode.ActorCrashed]).toBe(1);
    expect(reasons[ErrorCode.ActorStopped]).toBe(2);
    expect(s.deadLetters.count).toBe(3);
  });

  it('dead-letters unhandled messages, and refuses invalid ones and bad names with clear errors', async () => {
    const s = await system();
    const c = s.spawn(counter, { name: 'c' });
    c.tell({ type: 'unknown' } as never);
    await s.drain();
    expect(s.deadLetters.recent()[0]).toMatchObject({ address: 'n/c', reason: ErrorCode.Unhandled });
    const s2 = await system({ nodeId: 'm' });
    const c2 = s2.spawn(counter);
    expect(() => c2.tell(null as never)).toThrowError(
      expect.objectContaining({ code: ErrorCode.InvalidMessage }),
    );
    expect(() => s2.spawn(counter, { name: 'has.dot' })).toThrowError(
      expect.objectContaining({ code: ErrorCode.InvalidName }),
    );
    expect(() => s2.spawn(counter, { name: 'has/slash' })).toThrowError(
      expect.objectContaining({ code: ErrorCode.InvalidName }),
    );
    s2.spawn(counter, { name: 'dup' });
    expect(() => s2.spawn(counter, { name: 'dup' })).toThrowError(
      expect.objectContaining({ code: ErrorCode.NameTaken }),
    );
  });

  it('spawns thousands of anonymous actors with distinct addresses', async () => {
    const s = await system();
    const refs = Array.from({ length: 5000 }, () => s.spawn(counter));
    expect(new Set(refs.map((r) => r.address)).size).toBe(5000);
    for (const r of refs) r.tell({ type: 'inc', by: 2 });
    const totals = await Promise.all(refs.map((r) => r.ask({ type: 'get' })));
    expect(totals.every((t) => t === 2)).toBe(true);
  });

  it('routes through a pool: each worker answers the asker directly', async () => {
    const s = await system();
    type Who = { who: Reply<string> };
    const who = defineActor<Who, undefined>({ handlers: { who: (_m, ctx) => ctx.self.address } });
    const pool = s.spawn(definePool(who, { size: 3 }), { name: 'pool' });
    const answers = await Promise.all(Array.from({ length: 6 }, () => pool.ask({ type: 'who' })));
    expect(answers).toEqual(['n/pool/w0', 'n/pool/w1', 'n/pool/w2', 'n/pool/w0', 'n/pool/w1', 'n/pool/w2']);
    expect(() => definePool(who, { size: 0 })).toThrowError(expect.objectContaining({ field: 'size' }));
  });

  it('drain lets mailboxes empty; close dead-letters what is left and aborts running handlers', async () => {
    const drained = await system({ nodeId: 'd' });
    const c = drained.spawn(counter);
    let handled = 0;
    const counting = defineActor<{ x: {} }, undefined>({ handlers: { x: () => void handled++ } });
    const r = drained.spawn(counting);
    for (let i = 0; i < 1000; i++) r.tell({ type: 'x' });
    c.tell({ type: 'inc', by: 1 });
    await drained.drain();
    expect(handled).toBe(1000);

    const closed = await system({ nodeId: 'e' });
    let aborted = false;
    const waiting = defineActor<{ wait: {} }, undefined>({
      handlers: {
        wait: (_m, ctx) =>
          new Promise<void>((resolve) => {
            ctx.signal.addEventListener('abort', () => {
              aborted = true;
              resolve();
            });
          }),
      },
    });
    const w = closed.spawn(waiting);
    w.tell({ type: 'wait' });
    w.tell({ type: 'wait' });
    await flush();
    await closed.close();
    await closed.close();
    expect(aborted).toBe(true);
    expect(closed.deadLetters.byReason()[ErrorCode.ActorStopped]).toBe(1);
    expect(await closed.closed()).toBeUndefined();
  });
});

describe('fairness with the event loop', () => {
  type Loop = { go: Record<never, never>; stop: Record<never, never> };
  // The loops end by themselves after 3 s, so that without fairness the test fails (a late timer) instead of
  // hanging its worker.
  let until = 0;
  type Pong = { ball: { n: number } };

  // Each case keeps actors busy through microtasks alone; a 5 ms timer must still fire soon, and the actors must
  // have handled many messages meanwhile (they are slowed, not stopped).
  it.each([
    ['an actor telling itself from a sync handler', false],
    ['an actor telling itself from an async handler that never waits on I/O', true],
  ])('%s does not starve timers', async (_name, async) => {
    const s = await system();
    let handled = 0;
    let running = true;
    const again = (ctx: { self: { tell(m: { type: 'go' }): void } }): void => {
      handled++;
      if (running && performance.now() < until) ctx.self.tell({ type: 'go' });
    };
    const looping = defineActor<Loop, undefined>({
      type: 'looping',
      handlers: {
        go: async
          ? async (_m, ctx) => {
              await null;
              again(ctx);
            }
          : (_m, ctx) => again(ctx),
        stop: () => {
          running = false;
        },
      },
    });
    const ref = s.spawn(looping, { name: 'l' });
    const started = performance.now();
    until = started + 3000;
    const fired = new Promise<number>((resolve) => setTimeout(() => resolve(performance.now() - started), 5));
    ref.tell({ type: 'go' });
    const after = await fired;
    running = false;
    expect(after).toBeLessThan(1000);
    expect(handled).toBeGreaterThan(100);
  });

  it('two actors pinging each other do not starve timers', async () => {
    const s = await system();
    let rallies = 0;
    let running = true;
    const player = defineActor<Pong, undefined>({
      type: 'player',
      handlers: {
        ball: (m, ctx) => {
          rallies++;
          if (running && performance.now() < until)
            s.ref<Pong>(m.n % 2 === 0 ? 'n/b' : 'n/a').tell({ type: 'ball', n: m.n + 1 });
          void ctx;
        },
      },
    });
    s.spawn(player, { name: 'a' });
    const b = s.spawn(player, { name: 'b' });
    const started = performance.now();
    until = started + 3000;
    const fired = new Promise<number>((resolve) => setTimeout(() => resolve(performance.now() - started), 5));
    b.tell({ type: 'ball', n: 1 });
    const after = await fired;
    running = false;
    expect(after).toBeLessThan(1000);
    expect(rallies).toBeGreaterThan(100);
  });
});

describe('resolveSystemOptions', () => {
  it('applies defaults without touching the input', () => {
    const input = { nodeId: 'x' };
    const resolved = resolveSystemOptions(input);
    expect(resolved).toMatchObject({
      nodeId: 'x',
      askTimeoutMs: 5000,
      throughput: 300,
      transport: undefined,
    });
    expect(input).toEqual({ nodeId: 'x' });
    expect(resolveSystemOptions().nodeId).toMatch(/^n[0-9a-f]{8}$/);
  });

  it.each([
    [{ askTimeoutMs: 0 }, 'askTimeoutMs'],
    [{ throughput: 1.5 }, 'throughput'],
    [{ nodeId: 'a.b' }, 'nodeId'],
    [{ deadLetterBuffer: -1 }, 'deadLetterBuffer'],
    [{ clock: {} }, 'clock'],
    [{ transport: {} }, 'transport'],
  ])('names the bad field in %o', (options, field) => {
    expect(() => resolveSystemOptions(options as never)).toThrowError(
      expect.objectContaining({ code: ErrorCode.InvalidOptions, field }),
    );
  });
});
