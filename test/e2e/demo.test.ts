// `troupe demo` as a user runs it (the compiled CLI: `npm run build` first): embedded and offline, as JSON, and
// across a real nats-server (JetStream journal) and redis-server (BullMQ tasks). Each run must tell the whole
// story: four agents answer, node-a crashes mid-run, node-b resumes the run from its journal with no model call
// repeated, the heavy tool's task ran once, and a budget makes the supervisor stop the knowledge agent. With
// --nats each node is a child process of the demo's, and node-a's crash is a real SIGKILL of its process.

import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ServerProcess, startNats, startRedis } from '../../testing/index.js';

const bin = fileURLToPath(new URL('../../bin/troupe.js', import.meta.url));

/** The environment without settings that would change the demo (servers, log level, a real model). */
const clean: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(
    ([k]) => !['NATS_URL', 'REDIS_URL', 'TROUPE_LOG_LEVEL', 'OPENAI_API_KEY', 'OPENAI_BASE_URL'].includes(k),
  ),
);

/** Runs `troupe` to its end; `pid` is the demo process's own. */
function troupe(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string; pid: number }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [bin, ...args],
      { timeout: 60_000, env: { ...clean, ...env } },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
        resolve({ code, stdout, stderr, pid: child.pid ?? -1 });
      },
    );
  });
}

/** Whether a process with this pid is running (signal 0 only checks). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

type Processes = { role: string; pid: number; exit?: string | number }[];

/** The node processes of a multi-process run: apart from the demo's, node-a SIGKILLed, none left running. */
function expectProcesses(processes: Processes, demoPid: number): void {
  expect(processes.map((p) => p.role)).toEqual(['demo', 'worker', 'node-a', 'node-b']);
  expect(processes[0]!.pid).toBe(demoPid);
  const nodes = processes.slice(1);
  expect(new Set(processes.map((p) => p.pid)).size).toBe(4);
  expect(processes.find((p) => p.role === 'node-a')?.exit).toBe('SIGKILL');
  // The others were still up when the summary was made (node-b answered; the worker ran the task)...
  expect(nodes.filter((p) => p.exit !== undefined).map((p) => p.role)).toEqual(['node-a']);
  // ...and the demo took every one down with it.
  for (const p of processes) expect(alive(p.pid), `${p.role} ${p.pid}`).toBe(false);
}

/** The story every run prints, whatever it runs on. */
function expectStory(stdout: string): void {
  const lines = stdout.split('\n');
  const at = (text: string | RegExp): number =>
    lines.findIndex((l) => (typeof text === 'string' ? l.includes(text) : text.test(l)));
  // The fleet at work, step by step, in order.
  const order = [
    /coordinator +step 1: .*-> ask_planner/,
    /planner +answers: "1\. Look up the price/,
    /knowledge +step 1: -> lookup_price\(model: "gpt-4o-mini"\)/,
    /knowledge +step 1: <- lookup_price ok/,
    /coordinator +step 3: -> ask_executor/,
    /executor +step 1: -> compute_cost/,
    'task demo-compute-cost starts (run 1)',
    '!! node-a crashes',
    // In one process node-a's system stops its agents; as a process, it is SIGKILLed and answers nothing.
    /the ask to node-a\/coordinator (fails: AGENT_STOPPED|gets no reply: node-a's process \(pid \d+\) is gone \(SIGKILL\))/,
    'model calls so far: 7',
    /executor +answers: "The fleet costs \$1,170 a month/,
    /the journal of trip-\w+: 6 entries, 3 model calls, \d+ bytes; step 3's call ask_executor has no result yet/,
    /coordinator +resumes run trip-\w+ from its journal/,
    /coordinator +step 3: <- ask_executor ok/,
    'answer: About $1,170 a month',
    'resumed from journal at step 3: 0 model calls repeated (model calls: 7 before the crash, 9 in all; a run without the crash makes 9)',
    'compute_cost ran 1 time(s)',
    'knowledge has spent 128 of 440 tokens',
    'the ask fails: BUDGET_EXCEEDED',
    'supervisor   decided BUDGET_EXCEEDED -> stop',
    'node-b/knowledge-capped stopped by its supervisor',
    /b-\w+-2 model knowledge: BUDGET_EXCEEDED/,
    'demo finished: ok',
  ];
  let last = -1;
  for (const text of order) {
    const i = at(text);
    expect(i, `"${String(text)}" in:\n${stdout}`).toBeGreaterThan(last);
    last = i;
  }
  // Act 1's model calls are not made again after the resume: each agent's first step shows once.
  expect(lines.filter((l) => /coordinator +step 1: .*-> ask_planner/.test(l))).toHaveLength(1);
  expect(lines.filter((l) => /executor +step 1: -> compute_cost/.test(l))).toHaveLength(1);
}

let nats: ServerProcess;
let redis: ServerProcess;
beforeAll(async () => {
  [nats, redis] = await Promise.all([startNats(), startRedis()]);
});
afterAll(() => Promise.all([nats.stop(), redis.stop()]));

describe('troupe demo', () => {
  it('runs embedded and offline (no servers, no keys) in a few seconds, tells the story and exits 0', async () => {
    const started = Date.now();
    const { code, stdout, stderr } = await troupe(['demo']);
    expect(code, stderr).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(stdout).not.toContain('processes:'); // one process
    expect(stdout).toContain('the ask to node-a/coordinator fails: AGENT_STOPPED');
    expect(stdout).toContain('the offline model server at http://127.0.0.1:');
    expect(stdout).toContain('the embedded local transport');
    expect(stdout).toContain('journal:   memory');
    expect(stdout).toContain('the embedded task pool');
    expectStory(stdout);
    expect(stderr).toBe(''); // the runtime's logs only when asked for
  });

  it('prints a machine-readable summary with --json', async () => {
    const { code, stdout, stderr } = await troupe(['demo', '--json']);
    expect(code, stderr).toBe(0);
    const summary = JSON.parse(stdout);
    expect(summary).toMatchObject({
      ok: true,
      answer: expect.stringMatching(/^About \$1,170 a month/),
      crash: {
        crashed: true,
        journaledModelCalls: 3,
        resumedAtStep: 3,
        pendingTool: 'ask_executor',
        modelCallsBeforeCrash: 7,
        modelCalls: 9,
        modelCallsRepeated: 0,
        taskRuns: 1,
      },
      budget: {
        agent: 'knowledge',
        code: 'BUDGET_EXCEEDED',
        decision: 'BUDGET_EXCEEDED -> stop',
        stopped: true,
      },
    });
    expect(summary.budget.audit.map((l: string) => l.replace(/^b-\w+-/, ''))).toEqual([
      '1 model knowledge: ok',
      '1 tool lookup_price: ok',
      '1 model knowledge: ok',
      '2 model knowledge: BUDGET_EXCEEDED',
    ]);
    const agents = new Set(summary.steps.map((s: { agent: string }) => s.agent));
    expect([...agents].sort()).toEqual(['coordinator', 'executor', 'knowledge', 'planner']);
    expect(summary.durationMs).toBeGreaterThan(0);
    expect(summary.durationMs).toBeLessThan(2000); // embedded, it takes well under a second
    expect(summary.processes).toBeUndefined();
  });

  it('runs the same across processes on NATS (journal on JetStream) with the heavy task on BullMQ', async () => {
    const { code, stdout, stderr, pid } = await troupe(['demo', '--nats', nats.url, '--redis', redis.url]);
    expect(code, stderr).toBe(0);
    // This process narrates; the worker and node-a are its children, node-b starts after the crash.
    const listed = /processes: demo (\d+) \(this one, the narrator\), worker (\d+), node-a (\d+)/.exec(
      stdout,
    );
    expect(listed, stdout).not.toBeNull();
    const [demoPid, workerPid, nodeAPid] = listed!.slice(1).map(Number) as [number, number, number];
    expect(demoPid).toBe(pid);
    const nodeBPid = Number(/node-b starts \(pid (\d+)\)/.exec(stdout)?.[1]);
    expect(new Set([pid, workerPid, nodeAPid, nodeBPid]).size).toBe(4);
    expect(stdout).toContain(
      `!! node-a crashes while the executor's task runs (SIGKILL to its process, pid ${nodeAPid})`,
    );
    expect(stdout).toContain(`node-a's process (pid ${nodeAPid}) is gone (SIGKILL)`);
    expect(stdout).toContain('0 model calls repeated');
    for (const p of [workerPid, nodeAPid, nodeBPid]) expect(alive(p), `pid ${p}`).toBe(false);
    expect(stdout).toContain(`transport: NATS at ${nats.url}`);
    expect(stdout).toContain('journal:   JetStream');
    expect(stdout).toContain(`tasks:     BullMQ at ${redis.url}`);
    expect(stdout).toContain(
      `compute_cost ran 1 time(s) as task demo-compute-cost on BullMQ at ${redis.url}`,
    );
    expectStory(stdout);
  });

  it('takes NATS and Redis from the environment too, and runs twice on the same servers', async () => {
    const env = { NATS_URL: nats.url, REDIS_URL: redis.url };
    const [a, b] = await Promise.all([troupe(['demo', '--json'], env), troupe(['demo', '--json'], env)]);
    for (const r of [a, b]) {
      expect(r.code, r.stderr).toBe(0);
      const summary = JSON.parse(r.stdout);
      expect(summary.ok).toBe(true);
      expect(summary.where.transport).toBe(`NATS at ${nats.url}`);
      expect(summary.crash.modelCallsRepeated).toBe(0);
      expect(summary.crash.taskRuns).toBe(1);
      expectProcesses(summary.processes, r.pid);
    }
    expect(a.pid).not.toBe(b.pid);
  });

  it('refuses --openai without a key, and --model without --openai, with exit code 2', async () => {
    const noKey = await troupe(['demo', '--openai']);
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain('--openai needs OPENAI_API_KEY');
    const model = await troupe(['demo', '--model', 'gpt-4o']);
    expect(model.code).toBe(2);
    const help = await troupe(['demo', '--help']);
    expect(help.code).toBe(0);
    for (const flag of ['--nats', '--redis', '--openai', '--model', '--json', 'OPENAI_BASE_URL'])
      expect(help.stdout).toContain(flag);
  });

  it('fails with the model error when --openai points at no server (exit 1)', async () => {
    const down = await troupe(['demo', '--openai'], {
      OPENAI_API_KEY: 'sk-none',
      OPENAI_BASE_URL: 'http://127.0.0.1:9/v1',
    });
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/MODEL_/);
  });
});
