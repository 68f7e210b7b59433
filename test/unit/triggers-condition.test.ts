// Condition triggers over an in-process event source: predicates and condition strings, windows with
// aggregates, cooldowns (local and shared through a store), and a loop that survives what throws.

import { afterEach, describe, expect, it } from 'vitest';
import {
  createLogger,
  createSystem,
  defineActor,
  ManualClock,
  memoryKeyValue,
  memoryTopicBus,
} from '../../runtime/index.js';
import {
  type ConditionTrigger,
  conditionTrigger,
  type EventSource,
  topicSource,
} from '../../workflows/triggers/index.js';

interface Reading {
  sensor: string;
  level?: string;
  value: number;
}

/** An in-process event source: `emit` awaits the trigger's handling, as a durable source's ack would. */
function emitter<E>() {
  const handlers = new Set<(e: E) => Promise<void>>();
  const source: EventSource<E> = (handler) => {
    handlers.add(handler);
    return () => void handlers.delete(handler);
  };
  return {
    source,
    get listeners() {
      return handlers.size;
    },
    emit: (e: E) => Promise.all([...handlers].map((h) => h(e))),
  };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(logLines?: string[]) {
  const system = await createSystem({
    nodeId: 'n1',
    ...(logLines
      ? { logger: createLogger({ level: 'warn', format: 'json', write: (l) => logLines.push(l) }) }
      : {}),
  });
  const got: { type: string; [k: string]: unknown }[] = [];
  system.register(
    'oncall',
    defineActor<{ investigate: Record<string, unknown> }>({
      handlers: { investigate: (m) => void got.push(m as never) },
    }),
  );
  cleanups.push(() => system.close());
  return { system, got };
}

const settle = async () => {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
};

function track<E>(t: ConditionTrigger<E>): ConditionTrigger<E> {
  cleanups.unshift(() => t.close());
  return t;
}

describe('condition triggers', () => {
  it('a predicate sends on matching events only', async () => {
    const { system, got } = await setup();
    const events = emitter<Reading>();
    const trigger = track(
      await conditionTrigger<Reading>({
        system,
        source: events.source,
        when: (e) => e.value > 100,
        send: (e) => ({ to: '$v/oncall/primary', message: { type: 'investigate', sensor: e.sensor } }),
      }),
    );
    for (const value of [5, 150, 99, 101]) await events.emit({ sensor: `s${value}`, value });
    await settle();
    expect(got.map((m) => m.sensor)).toEqual(['s150', 's101']);
    expect(trigger.stats).toEqual({ events: 4, matched: 2, cooling: 0, sent: 2, errors: 0 });
  });

  it('a condition string over the event and a window with aggregates', async () => {
    const { system, got } = await setup();
    const clock = new ManualClock(0);
    const events = emitter<Reading>();
    track(
      await conditionTrigger<Reading>({
        system,
        clock,
        source: events.source,
        when: 'event.level == "error" && window.count >= 3 && window.sum > 100',
        window: { ms: 10_000, field: 'value' },
        resetWindowOnSend: true,
        send: (e, w) => ({
          to: '$v/oncall/primary',
          message: { type: 'investigate', sensor: e.sensor, count: w.count, avg: w.avg },
        }),
      }),
    );
    await events.emit({ sensor: 'a', level: 'error', value: 50 });
    await events.emit({ sensor: 'b', level: 'info', value: 50 });
    clock.advance(11_000); // both fall out of the window
    await events.emit({ sensor: 'c', level: 'error', value: 40 });
    await events.emit({ sensor: 'd', level: 'info', value: 40 });
    await events.emit({ sensor: 'e', level: 'error', value: 30 }); // 3 events, sum 110
    await events.emit({ sensor: 'f', level: 'error', value: 60 }); // window emptied on send: count 1
    await settle();
    expect(got).toEqual([{ type: 'investigate', sensor: 'e', count: 3, avg: 110 / 3 }]);
  });

  it('a throwing condition is logged (rate-limited) and the loop goes on', async () => {
    const lines: string[] = [];
    const { system, got } = await setup(lines);
    const events = emitter<Reading>();
    const trigger = track(
      await conditionTrigger<Reading>({
        system,
        name: 'flaky',
        source: events.source,
        when: (e) => {
          if (e.sensor === 'bad') throw new Error('boom');
          return true;
        },
        send: (e) =>
          e.sensor === 'nowhere'
            ? { to: 'not a valid address', message: { type: 'investigate' } }
            : { to: '$v/oncall/primary', message: { type: 'investigate', sensor: e.sensor } },
      }),
    );
    await events.emit({ sensor: 'ok1', value: 1 });
    for (let i = 0; i < 50; i++) await events.emit({ sensor: 'bad', value: 1 });
    await events.emit({ sensor: 'nowhere', value: 1 });
    await events.emit({ sensor: 'ok2', value: 1 });
    await settle();
    expect(got.map((m) => m.sensor)).toEqual(['ok1', 'ok2']);
    expect(trigger.stats).toMatchObject({ events: 53, errors: 51, sent: 2 });
    const warnings = lines.map((l) => JSON.parse(l) as { msg: string; kind: string });
    expect(warnings.filter((w) => w.kind === 'condition')).toHaveLength(1); // 50 failures, one line
    expect(warnings.filter((w) => w.kind === 'send')).toHaveLength(1);
  });

  it('cooldown drops matches for a while after a send', async () => {
    const { system, got } = await setup();
    const clock = new ManualClock(1000);
    const events = emitter<Reading>();
    const trigger = track(
      await conditionTrigger<Reading>({
        system,
        clock,
        cooldownMs: 5000,
        source: events.source,
        when: () => true,
        send: (e) => ({ to: '$v/oncall/primary', message: { type: 'investigate', sensor: e.sensor } }),
      }),
    );
    await events.emit({ sensor: 'a', value: 1 });
    await events.emit({ sensor: 'b', value: 1 });
    clock.advance(4999);
    await events.emit({ sensor: 'c', value: 1 });
    clock.advance(1);
    await events.emit({ sensor: 'd', value: 1 });
    await settle();
    expect(got.map((m) => m.sensor)).toEqual(['a', 'd']);
    expect(trigger.stats.cooling).toBe(2);
  });

  it('with kv, two triggers over one broadcast share a cooldown: one send per period', async () => {
    const { system, got } = await setup();
    const clock = new ManualClock(1000);
    const kv = memoryKeyValue();
    const events = emitter<Reading>();
    const make = () =>
      conditionTrigger<Reading>({
        system,
        clock,
        kv,
        name: 'shared',
        cooldownMs: 5000,
        source: events.source,
        when: () => true,
        send: (e) => ({ to: '$v/oncall/primary', message: { type: 'investigate', sensor: e.sensor } }),
      });
    const [a, b] = [track(await make()), track(await make())];
    await events.emit({ sensor: 'x', value: 1 });
    await events.emit({ sensor: 'y', value: 1 });
    clock.advance(5000);
    await events.emit({ sensor: 'z', value: 1 });
    await settle();
    expect(got.map((m) => m.sensor)).toEqual(['x', 'z']);
    expect(a.stats.sent + b.stats.sent).toBe(2);
    expect(a.stats.cooling + b.stats.cooling).toBe(4);
    // A trigger started later (a restarted node) still sees the stored cooldown.
    const late = track(await make());
    await events.emit({ sensor: 'w', value: 1 });
    await settle();
    expect(got).toHaveLength(2);
    expect(late.stats.cooling).toBe(1);
  });

  it('close unsubscribes; drain waits for the event being handled', async () => {
    const { system, got } = await setup();
    const events = emitter<Reading>();
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const trigger = await conditionTrigger<Reading>({
      system,
      source: events.source,
      when: async () => {
        await gate;
        return true;
      },
      send: (e) => ({ to: '$v/oncall/primary', message: { type: 'investigate', sensor: e.sensor } }),
    });
    expect(events.listeners).toBe(1);
    void events.emit({ sensor: 'slow', value: 1 });
    let drained = false;
    const draining = trigger.drain().then(() => {
      drained = true;
    });
    await settle();
    expect(events.listeners).toBe(0);
    expect(drained).toBe(false);
    release();
    await draining;
    await settle();
    expect(got.map((m) => m.sensor)).toEqual(['slow']);
    await trigger.close(); // twice is fine
  });

  it('over a topic bus: a durable subscription, undecodable events skipped, unsubscribed on close', async () => {
    const { system, got } = await setup();
    const bus = memoryTopicBus({ durable: ['alerts.>'] });
    cleanups.push(() => bus.close());
    const trigger = await conditionTrigger<Reading>({
      system,
      source: topicSource<Reading>(bus, 'alerts.>', { durable: 'oncall', from: 'all' }),
      when: 'event.value >= 10',
      send: (e) => ({ to: '$v/oncall/primary', message: { type: 'investigate', sensor: e.sensor } }),
    });
    await bus.publish('alerts.a', JSON.stringify({ sensor: 'low', value: 1 }));
    await bus.publish('alerts.b', '{broken');
    await bus.publish('alerts.c', JSON.stringify({ sensor: 'high', value: 12 }));
    for (let i = 0; i < 50 && got.length === 0; i++) await settle();
    expect(got.map((m) => m.sensor)).toEqual(['high']);
    expect(trigger.stats).toMatchObject({ events: 2, matched: 1, sent: 1 });
    await trigger.close();
    await bus.publish('alerts.d', JSON.stringify({ sensor: 'after', value: 99 }));
    await settle();
    expect(got).toHaveLength(1);
    expect(() => topicSource({} as never, 'x')).toThrow(expect.objectContaining({ code: 'INVALID_OPTIONS' }));
  });

  it('bad options throw coded errors', async () => {
    const { system } = await setup();
    const events = emitter<Reading>();
    const base = { system, source: events.source, when: () => true, send: () => undefined };
    const code = async (o: unknown) =>
      conditionTrigger(o as never).then(
        (t) => {
          void t.close();
          return 'resolved';
        },
        (e: { code?: string }) => e.code,
      );
    expect(await code(undefined)).toBe('INVALID_OPTIONS');
    expect(await code({ ...base, system: undefined })).toBe('INVALID_OPTIONS');
    expect(await code({ ...base, source: 'x' })).toBe('INVALID_OPTIONS');
    expect(await code({ ...base, send: undefined })).toBe('INVALID_OPTIONS');
    expect(await code({ ...base, when: 42 })).toBe('INVALID_OPTIONS');
    expect(await code({ ...base, when: 'event.x ==' })).toBe('GRAPH_EXPR_SYNTAX');
    expect(await code({ ...base, when: 'event.constructor' })).toBe('GRAPH_EXPR_FORBIDDEN');
    expect(await code({ ...base, cooldownMs: -1 })).toBe('INVALID_OPTIONS');
    expect(await code({ ...base, name: 'a.b' })).toBe('INVALID_OPTIONS');
    expect(await code({ ...base, window: {} })).toBe('INVALID_OPTIONS');
    expect(await code({ ...base, window: { size: 0 } })).toBe('INVALID_OPTIONS');
    expect(await code({ ...base, window: { ms: 10, field: '__proto__.x' } })).toBe('INVALID_OPTIONS');
    expect(await code({ ...base, source: () => 'nope' })).toBe('INVALID_OPTIONS');
    expect(await code(base)).toBe('resolved');
    expect(events.listeners).toBe(0);
  });
});
