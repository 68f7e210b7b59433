// The KeyValueStore contract on both implementations (in memory, NATS KV on a real nats-server): revisions,
// create-if-absent, compare-and-set, watch, and a NATS outage that rejects with a code and recovers.

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KeyValueStore, KvErrorCode, memoryKeyValue, TroupeError } from '../../runtime/index.js';
import { type ServerProcess, startNats } from '../../testing/index.js';
import { natsKeyValue } from '../../transport/index.js';

let nats: ServerProcess;
beforeAll(async () => {
  nats = await startNats();
});
afterAll(() => nats.stop());

const bucket = () => `t${randomBytes(3).toString('hex')}`;

async function code(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return TroupeError.is(err) ? err.code : String(err);
  }
}

const stores: [string, () => Promise<KeyValueStore>][] = [
  ['memory', async () => memoryKeyValue()],
  ['nats', () => natsKeyValue({ servers: nats.url, bucket: bucket(), namespace: 'ns1' })],
];

describe.each(stores)('KeyValueStore (%s)', (_name, make) => {
  it('creates once, updates by revision only, puts, deletes', async () => {
    const kv = await make();
    try {
      expect(await kv.get('a.b')).toBeUndefined();
      const r1 = await kv.create('a.b', 'one');
      expect(await code(kv.create('a.b', 'two'))).toBe(KvErrorCode.Exists);
      expect(await kv.get('a.b')).toEqual({ value: 'one', revision: r1 });
      const r2 = await kv.update('a.b', 'two', r1);
      expect(r2).toBeGreaterThan(r1);
      expect(await code(kv.update('a.b', 'three', r1))).toBe(KvErrorCode.RevisionMismatch);
      expect(await code(kv.update('a.new', 'x', 5))).toBe(KvErrorCode.RevisionMismatch);
      await kv.update('a.zero', 'z', 0);
      expect((await kv.get('a.zero'))?.value).toBe('z');
      await kv.put('a.b', 'four');
      expect((await kv.get('a.b'))?.value).toBe('four');
      await kv.delete('a.b');
      expect(await kv.get('a.b')).toBeUndefined();
      await kv.create('a.b', 'again');
      expect(await code(kv.get('bad key'))).toBe(KvErrorCode.InvalidKey);
    } finally {
      await kv.close();
    }
    expect(await code(kv.get('a.b'))).toBe(KvErrorCode.Closed);
  });

  it('watches a prefix: current values, then writes and deletes', async () => {
    const kv = await make();
    try {
      await kv.put('w.x', '1');
      await kv.put('other.y', '0');
      const seen: string[] = [];
      const stop = kv.watch?.('w.', (key, entry) => seen.push(`${key}=${entry?.value ?? '<deleted>'}`));
      await expect.poll(() => seen).toEqual(['w.x=1']);
      await kv.put('w.z', '2');
      await kv.delete('w.x');
      await kv.put('other.y', '3');
      await expect.poll(() => seen).toEqual(['w.x=1', 'w.z=2', 'w.x=<deleted>']);
      stop?.();
    } finally {
      await kv.close();
    }
  });

  it('lists the keys under a prefix that hold a value, during concurrent writes too', async () => {
    const kv = await make();
    try {
      expect(await kv.keys?.('k.')).toEqual([]);
      await kv.put('k.a', '1');
      await kv.put('k.b.c', '2');
      await kv.put('k.d', '3');
      await kv.put('other.k', '4');
      await kv.delete('k.d');
      expect((await kv.keys?.('k.'))?.sort()).toEqual(['k.a', 'k.b.c']);
      expect((await kv.keys?.(''))?.sort()).toEqual(['k.a', 'k.b.c', 'other.k']);
      const writes = Array.from({ length: 20 }, (_, i) => kv.put('k.a', String(i)));
      const listed = await Promise.all(Array.from({ length: 5 }, () => kv.keys?.('k.')));
      await Promise.all(writes);
      for (const keys of listed) expect(keys?.sort()).toEqual(['k.a', 'k.b.c']);
    } finally {
      await kv.close();
    }
  });

  it('lets exactly one of many concurrent compare-and-sets win', async () => {
    const kv = await make();
    try {
      const rev = await kv.create('race.k', '0');
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => code(kv.update('race.k', String(i + 1), rev))),
      );
      expect(results.filter((r) => r === undefined)).toHaveLength(1);
      expect(results.filter((r) => r === KvErrorCode.RevisionMismatch)).toHaveLength(19);
    } finally {
      await kv.close();
    }
  });
});

describe('natsKeyValue during an outage', () => {
  it('refuses bad options with INVALID_OPTIONS, and drops entries past the bucket max age', async () => {
    expect(await code(natsKeyValue({ servers: nats.url, maxAgeMs: 0 }))).toBe('INVALID_OPTIONS');
    expect(await code(natsKeyValue({ servers: nats.url, namespace: 'a b' }))).toBe(KvErrorCode.InvalidKey);
    const kv = await natsKeyValue({ servers: nats.url, bucket: bucket(), maxAgeMs: 1000 });
    try {
      await kv.put('old.k', 'v');
      expect((await kv.get('old.k'))?.value).toBe('v');
      await expect.poll(() => kv.get('old.k'), { timeout: 5000, interval: 250 }).toBeUndefined();
    } finally {
      await kv.close();
    }
  });

  it('rejects with KV_UNAVAILABLE within its operation timeout, then works again', async () => {
    const server = await startNats();
    const kv = await natsKeyValue({ servers: server.url, bucket: bucket(), opTimeoutMs: 500 });
    try {
      await kv.put('o.k', '1');
      const restarting = server.restart(1500);
      await new Promise((r) => setTimeout(r, 200));
      const started = Date.now();
      expect(await code(kv.get('o.k'))).toBe(KvErrorCode.Unavailable);
      expect(Date.now() - started).toBeLessThan(1500);
      await restarting;
      await expect
        .poll(
          () =>
            kv.get('o.k').then(
              (e) => e?.value,
              () => 'down',
            ),
          { timeout: 10_000 },
        )
        .toBe('1');
      await kv.put('o.k', '2');
      expect((await kv.get('o.k'))?.value).toBe('2');
    } finally {
      await kv.close();
      await server.stop();
    }
  });
});
