// One conformance suite for every StateStore backend (NATS KV, Redis, PostgreSQL), each on a real server of its
// own: the same semantics, binary values, limits, outages and actor persistence everywhere.

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateState, persistenceFrom, postgresStateStore, redisStateStore } from '../../memory/index.js';
import { createSystem, defineActor, type Reply, type StateStore } from '../../runtime/index.js';
import { startNats, startPostgres, startRedis } from '../../testing/index.js';
import { msgpackStateCodec, natsKvPersistence, natsKvStateStore } from '../../transport/index.js';

interface Server {
  url: string;
  restart(downMs?: number): Promise<void>;
  stop(): Promise<void>;
}

interface Backend {
  name: string;
  start(): Promise<Server>;
  /** A store on its own bucket / prefix / table, so tests do not see each other's keys. */
  open(url: string, space: string): Promise<StateStore>;
}

const MiB = 1024 * 1024;
const backends: Backend[] = [
  {
    name: 'kv',
    start: () => startNats(),
    open: (url, space) => natsKvStateStore({ servers: url, bucket: space, opTimeoutMs: 1000 }),
  },
  {
    name: 'redis',
    start: () => startRedis({ appendonly: true }),
    open: (url, space) =>
      redisStateStore({ redis: url, prefix: `${space}:`, maxValueBytes: 4 * MiB, opTimeoutMs: 2000 }),
  },
  {
    name: 'postgres',
    start: () => startPostgres(),
    open: (url, space) =>
      postgresStateStore({ url, table: space, maxValueBytes: 4 * MiB, opTimeoutMs: 2000 }),
  },
];

const space = (): string => `s${randomBytes(4).toString('hex')}`;
const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const codeOf = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'resolved',
    (err: { code?: string }) => err.code ?? 'no code',
  );

/** Retries `fn` until it resolves (the backend is back), for at most `ms`. */
async function eventually<T>(fn: () => Promise<T>, ms = 20_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

type Tally = { add: { n: number }; total: Reply<number> };
const tally = defineActor<Tally, { total: number }>({
  init: () => ({ total: 0 }),
  handlers: {
    add: (m, ctx) => {
      ctx.state.total += m.n;
    },
    total: (_m, ctx) => ctx.state.total,
  },
});

describe.each(backends)('StateStore on $name', (backend) => {
  let server: Server;
  beforeAll(async () => {
    server = await backend.start();
  }, 60_000);
  afterAll(() => server?.stop());

  it('saves, gets, overwrites, tells existence, deletes and lists by prefix, sorted', async () => {
    const store = await backend.open(server.url, space());
    try {
      expect(await store.get('missing')).toBeUndefined();
      expect(await store.exists('missing')).toBe(false);
      expect(await store.delete('missing')).toBe(false);
      expect(await store.list()).toEqual([]);

      await store.save('$v/tally/a', bytes('one'));
      expect(new TextDecoder().decode(await store.get('$v/tally/a'))).toBe('one');
      await store.save('$v/tally/a', bytes('two'));
      expect(new TextDecoder().decode(await store.get('$v/tally/a'))).toBe('two');
      expect(await store.exists('$v/tally/a')).toBe(true);

      const keys = ['$v/tally/b', 'agent:é 1', 'agent:é 2', 'agent:x*?[]', 'z.key with spaces'];
      for (const k of keys) await store.save(k, bytes(k));
      expect(await store.list()).toEqual(['$v/tally/a', ...keys].sort());
      expect(await store.list('$v/tally/')).toEqual(['$v/tally/a', '$v/tally/b']);
      expect(await store.list('agent:é')).toEqual(['agent:é 1', 'agent:é 2']);
      // Glob and LIKE syntax in a prefix is plain text.
      expect(await store.list('agent:x*')).toEqual(['agent:x*?[]']);
      expect(await store.list('agent:*')).toEqual([]);
      expect(await store.list('nothing')).toEqual([]);

      expect(await store.delete('$v/tally/a')).toBe(true);
      expect(await store.delete('$v/tally/a')).toBe(false);
      expect(await store.exists('$v/tally/a')).toBe(false);
      expect(await store.get('$v/tally/a')).toBeUndefined();
      expect(await store.list('$v/tally/')).toEqual(['$v/tally/b']);

      expect(await codeOf(store.save('', bytes('x')))).toBe('STATE_INVALID_KEY');
      expect(await codeOf(store.get('a\u0000b'))).toBe('STATE_INVALID_KEY');
      expect(await codeOf(store.save('k', 'text' as unknown as Uint8Array))).toBe('STATE_CODEC');
    } finally {
      await store.close();
    }
    expect(await codeOf(store.get('k'))).toBe('STATE_CLOSED');
  });

  it('keeps values byte for byte: every byte value, an empty value, random megabytes', async () => {
    const store = await backend.open(server.url, space());
    try {
      const all = Uint8Array.from({ length: 512 }, (_, i) => i % 256);
      const random = new Uint8Array(randomBytes(900_000));
      await store.save('all', all);
      await store.save('empty', new Uint8Array(0));
      await store.save('random', random);
      // A view into a larger buffer saves only its own bytes.
      await store.save('view', all.subarray(10, 20));
      expect(await store.get('all')).toEqual(all);
      expect(await store.get('empty')).toEqual(new Uint8Array(0));
      expect(await store.exists('empty')).toBe(true);
      // Compared as Buffers: a deep equality of 900,000 numbers takes seconds.
      expect(Buffer.from((await store.get('random'))!).equals(Buffer.from(random))).toBe(true);
      expect(await store.get('view')).toEqual(all.slice(10, 20));
    } finally {
      await store.close();
    }
  });

  it('ends concurrent saves to one key with exactly one of them', async () => {
    const store = await backend.open(server.url, space());
    try {
      const values = Array.from({ length: 50 }, (_, i) => bytes(`value-${i}-${'x'.repeat(i * 100)}`));
      await Promise.all(values.map((v) => store.save('contended', v)));
      const final = await store.get('contended');
      expect(values.some((v) => Buffer.from(v).equals(Buffer.from(final!)))).toBe(true);
      expect(await store.list()).toEqual(['contended']);
    } finally {
      await store.close();
    }
  });

  it('takes a value of exactly maxValueBytes and refuses one byte more with STATE_TOO_LARGE', async () => {
    const store = await backend.open(server.url, space());
    try {
      const max = store.maxValueBytes;
      expect(max).toBeGreaterThan(100_000);
      const big = new Uint8Array(randomBytes(max));
      await store.save('big', big);
      expect(Buffer.from((await store.get('big'))!).equals(Buffer.from(big))).toBe(true);
      const err = await store.save('big', new Uint8Array(max + 1)).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'STATE_TOO_LARGE', data: { bytes: max + 1, max } });
      // The refused save left the previous value alone.
      expect((await store.get('big'))?.length).toBe(max);
    } finally {
      await store.close();
    }
  });

  it('rejects with STATE_UNAVAILABLE while its server restarts, then recovers with the data', async () => {
    const store = await backend.open(server.url, space());
    try {
      await store.save('kept', bytes('before the restart'));
      const restarted = server.restart(2500);
      await new Promise((r) => setTimeout(r, 400));
      const started = Date.now();
      expect(await codeOf(store.get('kept'))).toBe('STATE_UNAVAILABLE');
      expect(await codeOf(store.save('other', bytes('x')))).toBe('STATE_UNAVAILABLE');
      // Never hangs: a rejection within the store's deadline.
      expect(Date.now() - started).toBeLessThan(5000);
      await restarted;
      expect(new TextDecoder().decode(await eventually(() => store.get('kept')))).toBe('before the restart');
      await store.save('after', bytes('after the restart'));
      expect(await store.list()).toEqual(['after', 'kept']);
    } finally {
      await store.close();
    }
  }, 60_000);

  it('keeps an actor state across a server restart through persistenceFrom', async () => {
    const store = await backend.open(server.url, space());
    const persistence = persistenceFrom<{ total: number }>(store);
    try {
      const first = await createSystem({ nodeId: 'one' });
      first.register('tally', defineActor({ ...tally, persistence }), { passivateAfterMs: 0 });
      const a = first.virtual<Tally>('tally', 'a');
      a.tell({ type: 'add', n: 2 });
      a.tell({ type: 'add', n: 5 });
      expect(await a.ask({ type: 'total' })).toBe(7);
      await first.drain();
      expect(await store.list()).toEqual(['$v/tally/a']);
      expect(JSON.parse(new TextDecoder().decode(await store.get('$v/tally/a')))).toEqual({ total: 7 });

      await server.restart(300);
      // The activation's load waits for the store to come back rather than starting from init's state.
      await using second = await createSystem({ nodeId: 'two' });
      second.register('tally', defineActor({ ...tally, persistence }), { passivateAfterMs: 0 });
      const b = second.virtual<Tally>('tally', 'a');
      expect(await b.ask({ type: 'total' }, { timeout: 20_000 })).toBe(7);
      b.tell({ type: 'add', n: 1 });
      expect(await b.ask({ type: 'total' })).toBe(8);
      expect(await persistence.load({ self: { address: '$v/tally/a' } })).toEqual({ total: 8 });
      expect(await persistence.remove('$v/tally/a')).toBe(true);
      expect(await persistence.load({ self: { address: '$v/tally/a' } })).toBeUndefined();
    } finally {
      await persistence.close();
    }
  }, 60_000);
});

describe('natsKvStateStore and natsKvPersistence', () => {
  it('share a layout: what natsKvPersistence saved, persistenceFrom reads with the msgpack codec after a migration', async () => {
    await using nats = await startNats();
    await using postgres = await startPostgres();
    const bucket = space();
    const legacy = await natsKvPersistence<{ total: number; tags: string[] }>({ servers: nats.url, bucket });
    await legacy.save?.({ total: 7, tags: ['a', 'b'] }, { self: { address: '$v/tally/a' } });
    await legacy.close();

    const kv = await natsKvStateStore({ servers: nats.url, bucket });
    const pgStore = await postgresStateStore({ url: postgres.url, table: bucket });
    try {
      expect(await kv.list()).toEqual(['$v/tally/a']);
      const report = await migrateState(kv, pgStore);
      expect(report).toMatchObject({ from: 'kv', to: 'postgres', count: 1, copied: 1, verified: 1 });
      const moved = persistenceFrom<{ total: number; tags: string[] }>(pgStore, {
        codec: msgpackStateCodec(),
      });
      expect(await moved.load({ self: { address: '$v/tally/a' } })).toEqual({ total: 7, tags: ['a', 'b'] });
      // The default JSON codec cannot read msgpack: a coded error, never a silent fresh state.
      const wrong = persistenceFrom(pgStore);
      expect(await codeOf(Promise.resolve(wrong.load({ self: { address: '$v/tally/a' } })))).toBe(
        'STATE_CODEC',
      );
    } finally {
      await Promise.all([kv.close(), pgStore.close()]);
    }
  }, 60_000);
});
