// `troupe state migrate` between real servers: kv -> postgres -> redis with 1,000 states verified by checksum, and
// a migration whose target stops halfway fails with a coded error, then completes when run again.

import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresStateStore } from '../../memory/postgres/state.js';
import { redisStateStore } from '../../memory/redis/state.js';
import type { StateStore } from '../../runtime/index.js';
import {
  type PostgresServer,
  type ServerProcess,
  startNats,
  startPostgres,
  startRedis,
} from '../../testing/index.js';
import { natsKvStateStore } from '../../transport/index.js';

const bin = fileURLToPath(new URL('../../bin/troupe.js', import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function troupe(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile('node', [bin, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

let nats: ServerProcess;
let redis: ServerProcess;
let postgres: PostgresServer;
beforeAll(async () => {
  [nats, redis, postgres] = await Promise.all([startNats(), startRedis(), startPostgres()]);
}, 60_000);
afterAll(async () => {
  await Promise.all([nats?.stop(), redis?.stop(), postgres?.stop()]);
});

/** Every key and the sha256 of its value. */
async function contents(store: StateStore): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const key of await store.list()) {
    const value = await store.get(key);
    out.set(key, createHash('sha256').update(value!).digest('hex'));
  }
  return out;
}

describe('troupe state migrate', () => {
  it('moves 1,000 states kv -> postgres -> redis, each step verified by counts and checksums', async () => {
    const bucket = `b${randomBytes(3).toString('hex')}`;
    const kv = await natsKvStateStore({ servers: nats.url, bucket });
    // Actor addresses, agent keys, binary values from empty to 40 KB.
    const seeded = new Map<string, Uint8Array>();
    for (let i = 0; i < 1000; i++) {
      const key = i % 2 === 0 ? `$v/account/${i}` : `agent:planner/run-${i}`;
      seeded.set(key, new Uint8Array(randomBytes(i % 10 === 0 ? 40_000 : i % 97)));
    }
    const keys = [...seeded.keys()];
    for (let i = 0; i < keys.length; i += 50)
      await Promise.all(keys.slice(i, i + 50).map((k) => kv.save(k, seeded.get(k)!)));

    const first = await troupe([
      ...['state', 'migrate', '--from', 'kv', '--to', 'postgres', '--nats', nats.url],
      ...['--bucket', bucket, '--postgres', postgres.url, '--table', 'states_a', '--json'],
    ]);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const one = JSON.parse(first.stdout) as Record<string, unknown>;
    expect(one).toMatchObject({
      ok: true,
      from: 'kv',
      to: 'postgres',
      count: 1000,
      copied: 1000,
      verified: 1000,
    });

    const second = await troupe([
      ...['state', 'migrate', '--from', 'postgres', '--to', 'redis', '--postgres', postgres.url],
      ...['--table', 'states_a', '--redis', redis.url, '--redis-prefix', 'moved:'],
    ]);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/^migrated 1000 states \(\d+ bytes\) from postgres .* to redis .*\n/);
    expect(second.stdout).toContain('verified: 1000 of 1000 values have the same sha256 on both sides');
    expect(second.stdout).toContain(`checksum: ${one.checksum as string}`);

    // Checked independently of the command: all three hold the same 1,000 values.
    const pg = await postgresStateStore({ url: postgres.url, table: 'states_a' });
    const rd = await redisStateStore({ redis: redis.url, prefix: 'moved:' });
    try {
      const want = new Map(
        [...seeded].map(([k, v]) => [k, createHash('sha256').update(v).digest('hex')] as const),
      );
      expect(await contents(kv)).toEqual(want);
      expect(await contents(pg)).toEqual(want);
      expect(await contents(rd)).toEqual(want);
    } finally {
      await Promise.all([kv.close(), pg.close(), rd.close()]);
    }
  }, 120_000);

  it('fails with a coded error when the target stops mid-migration, and completes when run again', async () => {
    const bucket = `b${randomBytes(3).toString('hex')}`;
    const kv = await natsKvStateStore({ servers: nats.url, bucket });
    for (let i = 0; i < 1000; i += 50)
      await Promise.all(
        Array.from({ length: 50 }, (_, j) => kv.save(`s/${i + j}`, new Uint8Array(randomBytes(2000)))),
      );
    await kv.close();
    const args = [
      ...['state', 'migrate', '--from', 'kv', '--to', 'postgres', '--nats', nats.url, '--bucket', bucket],
      ...['--postgres', postgres.url, '--table', 'states_b', '--concurrency', '1'],
    ];

    const child = spawn('node', [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    // Stop the target once some states are in it.
    const watcher = await postgresStateStore({ url: postgres.url, table: 'states_b' });
    for (;;) {
      if ((await watcher.list()).length >= 50) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    await watcher.close();
    const restarted = postgres.restart(3000);
    const code = await exited;
    expect(code).toBe(1);
    expect(stderr).toMatch(/^troupe state: STATE_UNAVAILABLE: PostgreSQL save of s\/\d+ failed/);
    await restarted;

    const rerun = await troupe([...args, '--json']);
    expect(rerun.code).toBe(0);
    expect(JSON.parse(rerun.stdout)).toMatchObject({ ok: true, count: 1000, copied: 1000, verified: 1000 });
    const pg = await postgresStateStore({ url: postgres.url, table: 'states_b' });
    try {
      expect((await pg.list()).length).toBe(1000);
    } finally {
      await pg.close();
    }
  }, 120_000);
});
