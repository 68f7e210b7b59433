// Episodic memory on a real redis-server: order, the length limit and the TTL, reads by time, a summary that
// replaces old turns atomically while appends go on, working memory patches, and a Redis restart that rejects with
// MEMORY_UNAVAILABLE and then recovers (scripts reloaded after the server lost its script cache).

import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EpisodicMemory, episodicMemory, MemoryErrorCode, type Turn } from '../../memory/index.js';
import { TroupeError } from '../../runtime/index.js';
import { type ServerProcess, startRedis } from '../../testing/index.js';

let redis: ServerProcess;
let raw: Redis;
beforeAll(async () => {
  redis = await startRedis();
  raw = new Redis(redis.url);
});
afterAll(async () => {
  raw.disconnect();
  await redis.stop();
});

const scope = () => ({ agent: 'support', session: `s-${randomBytes(4).toString('hex')}` });

async function code(p: Promise<unknown> | (() => unknown)): Promise<string | undefined> {
  try {
    await (typeof p === 'function' ? p() : p);
    return undefined;
  } catch (err) {
    return TroupeError.is(err) ? err.code : String(err);
  }
}

async function using<T>(
  options: Omit<Parameters<typeof episodicMemory>[0], 'redis'>,
  fn: (m: EpisodicMemory) => Promise<T>,
): Promise<T> {
  const memory = episodicMemory({
    redis: redis.url,
    prefix: `t${randomBytes(3).toString('hex')}`,
    ...options,
  });
  try {
    return await fn(memory);
  } finally {
    await memory.close();
  }
}

const contents = (turns: Turn[]) => turns.map((t) => t.content);

describe('episodicMemory on Redis', () => {
  it('keeps turns in order (ties on the same millisecond too) and reads the newest n', async () => {
    await using({}, async (memory) => {
      const s = scope();
      const at = Date.now();
      for (let i = 0; i < 12; i++)
        await memory.append(s, { role: i % 2 ? 'assistant' : 'user', content: `m${i}`, at, metadata: { i } });
      const all = await memory.recent(s, 100);
      expect(contents(all)).toEqual(Array.from({ length: 12 }, (_, i) => `m${i}`));
      expect(all[3]).toMatchObject({ role: 'assistant', at, metadata: { i: 3 } });
      expect(contents(await memory.recent(s, 3))).toEqual(['m9', 'm10', 'm11']);
      expect(await memory.recent(s, 0)).toEqual([]);
      expect(await memory.count(s)).toBe(12);
      // Another session of the same agent is separate.
      expect(await memory.recent({ agent: 'support', session: `${s.session}:x` }, 5)).toEqual([]);
      expect(await code(() => memory.append(s, { role: 'robot' as 'user', content: 'x' }))).toBe(
        MemoryErrorCode.Invalid,
      );
      expect(await code(() => memory.recent({ agent: '', session: 'a' }, 1))).toBe(MemoryErrorCode.Invalid);
      await memory.clear(s);
      expect(await memory.count(s)).toBe(0);
    });
  });

  it('enforces the length limit: the oldest turns go', async () => {
    await using({ maxTurns: 5 }, async (memory) => {
      const s = scope();
      for (let i = 0; i < 9; i++) await memory.append(s, { role: 'user', content: `m${i}` });
      expect(await memory.count(s)).toBe(5);
      expect(contents(await memory.recent(s, 50))).toEqual(['m4', 'm5', 'm6', 'm7', 'm8']);
    });
  });

  it('expires a scope after its TTL of quiet; each append extends it', async () => {
    const prefix = `ttl${randomBytes(3).toString('hex')}`;
    const memory = episodicMemory({ redis: redis.url, prefix, ttlMs: 600 });
    try {
      const s = scope();
      await memory.append(s, { role: 'user', content: 'a' });
      const keys = await raw.keys(`${prefix}:*`);
      expect(keys.sort()).toHaveLength(2);
      for (const key of keys) expect(await raw.pttl(key)).toBeGreaterThan(0);
      await new Promise((r) => setTimeout(r, 400));
      await memory.append(s, { role: 'user', content: 'b' });
      await new Promise((r) => setTimeout(r, 400));
      expect(await memory.count(s)).toBe(2);
      await expect.poll(() => memory.count(s), { timeout: 3000, interval: 100 }).toBe(0);
      expect(await raw.keys(`${prefix}:*`)).toEqual([]);
    } finally {
      await memory.close();
    }
  });

  it('finds turns by time, in time order, whatever order they were written in', async () => {
    await using({}, async (memory) => {
      const s = scope();
      const t0 = 1_700_000_000_000;
      for (const k of [5, 1, 9, 3, 7, 2])
        await memory.append(s, { role: 'user', content: `t${k}`, at: t0 + k * 1000 });
      expect(contents(await memory.between(s, t0 + 2000, t0 + 7000))).toEqual(['t2', 't3', 't5', 't7']);
      expect(contents(await memory.between(s, t0 + 2000, t0 + 7000, { limit: 2 }))).toEqual(['t2', 't3']);
      expect(await memory.between(s, t0 + 10_000, t0 + 20_000)).toEqual([]);
      expect(contents(await memory.recent(s, 2))).toEqual(['t7', 't9']);
    });
  });

  it('replaces old turns by one summary atomically while appends go on', async () => {
    await using({}, async (memory) => {
      const s = scope();
      for (let i = 0; i < 30; i++) await memory.append(s, { role: 'user', content: `m${i}` });
      let seen: string[] = [];
      let appending: Promise<Turn[]> | undefined;
      const result = await memory.summarize(
        s,
        async (turns) => {
          seen = contents([...turns]);
          // Appends land while the "model" writes the summary.
          appending = Promise.all(
            Array.from({ length: 20 }, (_, i) => memory.append(s, { role: 'assistant', content: `c${i}` })),
          );
          await new Promise((r) => setTimeout(r, 50));
          return `summary of ${turns.length}`;
        },
        { keep: 5 },
      );
      await appending;
      expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => `m${i}`));
      expect(result.replaced).toBe(25);
      expect(result.turn?.summary).toMatchObject({ turns: 25 });
      const all = await memory.recent(s, 1000);
      expect(all).toHaveLength(1 + 5 + 20);
      expect(all[0]).toMatchObject({ role: 'system', content: 'summary of 25', summary: { turns: 25 } });
      expect(contents(all.slice(1, 6))).toEqual(['m25', 'm26', 'm27', 'm28', 'm29']);
      expect(contents(all.slice(6)).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `c${i}`).sort());

      // A rolling summary: the next one folds the first in, and counts what it stood for.
      const again = await memory.summarize(s, async (turns) => `${turns[0]?.content} + ${turns.length - 1}`, {
        keep: 10,
      });
      expect(again.replaced).toBe(16);
      const head = (await memory.recent(s, 1000))[0];
      expect(head).toMatchObject({ content: 'summary of 25 + 15', summary: { turns: 40 } });
      expect(await memory.count(s)).toBe(11);
      // Too few old turns: nothing to do.
      expect(await memory.summarize(s, async () => 'x', { keep: 10 })).toEqual({ replaced: 0 });
    });
  });

  it('lets one of two concurrent summaries win; the loser writes nothing', async () => {
    await using({ maxTurns: 100 }, async (memory) => {
      const s = scope();
      for (let i = 0; i < 20; i++) await memory.append(s, { role: 'user', content: `m${i}` });
      const slow = (ms: number) => async (turns: readonly Turn[]) => {
        await new Promise((r) => setTimeout(r, ms));
        return `sum ${ms} ${turns.length}`;
      };
      const [a, b] = await Promise.all([
        memory.summarize(s, slow(30), { keep: 4 }),
        memory.summarize(s, slow(80), { keep: 4 }),
      ]);
      expect(a).toMatchObject({ replaced: 16 });
      expect(b).toEqual({ replaced: 0, conflict: true });
      const all = await memory.recent(s, 100);
      expect(contents(all)).toEqual(['sum 30 16', 'm16', 'm17', 'm18', 'm19']);
    });
  });

  it('keeps a JSON working memory per agent: set, get, atomic patches', async () => {
    await using({ maxWorkingBytes: 1024 }, async (memory) => {
      const agent = `a-${randomBytes(3).toString('hex')}`;
      expect(await memory.getWorking(agent)).toEqual({});
      await memory.setWorking(agent, { goal: 'refund', steps: ['look up order'], user: { name: 'Ada' } });
      expect(
        await memory.patchWorking(agent, { steps: ['look up order', 'refund'], goal: null, mood: 'calm' }),
      ).toEqual({ steps: ['look up order', 'refund'], user: { name: 'Ada' }, mood: 'calm' });
      // Concurrent patches of different fields all land.
      await Promise.all(Array.from({ length: 20 }, (_, i) => memory.patchWorking(agent, { [`k${i}`]: i })));
      const working = await memory.getWorking(agent);
      for (let i = 0; i < 20; i++) expect(working[`k${i}`]).toBe(i);
      await memory.setWorking(agent, { only: true });
      expect(await memory.getWorking(agent)).toEqual({ only: true });
      expect(await code(() => memory.patchWorking(agent, { big: 'x'.repeat(2000) }))).toBe(
        MemoryErrorCode.Invalid,
      );
      expect(await code(() => memory.setWorking(agent, [] as unknown as Record<string, unknown>))).toBe(
        MemoryErrorCode.Invalid,
      );
      expect(await memory.getWorking(agent)).toEqual({ only: true });
    });
  });

  it('works on a client it was given, and leaves it open on close', async () => {
    const client = new Redis(redis.url);
    try {
      const memory = episodicMemory({ redis: client, prefix: `own${randomBytes(3).toString('hex')}` });
      const s = scope();
      await memory.append(s, { role: 'user', content: 'hi' });
      await memory.close();
      expect(await client.ping()).toBe('PONG');
      expect(await code(memory.recent(s, 1))).toBe(MemoryErrorCode.Unavailable);
    } finally {
      client.disconnect();
    }
  });
});

describe('episodicMemory during a Redis outage', () => {
  it('rejects with MEMORY_UNAVAILABLE while Redis is down, then works again', async () => {
    const server = await startRedis({ appendonly: true });
    const memory = episodicMemory({ redis: server.url, prefix: 'outage', opTimeoutMs: 500 });
    try {
      const s = scope();
      await memory.append(s, { role: 'user', content: 'before' });
      const restarting = server.restart(1500);
      await new Promise((r) => setTimeout(r, 200));
      const started = Date.now();
      expect(await code(memory.append(s, { role: 'user', content: 'during' }))).toBe(
        MemoryErrorCode.Unavailable,
      );
      expect(await code(memory.recent(s, 5))).toBe(MemoryErrorCode.Unavailable);
      expect(Date.now() - started).toBeLessThan(1500);
      await restarting;
      await expect
        .poll(
          () =>
            memory.append(s, { role: 'user', content: 'after' }).then(
              () => 'ok',
              (err) => (TroupeError.is(err) ? err.code : String(err)),
            ),
          { timeout: 10_000, interval: 200 },
        )
        .toBe('ok');
      // The append-only file kept what was acknowledged; the script cache was empty and got reloaded.
      const turns = contents(await memory.recent(s, 10));
      expect(turns[0]).toBe('before');
      expect(turns.at(-1)).toBe('after');
      expect(turns).not.toContain('during');
    } finally {
      await memory.close();
      await server.stop();
    }
  });
});
