// Procedural memory on NATS KV (a real nats-server): versions and history, concurrent writers never sharing a
// version, a watch that sees an update made through a second connection, and a NATS restart that rejects with
// MEMORY_UNAVAILABLE and then recovers.

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryErrorCode, type Procedure, proceduralMemory } from '../../memory/index.js';
import { type KeyValueStore, memoryKeyValue, TroupeError } from '../../runtime/index.js';
import { type ServerProcess, startNats } from '../../testing/index.js';
import { natsKeyValue } from '../../transport/index.js';

let nats: ServerProcess;
beforeAll(async () => {
  nats = await startNats();
});
afterAll(() => nats.stop());

const bucket = () => `p${randomBytes(3).toString('hex')}`;

async function code(p: Promise<unknown> | (() => unknown)): Promise<string | undefined> {
  try {
    await (typeof p === 'function' ? p() : p);
    return undefined;
  } catch (err) {
    return TroupeError.is(err) ? err.code : String(err);
  }
}

const stores: [string, () => Promise<KeyValueStore>][] = [
  ['memory', async () => memoryKeyValue()],
  ['nats', () => natsKeyValue({ servers: nats.url, bucket: bucket() })],
];

describe.each(stores)('proceduralMemory (%s)', (_name, make) => {
  it('stores versions, reads any of them, and lists the history', async () => {
    const store = await make();
    try {
      const procedures = proceduralMemory({ store });
      expect(await code(procedures.get('triage'))).toBe(MemoryErrorCode.NotFound);
      expect(await procedures.history('triage')).toEqual([]);
      expect(await procedures.put('triage', { kind: 'prompt', text: 'v1 text' })).toBe(1);
      expect(
        await procedures.put('triage', {
          kind: 'prompt',
          text: 'v2 text',
          description: 'sorts tickets',
          metadata: { tags: ['support'] },
        }),
      ).toBe(2);
      expect(await procedures.put('refund flow/ü', { kind: 'procedure', text: 'step 1' })).toBe(1);
      expect(await procedures.get('triage')).toMatchObject({
        name: 'triage',
        version: 2,
        text: 'v2 text',
        description: 'sorts tickets',
        metadata: { tags: ['support'] },
      });
      expect((await procedures.get('triage', 1)).text).toBe('v1 text');
      expect(await code(procedures.get('triage', 3))).toBe(MemoryErrorCode.NotFound);
      expect((await procedures.history('triage')).map((p) => [p.version, p.text])).toEqual([
        [1, 'v1 text'],
        [2, 'v2 text'],
      ]);
      expect(await procedures.names()).toEqual(['refund flow/ü', 'triage']);
      expect(await code(() => procedures.put('x', { kind: 'spell' as 'skill', text: 'x' }))).toBe(
        MemoryErrorCode.Invalid,
      );
      expect(await code(() => procedures.get('triage', 0))).toBe(MemoryErrorCode.Invalid);
    } finally {
      await store.close();
    }
  });

  it('gives concurrent writers distinct versions, none lost', async () => {
    const store = await make();
    try {
      const procedures = proceduralMemory({ store, prefix: 'team.procs' });
      const versions = await Promise.all(
        Array.from({ length: 10 }, (_, i) => procedures.put('skill', { kind: 'skill', text: `w${i}` })),
      );
      expect([...versions].sort((a, b) => a - b)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
      const history = await procedures.history('skill');
      expect(history.map((p) => p.version)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
      expect(new Set(history.map((p) => p.text)).size).toBe(10);
    } finally {
      await store.close();
    }
  });
});

describe('proceduralMemory on NATS KV across connections', () => {
  it('watch sees the latest version, then updates made through a second connection, each once', async () => {
    const name = bucket();
    const a = await natsKeyValue({ servers: nats.url, bucket: name });
    const b = await natsKeyValue({ servers: nats.url, bucket: name });
    try {
      const writer = proceduralMemory({ store: b });
      const reader = proceduralMemory({ store: a });
      await writer.put('greeting', { kind: 'prompt', text: 'hello v1' });
      const seen: Procedure[] = [];
      const stop = reader.watch('greeting', (p) => seen.push(p));
      await expect.poll(() => seen.map((p) => p.text)).toEqual(['hello v1']);
      await writer.put('greeting', { kind: 'prompt', text: 'hello v2' });
      await writer.put('other', { kind: 'prompt', text: 'not watched' });
      await writer.put('greeting', { kind: 'prompt', text: 'hello v3' });
      await expect
        .poll(() => seen.map((p) => `${p.version}:${p.text}`))
        .toEqual(['1:hello v1', '2:hello v2', '3:hello v3']);
      stop();
      await writer.put('greeting', { kind: 'prompt', text: 'hello v4' });
      await new Promise((r) => setTimeout(r, 200));
      expect(seen).toHaveLength(3);
      expect((await reader.get('greeting')).text).toBe('hello v4');
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('rejects with MEMORY_UNAVAILABLE while NATS is down, then works again', async () => {
    const server = await startNats();
    const store = await natsKeyValue({ servers: server.url, bucket: bucket(), opTimeoutMs: 500 });
    const procedures = proceduralMemory({ store });
    try {
      await procedures.put('p', { kind: 'skill', text: 'one' });
      const restarting = server.restart(1500);
      await new Promise((r) => setTimeout(r, 200));
      const started = Date.now();
      expect(await code(procedures.get('p'))).toBe(MemoryErrorCode.Unavailable);
      expect(await code(procedures.put('p', { kind: 'skill', text: 'lost' }))).toBe(
        MemoryErrorCode.Unavailable,
      );
      expect(Date.now() - started).toBeLessThan(2500);
      await restarting;
      await expect
        .poll(
          () =>
            procedures.get('p').then(
              (p) => p.text,
              (err) => (TroupeError.is(err) ? err.code : String(err)),
            ),
          { timeout: 10_000, interval: 200 },
        )
        .toBe('one');
      const version = await procedures.put('p', { kind: 'skill', text: 'two' });
      expect(version).toBe(2);
      expect((await procedures.history('p')).map((p) => p.text)).toEqual(['one', 'two']);
    } finally {
      await store.close();
      await server.stop();
    }
  });
});
