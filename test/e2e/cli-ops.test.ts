// The operator commands a user meets, against real node processes on real NATS and Redis: ask, tell, restart,
// dead letters, ps with its NODE column (virtual actors too), nodes with task-only workers, and an actor node
// without --tasks whose tasks a separate worker node runs.

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ServerProcess, startNats, startRedis } from '../../testing/index.js';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../../bin/troupe.js', import.meta.url));
const actors = fileURLToPath(new URL('./fixtures/cli-actors.mjs', import.meta.url));
const tasks = fileURLToPath(new URL('./fixtures/cli-tasks.mjs', import.meta.url));

let nats: ServerProcess;
let redis: ServerProcess;
const ns = `ops${randomBytes(3).toString('hex')}`;
const nodes: ChildProcess[] = [];

/** Starts `troupe node …` and resolves once it printed `marker` on stdout; its stderr is kept. */
function startNode(
  args: string[],
  marker: string,
  env: NodeJS.ProcessEnv = {},
): Promise<{ child: ChildProcess; stderr: () => string }> {
  const child = spawn(process.execPath, [bin, 'node', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  nodes.push(child);
  let out = '';
  let err = '';
  child.stderr?.on('data', (c: Buffer) => {
    err += c.toString();
  });
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes(marker)) resolve({ child, stderr: () => err });
    });
    child.once('exit', (code) => reject(new Error(`node exited ${code}: ${out}${err}`)));
  });
}

async function troupe(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], {
      timeout: 30_000,
      env: { ...process.env, NATS_URL: nats.url, REDIS_URL: '', TROUPE_NAMESPACE: ns, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

interface Row {
  address: string;
  node: string;
  status: string;
  restarts: number;
}

async function ps(): Promise<Row[]> {
  const { code, stdout, stderr } = await troupe(['ps', '--json']);
  expect(code, stderr).toBe(0);
  return JSON.parse(stdout) as Row[];
}

let actorNode: { child: ChildProcess; stderr: () => string };

beforeAll(async () => {
  [nats, redis] = await Promise.all([startNats({ jetstream: false }), startRedis()]);
  // The actor node: NATS and Redis, no --tasks: it queues its actors' tasks and runs none.
  actorNode = await startNode(
    [
      ...['--nats', nats.url, '--redis', redis.url, '--namespace', ns, '--node-id', 'w1', '--actors', actors],
      ...['--log-level', 'info'],
    ],
    'actors on NATS as w1',
  );
  // A task-only worker node, on Redis alone (namespace from the environment: same queue prefix).
  await startNode(['--redis', redis.url, '--tasks', tasks, '--node-id', 'tw1'], 'working on cli-double', {
    TROUPE_NAMESPACE: ns,
    NATS_URL: '',
  });
});

afterAll(async () => {
  for (const child of nodes) if (child.exitCode === null) child.kill('SIGKILL');
  await Promise.all([nats?.stop(), redis?.stop()]);
});

describe('troupe operator commands', () => {
  it('logs the node start at info with what it connected to', async () => {
    // stderr and stdout are separate pipes: the log line may arrive just after the stdout line.
    for (let i = 0; i < 40 && !actorNode.stderr().includes('node w1 started'); i++)
      await new Promise((resolve) => setTimeout(resolve, 50));
    expect(actorNode.stderr()).toMatch(
      /node w1 started \(nats nats:\/\/127\.0\.0\.1:\d+ namespace ops\w+, redis/,
    );
    expect(actorNode.stderr()).toContain('none run here (queues only)');
  });

  it('asks an actor, whose task the separate worker node runs, and prints the reply', async () => {
    const text = await troupe(['ask', 'w1/asker', '{"type":"double","n":21}']);
    expect(text.code, text.stderr).toBe(0);
    expect(JSON.parse(text.stdout)).toMatchObject({ doubled: 42 });
    const json = await troupe(['ask', 'asker', '{"type":"double","n":2}', '--json']);
    expect(json.code, json.stderr).toBe(0);
    const result = JSON.parse(json.stdout) as {
      ok: boolean;
      address: string;
      reply: { doubled: number; pid: number };
    };
    expect(result).toMatchObject({ ok: true, address: 'w1/asker', reply: { doubled: 4 } });
    // Not the actor node's process: the worker's.
    expect(result.reply.pid).not.toBe(actorNode.child.pid);
  });

  it('fails an ask with exit 1 and the coded error', async () => {
    const unhandled = await troupe(['ask', 'w1/crew/a', '{"type":"dance"}', '--json', '--timeout', '2000']);
    expect(unhandled.code).toBe(1);
    expect(unhandled.stderr).toContain('UNHANDLED');
    expect(JSON.parse(unhandled.stdout)).toMatchObject({ ok: false, error: { code: 'UNHANDLED' } });
    const missing = await troupe(['ask', 'w1/nobody', '{"type":"get"}', '--timeout', '2000']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/ACTOR_NOT_FOUND|NO_RESPONDERS/);
    const bad = await troupe(['ask', 'w1/crew/a', 'not json']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('not JSON');
  });

  it('tells a virtual actor, and ps shows it with the node it runs on', async () => {
    const told = await troupe(['tell', 'counter:c1', '{"type":"add","n":5}', '--json']);
    expect(told.code, told.stderr).toBe(0);
    expect(JSON.parse(told.stdout)).toEqual({ ok: true, address: '$v/counter/c1' });
    const asked = await troupe(['ask', '$v/counter/c1', '{"type":"get"}']);
    expect(asked.stdout.trim()).toBe('5');
    const rows = await ps();
    expect(rows.find((r) => r.address === '$v/counter/c1')?.node).toBe('w1');
    expect(rows.find((r) => r.address === 'w1/crew/a')?.node).toBe('w1');
    // Lifecycle commands reach a virtual actor on whichever node hosts it.
    const paused = await troupe(['pause', 'counter:c1', '--json']);
    expect(paused.code, paused.stderr).toBe(0);
    expect(JSON.parse(paused.stdout)).toEqual({ ok: true, command: 'pause', address: '$v/counter/c1' });
    expect((await ps()).find((r) => r.address === '$v/counter/c1')?.status).toBe('paused');
    expect((await troupe(['resume', '$v/counter/c1'])).code).toBe(0);
    expect((await ps()).find((r) => r.address === '$v/counter/c1')?.status).toBe('running');
    const inactive = await troupe(['pause', 'counter:never-active']);
    expect(inactive.code).toBe(1);
    expect(inactive.stderr).toContain('ACTOR_NOT_FOUND');
    const table = await troupe(['ps']);
    expect(table.stdout).toMatch(/^ACTOR\s+NODE\s+TYPE/);
    expect(table.stdout).toMatch(/\$v\/counter\/c1\s+w1\s+counter/);
  });

  it('lists dead letters of every node, and follows new ones', async () => {
    expect((await troupe(['tell', 'w1/crew/a', '{"type":"nobody-handles-this"}'])).code).toBe(0);
    let letters: { node: string; reason: string; address: string }[] = [];
    for (let i = 0; i < 20 && letters.length === 0; i++) {
      const out = await troupe(['dead-letters', '--json']);
      expect(out.code, out.stderr).toBe(0);
      letters = (JSON.parse(out.stdout) as typeof letters).filter((l) => l.address === 'w1/crew/a');
    }
    expect(letters[0]).toMatchObject({ node: 'w1', reason: 'UNHANDLED' });

    const follow = spawn(process.execPath, [bin, 'dead-letters', '--follow', '--json', '--interval', '200'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NATS_URL: nats.url, TROUPE_NAMESPACE: ns },
    });
    const followExit = new Promise<number | null>((resolve) => follow.once('exit', resolve));
    let out = '';
    follow.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
    });
    const seen = (text: string): Promise<void> =>
      new Promise((resolve, reject) => {
        const timer = setInterval(() => {
          if (out.includes(text)) {
            clearInterval(timer);
            resolve();
          }
        }, 50);
        void followExit.then(() => {
          clearInterval(timer);
          reject(new Error(`exited: ${out}`));
        });
      });
    try {
      await seen('nobody-handles-this');
      const before = out.split('\n').filter(Boolean).length;
      expect((await troupe(['tell', 'w1/crew/a', '{"type":"second-stray"}'])).code).toBe(0);
      await seen('second-stray');
      const lines = out.split('\n').filter(Boolean);
      // No letter is printed twice. Other new letters may join ours: twice in CI two more lines came after
      // ours, from a source not pinned down, and a repeat would show here with the whole output.
      expect(lines.length - new Set(lines).size, out).toBe(0);
      const added = lines.slice(before).map((l) => JSON.parse(l) as { address: string; message?: unknown });
      expect(added.filter((l) => l.address === 'w1/crew/a')).toEqual([
        expect.objectContaining({ node: 'w1', reason: 'UNHANDLED', message: { type: 'second-stray' } }),
      ]);
      follow.kill('SIGINT');
      expect(await followExit).toBe(0);
    } finally {
      // A failed assertion must not leave the follower polling after the test.
      if (follow.exitCode === null && follow.signalCode === null) follow.kill('SIGKILL');
    }
  });

  it('restarts a running actor, and brings back a permanent child stopped by troupe stop', async () => {
    const restarted = await troupe(['restart', 'w1/crew/a', '--json']);
    expect(restarted.code, restarted.stderr).toBe(0);
    expect(JSON.parse(restarted.stdout)).toEqual({ ok: true, command: 'restart', address: 'w1/crew/a' });
    let row: Row | undefined;
    for (let i = 0; i < 20; i++) {
      row = (await ps()).find((r) => r.address === 'w1/crew/a');
      if (row?.restarts === 1) break;
    }
    expect(row).toMatchObject({ restarts: 1, status: 'running' });

    expect((await troupe(['stop', 'w1/crew/a'])).code).toBe(0);
    expect((await ps()).map((r) => r.address)).not.toContain('w1/crew/a');
    const back = await troupe(['restart', 'w1/crew/a']);
    expect(back.code, back.stderr).toBe(0);
    expect(back.stdout).toContain('restarted w1/crew/a');
    expect((await ps()).find((r) => r.address === 'w1/crew/a')?.status).toBe('running');

    const none = await troupe(['restart', 'w1/crew/zz', '--json']);
    expect(none.code).toBe(1);
    expect(JSON.parse(none.stdout)).toMatchObject({ ok: false, error: { code: 'ACTOR_NOT_FOUND' } });
  });

  it('lists the task-only worker next to the actor nodes', async () => {
    const out = await troupe(['nodes', '--json', '--redis', redis.url]);
    expect(out.code, out.stderr).toBe(0);
    const listed = JSON.parse(out.stdout) as {
      nodes: { id: string }[];
      workers: { worker: string; tasks: string[] }[];
    };
    expect(listed.nodes.map((n) => n.id)).toContain('w1');
    expect(listed.workers).toContainEqual(expect.objectContaining({ worker: 'tw1', tasks: ['cli-double'] }));
    const table = await troupe(['nodes', '--redis', redis.url]);
    expect(table.stdout).toMatch(/WORKER\s+ADDRESS\s+TASKS/);
    expect(table.stdout).toMatch(/tw1\s+\S+\s+cli-double/);
  });

  it('keeps task queues apart per namespace', async () => {
    const mine = await troupe(['ps', '--tasks', '--json', '--redis', redis.url]);
    expect(mine.code, mine.stderr).toBe(0);
    expect(Object.keys(JSON.parse(mine.stdout) as object)).toEqual(['cli-double']);
    const other = await troupe(['ps', '--tasks', '--json', '--redis', redis.url, '--namespace', `${ns}x`]);
    expect(JSON.parse(other.stdout)).toEqual({});
  });

  it('redraws ps --watch until interrupted', async () => {
    const watch = spawn(process.execPath, [bin, 'ps', '--watch', '--interval', '200', '--json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NATS_URL: nats.url, TROUPE_NAMESPACE: ns },
    });
    const watchExit = new Promise<number | null>((resolve) => watch.once('exit', resolve));
    let out = '';
    watch.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
    });
    for (let i = 0; i < 100 && out.split('\n').filter(Boolean).length < 2; i++)
      await new Promise((resolve) => setTimeout(resolve, 100));
    watch.kill('SIGINT');
    expect(await watchExit).toBe(0);
    const rounds = out
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { actors: Row[] });
    expect(rounds.length).toBeGreaterThanOrEqual(2);
    for (const round of rounds) expect(round.actors.map((a) => a.address)).toContain('w1/asker');
  });
});
