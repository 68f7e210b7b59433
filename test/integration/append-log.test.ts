// The AppendLog contract on both stores (in memory, JetStream on a real nats-server): order, sequences, limits,
// purge for compaction, concurrent appends, codes for bad input; then NATS outages and a SIGKILLed appender.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AppendLog,
  AppendLogErrorCode,
  createSystem,
  memoryAppendLog,
  TroupeError,
} from '../../runtime/index.js';
import { type ServerProcess, startNats } from '../../testing/index.js';
import { natsAppendLog, natsTransport } from '../../transport/index.js';

let nats: ServerProcess;
beforeAll(async () => {
  nats = await startNats();
});
afterAll(() => nats.stop());

const logName = () => `t${randomBytes(3).toString('hex')}`;

/** Polls `check` every 100 ms until it holds; fails after `ms`. */
async function eventually(check: () => Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function code(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return TroupeError.is(err) ? err.code : String(err);
  }
}

const stores: [string, (maxRecordBytes?: number) => Promise<AppendLog>][] = [
  ['memory', async (maxRecordBytes) => memoryAppendLog(maxRecordBytes ? { maxRecordBytes } : {})],
  [
    'nats',
    (maxRecordBytes) =>
      natsAppendLog({ servers: nats.url, name: logName(), ...(maxRecordBytes ? { maxRecordBytes } : {}) }),
  ],
];

describe.each(stores)('AppendLog (%s)', (_name, make) => {
  it('appends with increasing sequences and reads per key or all, in order, from a sequence, up to a limit', async () => {
    const log = await make();
    try {
      const seqs: number[] = [];
      for (let i = 0; i < 10; i++) seqs.push(await log.append(i % 2 === 0 ? 'run-a' : 'run.b c', `d${i}`));
      for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBeGreaterThan(seqs[i - 1] as number);
      const a = await log.read('run-a');
      expect(a.map((r) => r.data)).toEqual(['d0', 'd2', 'd4', 'd6', 'd8']);
      expect(a.every((r) => r.key === 'run-a' && r.at > Date.now() - 60_000)).toBe(true);
      const b = await log.read('run.b c');
      expect(b.map((r) => r.data)).toEqual(['d1', 'd3', 'd5', 'd7', 'd9']);
      expect(b[0]?.key).toBe('run.b c');
      const all = await log.read('*');
      expect(all.map((r) => r.seq)).toEqual(seqs);
      expect((await log.read('run-a', { fromSeq: seqs[4] as number })).map((r) => r.data)).toEqual([
        'd4',
        'd6',
        'd8',
      ]);
      expect((await log.read('run-a', { fromSeq: seqs[4] as number, limit: 2 })).map((r) => r.data)).toEqual([
        'd4',
        'd6',
      ]);
      expect((await log.read('*', { limit: 3 })).map((r) => r.data)).toEqual(['d0', 'd1', 'd2']);
      expect(await log.read('nobody')).toEqual([]);
      expect(await log.read('run-a', { fromSeq: (seqs[9] as number) + 1 })).toEqual([]);
    } finally {
      await log.close();
    }
  });

  it('purges a key before a sequence (compaction), or wholly, leaving other keys alone', async () => {
    const log = await make();
    try {
      const seqs: number[] = [];
      for (let i = 0; i < 6; i++) seqs.push(await log.append('k1', `x${i}`));
      await log.append('k2', 'other');
      await log.purge('k1', seqs[4]);
      expect((await log.read('k1')).map((r) => r.data)).toEqual(['x4', 'x5']);
      expect((await log.read('*')).map((r) => r.data)).toEqual(['x4', 'x5', 'other']);
      const next = await log.append('k1', 'x6');
      expect(next).toBeGreaterThan(seqs[5] as number);
      await log.purge('k1');
      expect(await log.read('k1')).toEqual([]);
      expect((await log.read('k2')).map((r) => r.data)).toEqual(['other']);
      await log.purge('*');
      expect(await log.read('*')).toEqual([]);
    } finally {
      await log.close();
    }
  });

  it('stores 20 concurrent appends, each with its own sequence, all readable in sequence order', async () => {
    const log = await make();
    try {
      const seqs = await Promise.all(Array.from({ length: 20 }, (_, i) => log.append('race', `r${i}`)));
      expect(new Set(seqs).size).toBe(20);
      const records = await log.read('race');
      expect(records).toHaveLength(20);
      expect(records.map((r) => r.seq)).toEqual([...seqs].sort((x, y) => x - y));
      for (let i = 0; i < 20; i++) expect(records.find((r) => r.seq === seqs[i])?.data).toBe(`r${i}`);
    } finally {
      await log.close();
    }
  });

  it('refuses bad keys, oversized records and bad options with codes, and everything once closed', async () => {
    const log = await make(1024);
    try {
      expect(await code(log.append('', 'x'))).toBe(AppendLogErrorCode.InvalidKey);
      expect(await code(log.append('*', 'x'))).toBe(AppendLogErrorCode.InvalidKey);
      expect(await code(log.append('a\nb', 'x'))).toBe(AppendLogErrorCode.InvalidKey);
      expect(await code(log.append('k'.repeat(257), 'x'))).toBe(AppendLogErrorCode.InvalidKey);
      expect(await code(log.append(7 as never, 'x'))).toBe(AppendLogErrorCode.InvalidKey);
      expect(await code(log.read(''))).toBe(AppendLogErrorCode.InvalidKey);
      expect(await code(log.purge('bad\u0000'))).toBe(AppendLogErrorCode.InvalidKey);
      expect(await code(log.append('k', 'x'.repeat(1025)))).toBe(AppendLogErrorCode.RecordTooLarge);
      // 400 three-byte characters: 1200 bytes, though only 400 UTF-16 units.
      expect(await code(log.append('k', '€'.repeat(400)))).toBe(AppendLogErrorCode.RecordTooLarge);
      expect(await code(log.append('k', 'x'.repeat(1024)))).toBeUndefined();
      expect(await code(log.append('k', 5 as never))).toBe('INVALID_OPTIONS');
      expect(await code(log.read('k', { limit: 0 }))).toBe('INVALID_OPTIONS');
      expect(await code(log.read('k', { fromSeq: -1 }))).toBe('INVALID_OPTIONS');
      expect(await code(log.purge('k', 0))).toBe('INVALID_OPTIONS');
      expect((await log.read('k')).map((r) => r.data.length)).toEqual([1024]);
    } finally {
      await log.close();
    }
    expect(await code(log.append('k', 'x'))).toBe(AppendLogErrorCode.Closed);
    expect(await code(log.read('k'))).toBe(AppendLogErrorCode.Closed);
  });
});

describe('natsAppendLog on a failing server', () => {
  it('refuses bad options', async () => {
    expect(await code(natsAppendLog({ servers: nats.url, name: 'a b' }))).toBe('INVALID_NAME');
    expect(await code(natsAppendLog({ servers: nats.url, name: 'x', opTimeoutMs: 0 }))).toBe(
      'INVALID_OPTIONS',
    );
    expect(await code(natsAppendLog({ name: 'x' }))).toBe('INVALID_OPTIONS');
  });

  it('drops records past maxAgeMs, also on a stream created without one; refuses a bad maxAgeMs', async () => {
    expect(await code(natsAppendLog({ servers: nats.url, name: 'x', maxAgeMs: -1 }))).toBe('INVALID_OPTIONS');
    const name = logName();
    const forever = await natsAppendLog({ servers: nats.url, name });
    await forever.append('k', 'old');
    const aging = await natsAppendLog({ servers: nats.url, name, maxAgeMs: 1000 });
    try {
      expect((await aging.read('k')).map((r) => r.data)).toEqual(['old']);
      await eventually(async () => (await aging.read('k')).length === 0, 8000);
      await aging.append('k', 'new');
      expect((await forever.read('k')).map((r) => r.data)).toEqual(['new']);
      // A log opened later without maxAgeMs leaves the stream's retention as it is.
      const again = await natsAppendLog({ servers: nats.url, name });
      await again.close();
      await eventually(async () => (await aging.read('k')).length === 0, 8000);
    } finally {
      await forever.close();
      await aging.close();
    }
  });

  it("shares a system's NATS transport: unavailable until a system binds it, then the same log", async () => {
    const transport = natsTransport({ servers: nats.url });
    const name = logName();
    const log = await natsAppendLog({ transport, name });
    expect(await code(log.append('k', 'early'))).toBe(AppendLogErrorCode.Unavailable);
    const system = await createSystem({ transport });
    try {
      await log.append('k', 'bound');
      const other = await natsAppendLog({ servers: nats.url, name });
      expect((await other.read('k')).map((r) => r.data)).toEqual(['bound']);
      await other.close();
    } finally {
      await log.close();
      await system.close();
    }
  });

  it('rejects with LOG_UNAVAILABLE within its deadline during a restart, then works again, records kept', async () => {
    const server = await startNats();
    const log = await natsAppendLog({ servers: server.url, name: logName(), opTimeoutMs: 500 });
    try {
      await log.append('k', 'before');
      const restarting = server.restart(1500);
      await new Promise((r) => setTimeout(r, 200));
      for (const op of [() => log.append('k', 'during'), () => log.read('k'), () => log.purge('k', 1)]) {
        const started = Date.now();
        expect(await code(op())).toBe(AppendLogErrorCode.Unavailable);
        expect(Date.now() - started).toBeLessThan(1000);
      }
      await restarting;
      await expect
        .poll(
          () =>
            log.append('k', 'after').then(
              () => 'ok',
              (e: unknown) => String(e),
            ),
          {
            timeout: 10_000,
            interval: 250,
          },
        )
        .toBe('ok');
      const data = (await log.read('k')).map((r) => r.data);
      expect(data[0]).toBe('before');
      expect(data.at(-1)).toBe('after');
    } finally {
      await log.close();
      await server.stop();
    }
  });

  it('keeps every acknowledged append of a process that is SIGKILLed mid-stream', async () => {
    const name = logName();
    const fixture = fileURLToPath(new URL('./fixtures/append-log-fixture.mjs', import.meta.url));
    const child = spawn(process.execPath, [fixture, nats.url, name, 'killed'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const acked = new Map<number, string>();
    let buffer = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) {
        const [, seq, i] = line.split(' ');
        acked.set(Number(seq), `record-${i}`);
      }
    });
    const exited = new Promise((r) => child.once('exit', r));
    await expect.poll(() => acked.size, { timeout: 15_000 }).toBeGreaterThan(300);
    child.kill('SIGKILL');
    await exited;
    const log = await natsAppendLog({ servers: nats.url, name });
    try {
      const stored = new Map((await log.read('killed')).map((r) => [r.seq, r.data]));
      expect(stored.size).toBeGreaterThanOrEqual(acked.size);
      for (const [seq, data] of acked) expect(stored.get(seq)).toBe(data);
    } finally {
      await log.close();
    }
  });
});
