// troupe ps / pause / resume / stop against a real node process, as an operator would use them.

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSystem, type Reply } from '../../runtime/index.js';
import { type ServerProcess, startNats } from '../../testing/index.js';
import { natsTransport } from '../../transport/index.js';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../../bin/troupe.js', import.meta.url));
const actors = fileURLToPath(new URL('./fixtures/team-actors.mjs', import.meta.url));

let nats: ServerProcess;
let node: ChildProcess;
const ns = `ctl${randomBytes(3).toString('hex')}`;

beforeAll(async () => {
  nats = await startNats({ jetstream: false });
  node = spawn(
    process.execPath,
    [bin, 'node', '--nats', nats.url, '--namespace', ns, '--node-id', 'w1', '--actors', actors],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  await new Promise<void>((resolve, reject) => {
    let out = '';
    node.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('actors on NATS as w1')) resolve();
    });
    node.once('exit', (code) => reject(new Error(`node exited ${code}: ${out}`)));
  });
});
afterAll(async () => {
  if (node.exitCode === null) node.kill('SIGKILL');
  await nats.stop();
});

async function troupe(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      [bin, ...args, '--nats', nats.url, '--namespace', ns],
      {
        timeout: 30_000,
      },
    );
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

interface Row {
  address: string;
  status: string;
  supervisor?: string;
  mailboxDepth: number;
}

async function ps(): Promise<Row[]> {
  const { code, stdout } = await troupe(['ps', '--json']);
  expect(code).toBe(0);
  return JSON.parse(stdout) as Row[];
}

describe('operator commands over NATS', () => {
  it('lists the tree, pauses a subtree while mail queues, resumes it, and stops one actor', async () => {
    const rows = await ps();
    const byAddress = new Map(rows.map((r) => [r.address, r]));
    expect([...byAddress.keys()].sort()).toEqual(['w1/team', 'w1/team/a', 'w1/team/b']);
    expect(byAddress.get('w1/team/a')?.supervisor).toBe('w1/team');

    const table = await troupe(['ps']);
    expect(table.stdout).toContain('w1/team/a');

    expect((await troupe(['pause', 'w1/team', '--subtree'])).code).toBe(0);
    await using client = await createSystem({
      nodeId: 'op',
      transport: natsTransport({ servers: nats.url, namespace: ns }),
    });
    const a = client.ref<{ work: {}; seen: Reply<number> }>('w1/team/a');
    for (let i = 0; i < 40; i++) a.tell({ type: 'work' });
    let paused: Row[] = [];
    for (let i = 0; i < 50; i++) {
      paused = await ps();
      if (paused.find((r) => r.address === 'w1/team/a')?.mailboxDepth === 40) break;
    }
    expect(paused.filter((r) => r.address.startsWith('w1/team')).every((r) => r.status === 'paused')).toBe(
      true,
    );
    expect(paused.find((r) => r.address === 'w1/team/a')?.mailboxDepth).toBe(40);

    expect((await troupe(['resume', 'w1/team', '--subtree'])).code).toBe(0);
    expect(await a.ask({ type: 'seen' })).toBe(40);

    expect((await troupe(['stop', 'w1/team/b'])).code).toBe(0);
    expect((await ps()).map((r) => r.address)).not.toContain('w1/team/b');

    const missing = await troupe(['pause', 'w1/nobody']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/ACTOR_NOT_FOUND|no actor/);
  });
});
