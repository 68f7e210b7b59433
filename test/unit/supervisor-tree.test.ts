// Unit tests of supervisors on one in-process node: strategies, restart types, intensity, backoff and
// shutdown order, all with the manual clock (no sleeping).

import { describe, expect, it } from 'vitest';
import {
  type ActorSystem,
  createLogger,
  defineActor,
  ErrorCode,
  type LifecycleEvent,
  ManualClock,
  type Reply,
} from '../../runtime/index.js';
import { defineDynamicSupervisor, defineSupervisor, SupervisorErrorCode } from '../../supervisor/index.js';
import { settle, systemsClosedAfterEach } from '../helpers/systems.js';

const makeSystem = systemsClosedAfterEach();
const system = (clock = new ManualClock()): Promise<ActorSystem> => makeSystem({ clock });

type Worker = {
  work: { n: number };
  crash: { why: string };
  poison: { why: string };
  quit: object;
  seen: Reply<number[]>;
};

/**
 * A worker that counts its inits in `starts` and records what it handled since its last start. `crash` fails
 * on its first try only (its retry succeeds); `poison` fails every time.
 */
function worker(name: string, starts: Record<string, number>, stops: string[] = []) {
  const crashed = new Set<unknown>();
  return defineActor<Worker, { seen: number[] }>({
    type: `worker-${name}`,
    init: () => {
      starts[name] = (starts[name] ?? 0) + 1;
      return { seen: [] };
    },
    handlers: {
      work: (m, ctx) => {
        ctx.state.seen.push(m.n);
      },
      crash: (m) => {
        if (crashed.has(m)) return;
        crashed.add(m);
        throw new Error(m.why);
      },
      poison: (m) => {
        throw new Error(m.why);
      },
      quit: (_m, ctx) => ctx.stop(),
      seen: (_m, ctx) => ctx.state.seen,
    },
    onStop: () => {
      stops.push(name);
    },
  });
}

function tree(strategy: 'one-for-one' | 'one-for-all' | 'rest-for-one', starts: Record<string, number>) {
  return defineSupervisor({
    strategy,
    intensity: { maxRestarts: 10, withinMs: 1000 },
    children: ['a', 'b', 'c'].map((name) => ({ name, actor: worker(name, starts) })),
  });
}

describe('supervisor strategies', () => {
  it('one-for-one restarts only the failed child; its siblings keep their state', async () => {
    const s = await system();
    const starts: Record<string, number> = {};
    s.spawn(tree('one-for-one', starts), { name: 'sup' });
    const a = s.ref<Worker>('n/sup/a');
    const b = s.ref<Worker>('n/sup/b');
    a.tell({ type: 'work', n: 1 });
    b.tell({ type: 'crash', why: 'boom' });
    await settle();
    expect(starts).toEqual({ a: 1, b: 2, c: 1 });
    expect(await a.ask({ type: 'seen' })).toEqual([1]);
  });

  it('one-for-all restarts every child', async () => {
    const s = await system();
    const starts: Record<string, number> = {};
    s.spawn(tree('one-for-all', starts), { name: 'sup' });
    s.ref<Worker>('n/sup/a').tell({ type: 'work', n: 1 });
    s.ref<Worker>('n/sup/b').tell({ type: 'crash', why: 'boom' });
    await settle();
    expect(starts).toEqual({ a: 2, b: 2, c: 2 });
    expect(await s.ref<Worker>('n/sup/a').ask({ type: 'seen' })).toEqual([]);
  });

  it('rest-for-one restarts the failed child and those started after it', async () => {
    const s = await system();
    const starts: Record<string, number> = {};
    s.spawn(tree('rest-for-one', starts), { name: 'sup' });
    s.ref<Worker>('n/sup/b').tell({ type: 'crash', why: 'boom' });
    await settle();
    expect(starts).toEqual({ a: 1, b: 2, c: 2 });
  });

  it('reports restarts with their reason in lifecycle events and inspect()', async () => {
    const s = await system();
    const events: LifecycleEvent[] = [];
    s.onLifecycle((e) => events.push(e));
    s.spawn(tree('one-for-one', {}), { name: 'sup' });
    s.ref<Worker>('n/sup/c').tell({ type: 'crash', why: 'kaput' });
    await settle();
    const forC = events.filter((e) => e.address === 'n/sup/c').map((e) => e.type);
    expect(forC).toEqual(['started', 'failed', 'restarting', 'restarted']);
    expect(events.find((e) => e.type === 'restarted')?.error?.message).toContain('kaput');
    const info = s.inspect().find((i) => i.address === 'n/sup/c');
    expect(info).toMatchObject({ status: 'running', restarts: 1, supervisor: 'n/sup' });
    expect(info?.lastError?.message).toContain('kaput');
    const [root] = s.tree();
    expect(root?.isSupervisor).toBe(true);
    expect(root?.children.map((c) => c.address)).toEqual(['n/sup/a', 'n/sup/b', 'n/sup/c']);
  });
});

describe('a crashing stream', () => {
  it('handles every message once and in order, the crashing one retried first, one crash line per flood', async () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', format: 'json', write: (line) => lines.push(line) });
    const s = await makeSystem({ clock: new ManualClock(), logger });
    const events: string[] = [];
    s.onLifecycle((e) => e.address === 'n/sup/f' && events.push(e.type));
    const handled: number[] = [];
    const crashed = new Set<number>();
    const flaky = defineActor<{ item: { n: number }; seen: Reply<number[]> }, undefined>({
      type: 'flaky',
      handlers: {
        item: (m) => {
          if (m.n % 5 === 4 && !crashed.has(m.n)) {
            crashed.add(m.n);
            throw new Error(`crash at ${m.n}`);
          }
          handled.push(m.n);
        },
        seen: () => handled,
      },
    });
    s.spawn(
      defineSupervisor({
        intensity: { maxRestarts: 1000, withinMs: 1000 },
        children: [{ name: 'f', actor: flaky }],
      }),
      { name: 'sup' },
    );
    const f = s.ref<{ item: { n: number }; seen: Reply<number[]> }>('n/sup/f');
    for (let n = 0; n < 50; n++) f.tell({ type: 'item', n });
    expect(await f.ask({ type: 'seen' })).toEqual(Array.from({ length: 50 }, (_, n) => n));
    expect(crashed.size).toBe(10);
    const crash = ['failed', 'restarting', 'restarted'];
    expect(events).toEqual(['started', ...Array.from({ length: 10 }, () => crash).flat()]);
    expect(s.inspect().find((i) => i.address === 'n/sup/f')).toMatchObject({
      status: 'running',
      restarts: 10,
    });
    // The first crash is written with its stack, the nine others counted, and each restart is written once
    // then counted alike.
    await s.close();
    const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const crashes = logged.filter((l) => l.msg === 'actor crashed');
    expect(crashes).toEqual([
      expect.objectContaining({ crash: 'flaky handler Error', messageType: 'item', phase: 'handler' }),
      expect.objectContaining({ crash: 'flaky handler Error', count: 9, summary: true }),
    ]);
    expect(JSON.stringify(crashes[0]?.error)).toContain('crash at 4');
    const restarts = logged.filter((l) => l.msg === 'actor restarting');
    expect(restarts).toEqual([
      expect.objectContaining({ restarts: 'flaky', attempt: 1 }),
      expect.objectContaining({ restarts: 'flaky', count: 9, summary: true }),
    ]);
  });
});

describe('restart types', () => {
  it('permanent children come back after stopping themselves; transient and temporary do not', async () => {
    const s = await system();
    const starts: Record<string, number> = {};
    const sup = s.spawn(
      defineSupervisor({
        children: [
          { name: 'p', actor: worker('p', starts), restart: 'permanent' },
          { name: 't', actor: worker('t', starts), restart: 'transient' },
          { name: 'x', actor: worker('x', starts), restart: 'temporary' },
        ],
      }),
      { name: 'sup' },
    );
    for (const name of ['p', 't', 'x']) s.ref<Worker>(`n/sup/${name}`).tell({ type: 'quit' });
    await settle();
    expect(starts).toEqual({ p: 2, t: 1, x: 1 });
    const kids = await sup.ask({ type: 'children' });
    expect(kids.map((k) => [k.name, k.status])).toEqual([
      ['p', 'running'],
      ['t', 'stopped'],
    ]);
  });

  it('transient children restart after a crash; temporary ones are removed', async () => {
    const s = await system();
    const starts: Record<string, number> = {};
    const sup = s.spawn(
      defineSupervisor({
        children: [
          { name: 't', actor: worker('t', starts), restart: 'transient' },
          { name: 'x', actor: worker('x', starts), restart: 'temporary' },
        ],
      }),
      { name: 'sup' },
    );
    s.ref<Worker>('n/sup/t').tell({ type: 'crash', why: 'once' });
    s.ref<Worker>('n/sup/x').tell({ type: 'crash', why: 'once' });
    await settle();
    expect(starts).toEqual({ t: 2, x: 1 });
    expect((await sup.ask({ type: 'children' })).map((k) => k.name)).toEqual(['t']);
  });

  it('a stop from outside is final, even for a permanent child', async () => {
    const s = await system();
    const starts: Record<string, number> = {};
    s.spawn(defineSupervisor({ children: [{ name: 'p', actor: worker('p', starts) }] }), { name: 'sup' });
    await s.stop(s.ref('n/sup/p'));
    await settle();
    expect(starts).toEqual({ p: 1 });
    expect(s.lookup('sup/p')).toBeUndefined();
  });
});

describe('restart intensity and escalation', () => {
  it('a top-level supervisor past its intensity stops its children and itself', async () => {
    const s = await system();
    const starts: Record<string, number> = {};
    const stops: string[] = [];
    s.spawn(
      defineSupervisor({
        intensity: { maxRestarts: 2, withinMs: 1000 },
        children: [
          { name: 'a', actor: worker('a', starts, stops) },
          { name: 'b', actor: worker('b', starts, stops) },
        ],
      }),
      { name: 'sup' },
    );
    const b = s.ref<Worker>('n/sup/b');
    for (let i = 0; i < 3; i++) {
      b.tell({ type: 'crash', why: `crash ${i}` });
      await settle();
    }
    // Third restart within the window is one too many: b restarted twice, then the supervisor gave up.
    expect(starts.b).toBe(3);
    expect(s.lookup('sup')).toBeUndefined();
    expect(s.inspect()).toEqual([]);
    // Children stop in reverse start order.
    expect(stops.slice(-2)).toEqual(['b', 'a']);
  });

  it('restarts inside the window count; old ones slide out (manual clock)', async () => {
    const clock = new ManualClock();
    const s = await system(clock);
    const starts: Record<string, number> = {};
    s.spawn(
      defineSupervisor({
        intensity: { maxRestarts: 2, withinMs: 1000 },
        children: [{ name: 'a', actor: worker('a', starts) }],
      }),
      { name: 'sup' },
    );
    const a = s.ref<Worker>('n/sup/a');
    for (let i = 0; i < 6; i++) {
      a.tell({ type: 'crash', why: `crash ${i}` });
      await settle();
      clock.advance(600);
    }
    // Two restarts per 1000 ms are fine: 6 crashes 600 ms apart never exceed it.
    expect(starts.a).toBe(7);
    expect(s.lookup('sup')).toBeDefined();
  });

  it('escalation: a nested supervisor that gives up is restarted by its parent, children fresh', async () => {
    const s = await system();
    const starts: Record<string, number> = {};
    const inner = defineSupervisor({
      type: 'inner',
      intensity: { maxRestarts: 1, withinMs: 1000 },
      children: [{ name: 'w', actor: worker('w', starts) }],
    });
    const events: LifecycleEvent[] = [];
    s.onLifecycle((e) => events.push(e));
    s.spawn(defineSupervisor({ type: 'outer', children: [{ name: 'inner', actor: inner }] }), {
      name: 'root',
    });
    const w = s.ref<Worker>('n/root/inner/w');
    w.tell({ type: 'crash', why: 'one' });
    await settle();
    w.tell({ type: 'crash', why: 'two' });
    await settle();
    // w: start, restart by inner, then inner gave up and was restarted by root, starting w afresh.
    expect(starts.w).toBe(3);
    const innerFailed = events.find((e) => e.address === 'n/root/inner' && e.type === 'failed');
    expect(innerFailed?.error?.code).toBe(SupervisorErrorCode.IntensityExceeded);
    expect(s.inspect().find((i) => i.address === 'n/root/inner')?.restarts).toBe(1);
    expect(s.lookup('root/inner/w')).toBeDefined();
  });

  it('a child whose decider says escalate fails its supervisor', async () => {
    const s = await system();
    const starts: Record<string, number> = {};
    s.spawn(
      defineSupervisor({
        children: [
          { name: 'a', actor: worker('a', starts) },
          { name: 'e', actor: worker('e', starts), decider: () => 'escalate' },
        ],
      }),
      { name: 'sup' },
    );
    s.ref<Worker>('n/sup/e').tell({ type: 'crash', why: 'fatal' });
    await settle();
    // The top-level supervisor has no supervision: it stops, with its children.
    expect(s.lookup('sup')).toBeUndefined();
    expect(starts).toEqual({ a: 1, e: 1 });
  });
});

describe('backoff', () => {
  it('waits the backoff delay (clock time) before restarting, holding messages in order', async () => {
    const clock = new ManualClock();
    const s = await system(clock);
    const starts: Record<string, number> = {};
    s.spawn(
      defineSupervisor({
        backoff: { minMs: 100, maxMs: 1000, jitter: 0 },
        intensity: { maxRestarts: 10, withinMs: 60_000 },
        children: [{ name: 'a', actor: worker('a', starts) }],
      }),
      { name: 'sup' },
    );
    const a = s.ref<Worker>('n/sup/a');
    a.tell({ type: 'poison', why: 'first' });
    for (let n = 0; n < 5; n++) a.tell({ type: 'work', n });
    await settle();
    expect(starts.a).toBe(1);
    expect(s.inspect().find((i) => i.address === 'n/sup/a')?.status).toBe('restarting');
    clock.advance(99);
    await settle();
    expect(starts.a).toBe(1);
    clock.advance(1);
    await settle();
    expect(starts.a).toBe(2);
    // The crashing message was retried (and crashed again): the second delay doubles.
    clock.advance(199);
    await settle();
    expect(starts.a).toBe(2);
    clock.advance(1);
    await settle();
    expect(starts.a).toBe(3);
    // Third attempt crashed too: the poison message is now a dead letter; the rest were held in order.
    clock.advance(400);
    await settle();
    expect(await a.ask({ type: 'seen' })).toEqual([0, 1, 2, 3, 4]);
    const poison = s.deadLetters.recent().find((l) => l.reason === ErrorCode.ActorCrashed);
    expect(poison?.message).toEqual({ type: 'poison', why: 'first' });
    expect(poison?.error?.message).toContain('first');
  });
});

describe('shutdown', () => {
  it('stops children in reverse start order and terminates one that overruns its shutdown timeout', async () => {
    const clock = new ManualClock();
    const s = await system(clock);
    const stops: string[] = [];
    let aborted = false;
    const slow = defineActor<{ hang: object }>({
      type: 'slow',
      handlers: {
        hang: (_m, ctx) =>
          new Promise<void>((resolve) => {
            ctx.signal.addEventListener('abort', () => {
              aborted = true;
              resolve();
            });
          }),
      },
      onStop: () => {
        stops.push('slow');
      },
    });
    const sup = s.spawn(
      defineSupervisor({
        children: [
          { name: 'a', actor: worker('a', {}, stops) },
          { name: 'slow', actor: slow, shutdownTimeoutMs: 500 },
          { name: 'c', actor: worker('c', {}, stops) },
        ],
      }),
      { name: 'sup' },
    );
    s.ref('n/sup/slow').tell({ type: 'hang' });
    await settle();
    const stopping = s.stop(sup);
    await settle();
    expect(stops).toEqual(['c']);
    clock.advance(499);
    await settle();
    expect(aborted).toBe(false);
    clock.advance(1);
    await stopping;
    expect(aborted).toBe(true);
    expect(stops).toEqual(['c', 'slow', 'a']);
  });
});

describe('dynamic supervisor', () => {
  it('starts children from a template at run time and restarts them one for one', async () => {
    const s = await system();
    const starts: Record<string, number> = {};
    const sup = s.spawn(
      defineDynamicSupervisor({
        maxChildren: 2,
        child: (label: string) => ({ actor: worker(label, starts), restart: 'transient' as const }),
      }),
      { name: 'dyn' },
    );
    const first = await sup.ask({ type: 'start', args: 'x', name: 'x' });
    const second = await sup.ask({ type: 'start', args: 'y' });
    expect(first).toBe('n/dyn/x');
    expect(second).toBe('n/dyn/c0');
    const err = await sup.ask({ type: 'start', args: 'z' }).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe(SupervisorErrorCode.TooManyChildren);
    s.ref<Worker>(first).tell({ type: 'crash', why: 'once' });
    await settle();
    expect(starts).toEqual({ x: 2, y: 1 });
    expect(await sup.ask({ type: 'stopChild', name: 'x' })).toBe(true);
    expect((await sup.ask({ type: 'children' })).map((c) => c.name)).toEqual(['c0']);
  });
});
