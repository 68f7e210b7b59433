// Worker nodes as real processes (`troupe node`): shared queues, SIGKILL mid-job, graceful SIGTERM, `troupe ps`.

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type ActorSystem,
  createSystem,
  defineActor,
  defineTask,
  type Reply,
  type TaskRunner,
} from '../../runtime/index.js';
import { bullmqTaskRunner } from '../../tasks-bullmq/index.js';
import { type ServerProcess, startRedis } from '../../testing/index.js';
import { until } from '../helpers/fixtures.js';

const bin = fileURLToPath(new URL('../../bin/troupe.js', import.meta.url));
const fixture = fileURLToPath(new URL('./fixtures/tasks-fixture.mjs', import.meta.url));

// Caller-side twins of the fixture's tasks: same names and options; the handlers run only on the worker nodes.
const hold = defineTask<{ n: number; ms: number }, { n: number; pid: number }>(
  'hold',
  () => {
    throw new Error('runs on worker nodes');
  },
  { concurrency: 4 },
);
const spin = defineTask<{ ms: number }, { threadId: number; loops: boolean }>('spin', () => {
  throw new Error('runs on worker nodes');
});

interface NodeProcess {
  readonly pid: number;
  readonly child: ChildProcess;
  output(): string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

let redis: ServerProcess;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(() => redis?.stop());

const children: NodeProcess[] = [];
const disposables: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const d of disposables.splice(0).reverse()) await d.close();
  for (const node of children.splice(0)) {
    if (node.child.exitCode === null && node.child.signalCode === null) node.child.kill('SIGKILL');
    await node.exited;
  }
});

/** Starts `troupe node` on the test's prefix and waits until it works on its queues. */
async function startNode(prefix: string, extra: string[] = []): Promise<NodeProcess> {
  const child = spawn(
    process.execPath,
    [bin, 'node', '--redis', redis.url, '--prefix', prefix, '--tasks', fixture, ...extra],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    log += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    log += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const node: NodeProcess = { pid: child.pid ?? -1, child, output: () => log, exited };
  children.push(node);
  await until(
    () => log.includes('working on') || child.exitCode !== null,
    15_000,
    `troupe node to start: ${log}`,
  );
  if (!log.includes('working on')) throw new Error(`troupe node failed to start: ${log}`);
  return node;
}

function newPrefix(): string {
  return `p${randomBytes(4).toString('hex')}`;
}

function caller(prefix: string): TaskRunner {
  const r = bullmqTaskRunner({ redis: redis.url, prefix });
  disposables.push(r);
  return r;
}

async function system(tasks: TaskRunner): Promise<ActorSystem> {
  const s = await createSystem({ tasks });
  disposables.push(s);
  return s;
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('troupe node worker processes', () => {
  it('two worker processes share one queue', async () => {
    const prefix = newPrefix();
    const [a, b] = await Promise.all([startNode(prefix), startNode(prefix)]);
    const tasks = caller(prefix);
    const results = await Promise.all(Array.from({ length: 16 }, (_, n) => tasks.run(hold, { n, ms: 150 })));
    expect(results.map((r) => r.n)).toEqual(Array.from({ length: 16 }, (_, n) => n));
    expect(new Set(results.map((r) => r.pid))).toEqual(new Set([a.pid, b.pid]));
  });

  it('a worker SIGKILLed mid-job: another takes the job over and the actor sees exactly one result', async () => {
    const prefix = newPrefix();
    const fast = ['--lock-duration', '1000', '--stalled-interval', '500'];
    const nodes = await Promise.all([startNode(prefix, fast), startNode(prefix, fast)]);
    const sys = await system(caller(prefix));
    type Watcher = {
      go: {};
      started: { pid: number };
      done: { n: number; pid: number };
      failed: { code: string };
      report: Reply<{ started: number[]; done: { n: number; pid: number }[]; failed: string[] }>;
    };
    const watcher = sys.spawn(
      defineActor<Watcher, { started: number[]; done: { n: number; pid: number }[]; failed: string[] }>({
        init: () => ({ started: [], done: [], failed: [] }),
        handlers: {
          go: (_msg, ctx) => {
            ctx.runTask(
              hold,
              { n: 42, ms: 1500 },
              {
                deliver: {
                  ok: (out) => ({ type: 'done', ...out }),
                  error: (e) => ({ type: 'failed', code: e.code }),
                  progress: (p) => ({ type: 'started', pid: (p as { pid: number }).pid }),
                },
              },
            );
          },
          started: (msg, ctx) => {
            ctx.state.started.push(msg.pid);
          },
          done: (msg, ctx) => {
            ctx.state.done.push({ n: msg.n, pid: msg.pid });
          },
          failed: (msg, ctx) => {
            ctx.state.failed.push(msg.code);
          },
          report: (_msg, ctx) => ctx.state,
        },
      }),
      { name: 'watcher' },
    );
    watcher.tell({ type: 'go' });
    let report = await watcher.ask({ type: 'report' });
    for (let i = 0; report.started.length === 0 && i < 200; i++) {
      await pause(25);
      report = await watcher.ask({ type: 'report' });
    }
    const victim = nodes.find((n) => n.pid === report.started[0]);
    expect(victim).toBeDefined();
    victim!.child.kill('SIGKILL');
    const survivor = nodes.find((n) => n !== victim)!;
    for (let i = 0; report.done.length + report.failed.length === 0 && i < 400; i++) {
      await pause(50);
      report = await watcher.ask({ type: 'report' });
    }
    // Room for a duplicate to show up, were there one: past another lock period and stalled check.
    await pause(2000);
    report = await watcher.ask({ type: 'report' });
    expect(report.failed).toEqual([]);
    expect(report.done).toEqual([{ n: 42, pid: survivor.pid }]);
    expect(report.started).toEqual([victim!.pid, survivor.pid]);
    expect((await victim!.exited).signal).toBe('SIGKILL');
  });

  it('SIGTERM drains: the running job finishes, then the node exits 0', async () => {
    const prefix = newPrefix();
    const node = await startNode(prefix);
    const tasks = caller(prefix);
    let started = false;
    const run = tasks.run(hold, { n: 7, ms: 800 }, { onProgress: () => (started = true) });
    await until(() => started, 10_000, 'the job to start');
    node.child.kill('SIGTERM');
    expect(await run).toEqual({ n: 7, pid: node.pid });
    expect((await node.exited).code).toBe(0);
    expect(node.output()).toContain('drained');
  });

  it('runs a sandboxed task on a worker thread of the node, and troupe ps --tasks shows the queues', async () => {
    const prefix = newPrefix();
    await startNode(prefix, ['--threads', '2']);
    const tasks = caller(prefix);
    const out = await tasks.run(spin, { ms: 50 });
    expect(out.loops).toBe(true);
    expect(out.threadId).toBeGreaterThan(0);
    await Promise.all([tasks.run(hold, { n: 1, ms: 1 }), tasks.run(hold, { n: 2, ms: 1 })]);
    const { stdout } = await promisify(execFile)(process.execPath, [
      bin,
      'ps',
      '--tasks',
      '--redis',
      redis.url,
      '--prefix',
      prefix,
      '--json',
    ]);
    const counts = JSON.parse(stdout) as Record<
      string,
      { completed: number; failed: number; waiting: number }
    >;
    expect(counts.hold).toMatchObject({ completed: 2, failed: 0, waiting: 0 });
    expect(counts.spin).toMatchObject({ completed: 1, failed: 0, waiting: 0 });
    const table = await promisify(execFile)(process.execPath, [
      bin,
      'ps',
      '--tasks',
      '--redis',
      redis.url,
      '--prefix',
      prefix,
    ]);
    expect(table.stdout).toMatch(/^TASK\s+WAITING\s+ACTIVE\s+DELAYED\s+COMPLETED\s+FAILED$/m);
    expect(table.stdout).toMatch(/^hold\s+0\s+0\s+0\s+2\s+0$/m);
  });
});
