// The troupe command as a user runs it: demo embedded and over NATS, and unknown commands.

import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ServerProcess, startNats, startRedis } from '../../testing/index.js';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../../bin/troupe.js', import.meta.url));

async function troupe(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], { timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

let nats: ServerProcess;
let redis: ServerProcess;
beforeAll(async () => {
  [nats, redis] = await Promise.all([startNats({ jetstream: false }), startRedis()]);
});
afterAll(() => Promise.all([nats.stop(), redis.stop()]));

describe('troupe CLI', () => {
  it('runs the demo with no servers and exits 0', async () => {
    const { code, stdout } = await troupe(['demo']);
    expect(code).toBe(0);
    expect(stdout).toContain('embedded local transport');
    expect(stdout).toMatch(/analyzed 4 of 5 documents/);
    expect(stdout).toContain('ACTOR_CRASHED');
    expect(stdout).toContain('the embedded task pool');
    expect(stdout).toMatch(/task demo-word-stats: 4 completed, 0 failed/);
    expect(stdout).toMatch(/analysts\/w\d +running +\d+ msgs, 3 restarts/);
    expect(stdout).toContain('demo finished: ok');
  });

  it('runs the same demo over NATS, with its tasks on BullMQ', async () => {
    const { code, stdout } = await troupe(['demo', '--nats', nats.url, '--redis', redis.url]);
    expect(code).toBe(0);
    expect(stdout).toContain(`NATS at ${nats.url}`);
    expect(stdout).toContain(`BullMQ at ${redis.url}`);
    expect(stdout).toMatch(/task demo-word-stats: 4 completed, 0 failed/);
    expect(stdout).toContain('demo finished: ok');
  });

  it('fails clearly on an unknown command and on an unreachable NATS', async () => {
    const unknown = await troupe(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "frobnicate"');
    const down = await troupe(['demo', '--nats', 'nats://127.0.0.1:1']);
    expect(down.code).toBe(1);
    expect(down.stderr).toContain('cannot connect to NATS');
  });
});
