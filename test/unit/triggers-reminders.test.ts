// Reminders on the embedded store and a hand-driven clock: one-shot, every, cron, cancel, claims that expire,
// two services sharing a store firing each occurrence once, and coded errors for bad input.

import { afterEach, describe, expect, it } from 'vitest';
import {
  type ActorSystem,
  createSystem,
  defineActor,
  type KeyValueStore,
  kvToken as kvTokenOf,
  ManualClock,
  memoryKeyValue,
} from '../../runtime/index.js';
import { type ReminderMessage, type Reminders, reminders } from '../../workflows/triggers/index.js';

const START = Date.parse('2026-12-01T08:59:00Z');
/** Lets the promises a timer started run to the end (store writes, the send, the handler). */
const settle = async () => {
  for (let i = 0; i < 30; i++) await new Promise((r) => setImmediate(r));
};

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function node(nodeId: string, kv: KeyValueStore, clock: ManualClock, leaseMs = 5000) {
  const system = await createSystem({ nodeId });
  const got: ReminderMessage[] = [];
  system.register(
    'inbox',
    defineActor<{ ping: { n?: number } }>({
      handlers: { ping: (m) => void got.push(m as unknown as ReminderMessage) },
    }),
  );
  const service = reminders({ system, kv, clock, leaseMs });
  cleanups.push(async () => {
    await service.close();
    await system.close();
  });
  return { system, service, got };
}

describe('reminders (embedded)', () => {
  it('a one-shot fires once with its occurrence, then is gone', async () => {
    const clock = new ManualClock(START);
    const kv = memoryKeyValue();
    const { service, got } = await node('n1', kv, clock);
    const info = await service.set('$v/inbox/a', 'once', { afterMs: 30_000 }, {
      type: 'ping',
      n: 7,
    } as never);
    expect(info).toMatchObject({ target: '$v/inbox/a', name: 'once', dueAt: START + 30_000, fired: 0 });
    expect(await service.list('$v/inbox/a')).toHaveLength(1);
    clock.advance(29_999);
    await settle();
    expect(got).toEqual([]);
    clock.advance(1);
    await settle();
    expect(got).toEqual([
      {
        type: 'ping',
        n: 7,
        reminder: { name: 'once', occurrence: `once@${START + 30_000}`, dueAt: START + 30_000 },
      },
    ]);
    expect(await service.list('$v/inbox/a')).toEqual([]);
    clock.advance(60_000);
    await settle();
    expect(got).toHaveLength(1);
    expect(service.delivered).toBe(1);
  });

  it('every: fires each period until cancelled; missed periods are coalesced into one late firing', async () => {
    const clock = new ManualClock(START);
    const kv = memoryKeyValue();
    const { service, got } = await node('n1', kv, clock);
    await service.set('$v/inbox/b', 'tick', { every: 1000 }, { type: 'ping' });
    for (let i = 0; i < 3; i++) {
      clock.advance(1000);
      await settle();
    }
    expect(got.map((m) => m.reminder.dueAt)).toEqual([START + 1000, START + 2000, START + 3000]);
    expect((await service.get('$v/inbox/b', 'tick'))?.fired).toBe(3);
    // The service is stopped for 10 periods (its node is down): one late firing, then back on the grid.
    await service.close();
    clock.advance(10_500);
    const { service: again, got: got2 } = await node('n2', kv, clock);
    clock.advance(0); // the manual clock runs timers only when moved, even those due now
    await settle();
    expect(got).toHaveLength(3);
    expect(got2.map((m) => m.reminder.dueAt)).toEqual([START + 4000]); // the first missed one, once
    expect(again.delivered).toBe(1);
    expect((await again.get('$v/inbox/b', 'tick'))?.dueAt).toBe(START + 14_000);
    expect(await again.cancel('$v/inbox/b', 'tick')).toBe(true);
    expect(await again.cancel('$v/inbox/b', 'tick')).toBe(false);
    clock.advance(5000);
    await settle();
    expect(again.delivered).toBe(1);
  });

  it('cron: fires at the schedule on the injected clock', async () => {
    const clock = new ManualClock(START); // 08:59 UTC, a Tuesday
    const kv = memoryKeyValue();
    const { service, got } = await node('n1', kv, clock);
    await service.set('$v/inbox/c', 'standup', { cron: '0 9 * * MON-FRI' }, { type: 'ping' });
    clock.advance(60_000);
    await settle();
    clock.advance(24 * 3600_000);
    await settle();
    for (let day = 0; day < 3; day++) {
      clock.advance(24 * 3600_000); // to Thursday, Friday, then Saturday 09:00: nothing on Saturday
      await settle();
    }
    expect(got.map((m) => new Date(m.reminder.dueAt).toISOString())).toEqual([
      '2026-12-01T09:00:00.000Z',
      '2026-12-02T09:00:00.000Z',
      '2026-12-03T09:00:00.000Z',
      '2026-12-04T09:00:00.000Z',
    ]);
    expect((await service.get('$v/inbox/c', 'standup'))?.dueAt).toBe(Date.parse('2026-12-07T09:00:00Z'));
  });

  it('two services on one store fire each occurrence once', async () => {
    const clock = new ManualClock(START);
    const kv = memoryKeyValue();
    const a = await node('a', kv, clock);
    const b = await node('b', kv, clock);
    for (let i = 0; i < 5; i++) await a.service.set(`$v/inbox/t${i}`, 'r', { every: 1000 }, { type: 'ping' });
    for (let i = 0; i < 4; i++) {
      clock.advance(1000);
      await settle();
    }
    const all = [...a.got, ...b.got].map((m) => `${m.reminder.occurrence}`);
    expect(all).toHaveLength(20);
    expect(a.service.delivered + b.service.delivered).toBe(20);
  });

  it('a claim left by a dead node expires after its lease and the occurrence fires', async () => {
    const clock = new ManualClock(START);
    const kv = memoryKeyValue();
    // What a node that died between claim and delivery leaves behind.
    const key = `reminders.${kvTokenOf('$v/inbox/d')}.${kvTokenOf('late')}`;
    await kv.put(
      key,
      JSON.stringify({
        v: 1,
        target: '$v/inbox/d',
        name: 'late',
        message: { type: 'ping' },
        dueAt: START - 1000,
        fired: 0,
        claim: { node: 'dead', until: START + 4000 },
      }),
    );
    const { got } = await node('n1', kv, clock);
    await settle();
    clock.advance(3999);
    await settle();
    expect(got).toEqual([]);
    clock.advance(1);
    await settle();
    expect(got.map((m) => m.reminder.occurrence)).toEqual([`late@${START - 1000}`]);
    expect(await kv.get(key)).toBeUndefined();
  });

  it('a handler sets its own reminder through of(ctx.self)', async () => {
    const clock = new ManualClock(START);
    const kv = memoryKeyValue();
    const system = await createSystem({ nodeId: 'n1' });
    const got: string[] = [];
    let service: Reminders | undefined;
    system.register(
      'timer',
      defineActor<{ start: Record<string, never>; wake: Record<string, never> }>({
        handlers: {
          start: async (_m, ctx) => {
            await service?.of(ctx.self).set('wake', { afterMs: 500 }, { type: 'wake' });
          },
          wake: (_m, ctx) => void got.push(ctx.self.address),
        },
      }),
    );
    service = reminders({ system, kv, clock });
    cleanups.push(async () => {
      await service?.close();
      await system.close();
    });
    await system.virtual('timer', 'x').send({ type: 'start' });
    await settle();
    expect(await service.of('$v/timer/x').list()).toHaveLength(1);
    clock.advance(500);
    await settle();
    expect(got).toEqual(['$v/timer/x']);
  });

  it('a reminder set anew many times fires once, at its last time', async () => {
    const clock = new ManualClock(START);
    const kv = memoryKeyValue();
    const { service, got } = await node('n1', kv, clock);
    await service.set('$v/inbox/m', 'other', { afterMs: 5000 }, { type: 'ping' });
    // Each write leaves a stale wake-up behind: enough of them to make the service rebuild its index.
    for (let i = 1; i <= 3000; i++)
      await service.set('$v/inbox/m', 'r', { afterMs: 10_000 + i }, { type: 'ping' });
    clock.advance(20_000);
    await settle();
    expect(got.map((m) => m.reminder.occurrence)).toEqual([`other@${START + 5000}`, `r@${START + 13_000}`]);
  });

  it('skips a malformed record without stopping the others', async () => {
    const clock = new ManualClock(START);
    const kv = memoryKeyValue();
    await kv.put('reminders.junk.x', '{not json');
    const { service, got } = await node('n1', kv, clock);
    await service.set('$v/inbox/e', 'ok', { afterMs: 10 }, { type: 'ping' });
    clock.advance(10);
    await settle();
    expect(got).toHaveLength(1);
  });
});

describe('reminders: store without watch, drain', () => {
  it('polls a store that cannot watch', async () => {
    const clock = new ManualClock(START);
    const inner = memoryKeyValue();
    // The same store with no watch: the service reads it every pollMs instead.
    const kv: KeyValueStore = {
      get: (k) => inner.get(k),
      create: (k, v) => inner.create(k, v),
      update: (k, v, r) => inner.update(k, v, r),
      put: (k, v) => inner.put(k, v),
      delete: (k) => inner.delete(k),
      keys: (p) => inner.keys?.(p) ?? Promise.resolve([]),
      close: () => inner.close(),
    };
    const system = await createSystem({ nodeId: 'n1' });
    const got: ReminderMessage[] = [];
    system.register(
      'inbox',
      defineActor<{ ping: Record<string, unknown> }>({
        handlers: { ping: (m) => void got.push(m as unknown as ReminderMessage) },
      }),
    );
    const service = reminders({ system, kv, clock, pollMs: 1000 });
    cleanups.push(async () => {
      await service.close();
      await system.close();
    });
    await settle();
    await service.set('$v/inbox/p', 'r', { afterMs: 100 }, { type: 'ping' });
    clock.advance(100);
    await settle();
    expect(got).toEqual([]); // not read yet
    clock.advance(900); // the poll reads it, already due
    await settle();
    clock.advance(0);
    await settle();
    expect(got.map((m) => m.reminder.name)).toEqual(['r']);
  });

  it('drain waits for the occurrence being fired, then takes no more', async () => {
    const clock = new ManualClock(START);
    const inner = memoryKeyValue();
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    const kv: KeyValueStore = {
      get: (k) => inner.get(k),
      create: (k, v) => inner.create(k, v),
      update: (k, v, r) => inner.update(k, v, r),
      put: (k, v) => inner.put(k, v),
      // The one-shot's clean-up waits: the firing is in flight until released.
      delete: async (k) => {
        await held;
        return inner.delete(k);
      },
      watch: (p, cb) => inner.watch?.(p, cb) ?? (() => {}),
      keys: (p) => inner.keys?.(p) ?? Promise.resolve([]),
      close: () => inner.close(),
    };
    const { service, got } = await node('n1', kv, clock);
    await service.set('$v/inbox/q', 'one', { afterMs: 10 }, { type: 'ping' });
    await service.set('$v/inbox/q', 'later', { afterMs: 5000 }, { type: 'ping' });
    clock.advance(10);
    await settle();
    expect(got).toHaveLength(1);
    let drained = false;
    const draining = service.drain().then(() => {
      drained = true;
    });
    await settle();
    expect(drained).toBe(false);
    release();
    await draining;
    expect(await inner.get(`reminders.${kvTokenOf('$v/inbox/q')}.${kvTokenOf('one')}`)).toBeUndefined();
    clock.advance(10_000);
    await settle();
    expect(got).toHaveLength(1); // `later` was not fired by a drained service
    expect(await service.closed()).toBeUndefined();
  });
});

describe('reminders: errors', () => {
  let system: ActorSystem;
  afterEach(async () => {
    await system?.close();
  });

  it('bad options and bad arguments throw coded errors', async () => {
    system = await createSystem({ nodeId: 'n1' });
    const kv = memoryKeyValue();
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        return (err as { code?: string }).code;
      }
      return 'no error';
    };
    expect(code(() => reminders(undefined as never))).toBe('INVALID_OPTIONS');
    expect(code(() => reminders({ system, kv: {} as never }))).toBe('INVALID_OPTIONS');
    expect(code(() => reminders({ system: {} as never, kv }))).toBe('INVALID_OPTIONS');
    expect(code(() => reminders({ system, kv, leaseMs: 0 }))).toBe('INVALID_OPTIONS');
    expect(code(() => reminders({ system, kv, prefix: 'a..b' }))).toBe('INVALID_OPTIONS');
    const service = reminders({ system, kv, fire: false });
    const rejects = async (p: Promise<unknown>) =>
      (
        await p.then(
          () => ({ code: 'resolved' }),
          (e) => e,
        )
      ).code;
    const ping = { type: 'ping' };
    expect(await rejects(service.set('$v/x/1', 'r', {}, ping))).toBe('INVALID_OPTIONS');
    expect(await rejects(service.set('$v/x/1', 'r', { at: 1, afterMs: 1 }, ping))).toBe('INVALID_OPTIONS');
    expect(await rejects(service.set('$v/x/1', 'r', { every: 5 }, ping))).toBe('INVALID_OPTIONS');
    expect(await rejects(service.set('$v/x/1', 'r', { afterMs: -1 }, ping))).toBe('INVALID_OPTIONS');
    expect(await rejects(service.set('$v/x/1', 'r', { cron: '* * *' }, ping))).toBe('INVALID_CRON');
    expect(await rejects(service.set('$v/x/1', 'r', { cron: '* * * * *', every: 1000 }, ping))).toBe(
      'INVALID_OPTIONS',
    );
    expect(await rejects(service.set('$v/x/1', '', { afterMs: 1 }, ping))).toBe('INVALID_OPTIONS');
    expect(await rejects(service.set('', 'r', { afterMs: 1 }, ping))).toBe('INVALID_OPTIONS');
    expect(await rejects(service.set('a b/c', 'r', { afterMs: 1 }, ping))).toBe('INVALID_NAME');
    expect(await rejects(service.set('$v/x/1', 'r', { afterMs: 1 }, { type: '' }))).toBe('INVALID_OPTIONS');
    const big = { type: 'ping', blob: 'x'.repeat(70_000) };
    expect(await rejects(service.set('$v/x/1', 'r', { afterMs: 1 }, big))).toBe('INVALID_OPTIONS');
    const cyclic: Record<string, unknown> = { type: 'ping' };
    cyclic.self = cyclic;
    expect(await rejects(service.set('$v/x/1', 'r', { afterMs: 1 }, cyclic as never))).toBe(
      'INVALID_OPTIONS',
    );
    await service.close();
    await service.close(); // twice is fine
    expect(await rejects(service.set('$v/x/1', 'r', { afterMs: 1 }, ping))).toBe('TRIGGER_CLOSED');
    expect(await service.closed()).toBeUndefined();
  });
});
