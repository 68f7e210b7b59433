// Topics in one process: pattern matching, the embedded bus (fast, durable, queue groups, retries and dead
// letters, bad input) and the workflows facade over it (actors by ref, type subscriptions, broadcast).

import { afterEach, describe, expect, it } from 'vitest';
import {
  type ActorSystem,
  assertTopic,
  createSystem,
  defineActor,
  ManualClock,
  memoryTopicBus,
  patternCovers,
  type TopicBus,
  type TopicDeadLetter,
  TopicError,
  type TopicMessage,
  topicMatches,
} from '../../runtime/index.js';
import {
  createEvent,
  decodeEvent,
  encodeEvent,
  type TopicEvent,
  type TopicEventProtocol,
  topics,
} from '../../workflows/topics/index.js';
import { until } from '../helpers/fixtures.js';

const buses: TopicBus[] = [];
const systems: ActorSystem[] = [];
afterEach(async () => {
  await Promise.all(buses.splice(0).map((b) => b.close()));
  await Promise.all(systems.splice(0).map((s) => s.close()));
});

function bus(options: Parameters<typeof memoryTopicBus>[0] = {}): TopicBus {
  const b = memoryTopicBus(options);
  buses.push(b);
  return b;
}

const codeOf = async (p: Promise<unknown> | (() => unknown)): Promise<string | undefined> => {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
};

describe('topic patterns', () => {
  it('match with NATS rules: * one token, a final > one or more', () => {
    expect(topicMatches('orders.*', 'orders.created')).toBe(true);
    expect(topicMatches('orders.*', 'orders.created.eu')).toBe(false);
    expect(topicMatches('orders.>', 'orders.created.eu')).toBe(true);
    expect(topicMatches('orders.>', 'orders')).toBe(false);
    expect(topicMatches('*.created', 'users.created')).toBe(true);
    expect(topicMatches('orders.created', 'orders.created')).toBe(true);
    expect(topicMatches('orders.created', 'orders.deleted')).toBe(false);
    expect(patternCovers('orders.>', 'orders.*.eu')).toBe(true);
    expect(patternCovers('orders.*', 'orders.>')).toBe(false);
    expect(patternCovers('orders.*', 'orders.created')).toBe(true);
    expect(patternCovers('>', 'a.b.c')).toBe(true);
  });

  it('reject malformed topics with TOPIC_INVALID', async () => {
    for (const bad of ['', 'a..b', 'a b', 'a.*', 'a.>', '.a', 'a.', 'x'.repeat(300), 'ä']) {
      expect(await codeOf(() => assertTopic(bad))).toBe('TOPIC_INVALID');
    }
    for (const bad of ['a.>.b', 'a.b*', '>>'])
      expect(await codeOf(() => assertTopic(bad, true))).toBe('TOPIC_INVALID');
    expect(() => assertTopic('a.*.>', true)).not.toThrow();
  });
});

describe('memoryTopicBus', () => {
  it('delivers by pattern, in order, and not after unsubscribe', async () => {
    const b = bus();
    const star: string[] = [];
    const all: string[] = [];
    const s1 = await b.subscribe('orders.*', (m) => void star.push(`${m.topic}:${m.data}`));
    await b.subscribe('>', (m) => void all.push(m.data));
    for (let i = 0; i < 5; i++) await b.publish('orders.created', `c${i}`);
    await b.publish('orders.created.eu', 'deep');
    await b.publish('users.created', 'u');
    await until(() => all.length === 7, 2000, 'every event');
    expect(star).toEqual([
      'orders.created:c0',
      'orders.created:c1',
      'orders.created:c2',
      'orders.created:c3',
      'orders.created:c4',
    ]);
    expect(all).toEqual(['c0', 'c1', 'c2', 'c3', 'c4', 'deep', 'u']);
    await s1.unsubscribe();
    await b.publish('orders.created', 'late');
    await until(() => all.length === 8);
    expect(star).toHaveLength(5);
  });

  it('splits a queue group: each event goes to one member', async () => {
    const b = bus();
    const a: string[] = [];
    const c: string[] = [];
    await b.subscribe('jobs', (m) => void a.push(m.data), { queue: 'workers' });
    await b.subscribe('jobs', (m) => void c.push(m.data), { queue: 'workers' });
    for (let i = 0; i < 10; i++) await b.publish('jobs', String(i));
    await until(() => a.length + c.length === 10);
    expect(a.length).toBeGreaterThan(0);
    expect(c.length).toBeGreaterThan(0);
    expect([...a, ...c].sort((x, y) => Number(x) - Number(y))).toEqual(
      Array.from({ length: 10 }, (_, i) => String(i)),
    );
  });

  it('a durable subscription resumes after unsubscribe with what it missed, in order; delete forgets it', async () => {
    const b = bus({ durable: ['orders.>'] });
    const got: number[] = [];
    const handler = (m: TopicMessage) => void got.push(m.seq as number);
    let sub = await b.subscribe('orders.>', handler, { durable: 'billing' });
    for (let i = 0; i < 3; i++) expect((await b.publish('orders.new', `e${i}`)).durable).toBe(true);
    await until(() => got.length === 3);
    await sub.unsubscribe();
    for (let i = 3; i < 6; i++) await b.publish('orders.new', `e${i}`);
    sub = await b.subscribe('orders.>', handler, { durable: 'billing' });
    await until(() => got.length === 6);
    expect(got).toEqual([1, 2, 3, 4, 5, 6]);
    await sub.delete();
    const fresh: number[] = [];
    await b.subscribe('orders.>', (m) => void fresh.push(m.seq as number), {
      durable: 'billing',
      from: { seq: 5 },
    });
    await until(() => fresh.length === 2);
    expect(fresh).toEqual([5, 6]);
  });

  it('deduplicates a durable publish by id', async () => {
    const b = bus({ durable: ['orders.>'] });
    const first = await b.publish('orders.new', 'x', { id: 'evt-1' });
    const again = await b.publish('orders.new', 'x', { id: 'evt-1' });
    expect(again).toEqual({ durable: true, seq: first.seq, duplicate: true });
  });

  it('retries a failing handler with backoff on the injected clock, then dead-letters it, and goes on', async () => {
    const clock = new ManualClock(1000);
    const b = bus({ durable: ['t.>'], clock });
    const attempts: number[] = [];
    const letters: TopicDeadLetter[] = [];
    const ok: string[] = [];
    await b.subscribe(
      't.>',
      (m) => {
        if (m.data === 'poison') {
          attempts.push(m.attempt);
          throw new Error('boom');
        }
        ok.push(m.data);
      },
      { durable: 'd', maxAttempts: 3, backoffMs: 100, onDeadLetter: (l) => letters.push(l) },
    );
    await b.publish('t.x', 'poison');
    await b.publish('t.x', 'after');
    await until(() => attempts.length === 1);
    expect(ok).toEqual([]); // nothing newer runs while the poison event waits for its retry
    clock.advance(100);
    await until(() => attempts.length === 2);
    clock.advance(199);
    await new Promise((r) => setTimeout(r, 10));
    expect(attempts).toEqual([1, 2]); // the second backoff is 200 ms
    clock.advance(1);
    await until(() => ok.length === 1);
    expect(attempts).toEqual([1, 2, 3]);
    expect(letters).toHaveLength(1);
    expect(letters[0]?.error.code).toBe('TOPIC_HANDLER_FAILED');
    expect(b.deadLetters()).toHaveLength(1);
    expect(ok).toEqual(['after']);
  });

  it('dead-letters what a fast subscription cannot hold (maxPending) and closes without waiting out a backoff', async () => {
    const clock = new ManualClock(0);
    const b = bus({ clock });
    const letters: TopicDeadLetter[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const got: string[] = [];
    await b.subscribe(
      'q',
      async (m) => {
        await gate;
        got.push(m.data);
      },
      { maxPending: 2, onDeadLetter: (l) => letters.push(l) },
    );
    for (let i = 0; i < 5; i++) await b.publish('q', String(i));
    // One in the handler, two waiting: the last two are dropped as a slow consumer's.
    expect(letters.map((l) => [l.message.data, l.error.code])).toEqual([
      ['3', 'TOPIC_SLOW_CONSUMER'],
      ['4', 'TOPIC_SLOW_CONSUMER'],
    ]);
    release();
    await until(() => got.length === 3);
    expect(got).toEqual(['0', '1', '2']);
    let failures = 0;
    await b.subscribe(
      'r',
      () => {
        failures++;
        throw new Error('down');
      },
      { backoffMs: 60_000 },
    );
    await b.publish('r', 'x');
    await until(() => failures === 1);
    const started = Date.now();
    await b.close(); // the 60 s backoff on a clock nobody advances must not hold it
    expect(Date.now() - started).toBeLessThan(1000);
    expect(failures).toBe(1);
  });

  it('gives coded errors for bad input', async () => {
    const b = bus({ durable: ['orders.>'], maxEventBytes: 100 });
    expect(await codeOf(b.publish('bad topic', 'x'))).toBe('TOPIC_INVALID');
    expect(await codeOf(b.publish('orders.*', 'x'))).toBe('TOPIC_INVALID');
    expect(await codeOf(b.publish('orders.new', 'x'.repeat(101)))).toBe('TOPIC_EVENT_TOO_LARGE');
    expect(await codeOf(b.publish('orders.new', 42 as never))).toBe('INVALID_OPTIONS');
    expect(await codeOf(b.subscribe('users.>', () => {}, { durable: 'u' }))).toBe('TOPIC_NOT_DURABLE');
    expect(await codeOf(b.subscribe('orders.>', () => {}, { durable: 'a.b' }))).toBe('INVALID_OPTIONS');
    expect(await codeOf(b.subscribe('orders.>', 'nope' as never))).toBe('INVALID_OPTIONS');
    expect(await codeOf(b.subscribe('orders.>', () => {}, { from: 'later' as never }))).toBe(
      'INVALID_OPTIONS',
    );
    await b.subscribe('orders.>', () => {}, { durable: 'x' });
    expect(await codeOf(b.subscribe('orders.a', () => {}, { durable: 'x' }))).toBe(
      'TOPIC_SUBSCRIPTION_CONFLICT',
    );
    expect(await codeOf(() => memoryTopicBus({ durable: ['a b'] }))).toBe('INVALID_OPTIONS');
    await b.close();
    await b.close(); // twice is fine
    expect(await codeOf(b.publish('orders.new', 'x'))).toBe('TOPIC_CLOSED');
  });
});

describe('topic events', () => {
  const defaults = { source: 'test', now: () => Date.UTC(2026, 0, 1) };

  it('round-trip through JSON with their fields checked', () => {
    const e = createEvent(
      'orders.created',
      { type: 'order.created', subject: 'o1', data: { total: 3 } },
      defaults,
    );
    expect(e).toMatchObject({
      topic: 'orders.created',
      type: 'order.created',
      source: 'test',
      subject: 'o1',
    });
    expect(e.time).toBe('2026-01-01T00:00:00.000Z');
    expect(decodeEvent(encodeEvent(e))).toEqual(e);
  });

  it('reject prototype-named keys, non-JSON data, malformed and oversized events with coded errors', async () => {
    const mk = (data: unknown) => () => createEvent('a', { type: 't', data }, defaults);
    expect(await codeOf(mk(JSON.parse('{"__proto__":{"polluted":1}}')))).toBe('TOPIC_INVALID_EVENT');
    expect(await codeOf(mk({ nested: [{ constructor: 1 }] }))).toBe('TOPIC_INVALID_EVENT');
    expect(await codeOf(mk({ f: () => 1 }))).toBe('TOPIC_INVALID_EVENT');
    expect(await codeOf(mk({ n: Number.NaN }))).toBe('TOPIC_INVALID_EVENT');
    expect(await codeOf(mk(new Date()))).toBe('TOPIC_INVALID_EVENT');
    let deep: unknown = 1;
    for (let i = 0; i < 40; i++) deep = [deep];
    expect(await codeOf(mk(deep))).toBe('TOPIC_INVALID_EVENT');
    expect(await codeOf(() => createEvent('a', { type: '', data: 1 }, defaults))).toBe('TOPIC_INVALID_EVENT');
    expect(await codeOf(() => createEvent('a b', { type: 't', data: 1 }, defaults))).toBe('TOPIC_INVALID');
    const good = encodeEvent(createEvent('a', { type: 't', data: 1 }, defaults));
    expect(await codeOf(() => decodeEvent('{nope'))).toBe('TOPIC_INVALID_EVENT');
    expect(await codeOf(() => decodeEvent(good.replace('"data":1', '"data":{"__proto__":{"x":1}}')))).toBe(
      'TOPIC_INVALID_EVENT',
    );
    expect(await codeOf(() => decodeEvent(good.replace('"time":"', '"time":"x')))).toBe(
      'TOPIC_INVALID_EVENT',
    );
    expect(await codeOf(() => decodeEvent(good, 10))).toBe('TOPIC_EVENT_TOO_LARGE');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

type Counter = TopicEventProtocol<{ n: number }> & { seen: { reply?: never } };

describe('topics facade', () => {
  it('delivers to an actor by ref, to virtual actors by key, broadcasts, and stops on unsubscribe', async () => {
    const system = await createSystem({ nodeId: 'n1' });
    systems.push(system);
    const b0 = bus();
    const hub = topics({ system, bus: b0, clock: new ManualClock(Date.UTC(2026, 0, 1)) });
    const seen: TopicEvent[] = [];
    const reader = system.spawn(
      defineActor<TopicEventProtocol>({ handlers: { topicEvent: (m) => void seen.push(m.event) } }),
    );
    const byKey = new Map<string, number[]>();
    system.register(
      'counter',
      defineActor<Counter, { key: string }>({
        init: (ctx) => ({ key: ctx.self.address.split('/').at(-1) as string }),
        handlers: {
          topicEvent: (m, ctx) => {
            const list = byKey.get(ctx.state.key) ?? [];
            list.push(m.event.data.n);
            byKey.set(ctx.state.key, list);
          },
          seen: () => undefined,
        },
      }),
    );
    const sub = await hub.subscribe('news.*', reader, { broadcast: true });
    await hub.subscribeType<{ n: number }>('counts.>', 'counter', (e) => e.subject ?? 'none');
    const published = await hub.publish('news.sport', { type: 'headline', data: { text: 'goal' } });
    expect(published.event.source).toBe('n1');
    expect(published.event.time).toBe('2026-01-01T00:00:00.000Z');
    for (let i = 0; i < 30; i++)
      await hub.publish('counts.up', { type: 'count', subject: `k${i % 3}`, data: { n: i } });
    await hub.broadcast({ type: 'notice', data: 'all hands' });
    await until(() => seen.length === 2 && [...byKey.values()].flat().length === 30);
    expect(b0.deadLetters()).toEqual([]);
    expect(seen.map((e) => e.type)).toEqual(['headline', 'notice']);
    expect([...byKey.keys()].sort()).toEqual(['k0', 'k1', 'k2']);
    expect(byKey.get('k1')).toEqual([1, 4, 7, 10, 13, 16, 19, 22, 25, 28]); // in order per key
    await hub.unsubscribe(sub);
    await hub.publish('news.sport', { type: 'headline', data: 'late' });
    await hub.send(reader, { type: 'direct', data: 'hi' });
    expect(seen.map((e) => e.type)).toEqual(['headline', 'notice', 'direct']);
    await hub.close();
  });

  it('dead-letters a malformed event or a bad key at once, and an actor that keeps failing after its attempts', async () => {
    const system = await createSystem({ nodeId: 'n2' });
    systems.push(system);
    const b = bus();
    const hub = topics({ system, bus: b });
    const letters: TopicDeadLetter[] = [];
    let calls = 0;
    system.register(
      'fragile',
      defineActor<TopicEventProtocol>({
        handlers: {
          topicEvent: () => {
            calls++;
            throw new Error('no');
          },
        },
      }),
    );
    await hub.subscribeType('x.>', 'fragile', (e) => e.subject as string, {
      maxAttempts: 2,
      backoffMs: 1,
      onDeadLetter: (l) => letters.push(l),
    });
    await b.publish('x.raw', 'not json');
    await hub.publish('x.key', { type: 't', subject: 'bad key/with slash', data: 1 });
    await hub.publish('x.key', { type: 't', subject: 'ok', data: 1 });
    await until(() => letters.length === 3);
    expect(letters.map((l) => l.error.code)).toEqual([
      'TOPIC_INVALID_EVENT',
      'TOPIC_INVALID_EVENT',
      'TOPIC_HANDLER_FAILED',
    ]);
    expect(letters[2]?.message.attempt).toBe(2);
    expect(calls).toBeGreaterThanOrEqual(2);
    expect(letters.every((l) => l.error instanceof TopicError)).toBe(true);
  });
});
