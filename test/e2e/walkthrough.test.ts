// README's "Three processes in five minutes", run as written: its shell block is read from README.md, each
// command runs from the repository root (servers on free ports substituted for the default URLs), and the
// output README shows under a command (`#   ...` lines) is what that command must print.

import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSystem } from '../../runtime/index.js';
import { type ServerProcess, startNats, startRedis } from '../../testing/index.js';
import { natsTransport } from '../../transport/index.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const SECTION = '## Three processes in five minutes';
const DEFAULT_NATS = 'nats://127.0.0.1:4222';
const DEFAULT_REDIS = 'redis://127.0.0.1:6379';

interface Step {
  line: string;
  argv: string[];
  background: boolean;
  /** README's `#   ...` lines right under the command: what it prints. */
  expected: string[];
}

/** Splits one shell line into words: single and double quotes, `#` comments; no expansion (README needs none). */
function shellWords(line: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'" || c === '"') {
      const end = line.indexOf(c, i + 1);
      if (end < 0) throw new Error(`unclosed ${c} in: ${line}`);
      word = (word ?? '') + line.slice(i + 1, end);
      i = end;
    } else if (c === ' ' || c === '\t') {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (c === '#' && word === undefined) {
      break;
    } else {
      word = (word ?? '') + c;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}

/** The walkthrough's commands, in order, from the first `sh` block of its README section. */
function walkthroughSteps(readme: string): Step[] {
  const start = readme.indexOf(SECTION);
  if (start < 0) throw new Error(`README.md has no "${SECTION}" section`);
  const open = readme.indexOf('```sh\n', start);
  const close = readme.indexOf('\n```', open + 1);
  const steps: Step[] = [];
  for (const raw of readme.slice(open + 6, close).split('\n')) {
    const output = /^#\s{3}(.*)$/.exec(raw);
    if (output) {
      steps.at(-1)?.expected.push(output[1]!);
      continue;
    }
    const argv = shellWords(raw);
    if (argv.length === 0) continue;
    const background = argv.at(-1) === '&';
    steps.push({ line: raw, argv: background ? argv.slice(0, -1) : argv, background, expected: [] });
  }
  return steps;
}

let nats: ServerProcess;
let redis: ServerProcess;
const background: { step: Step; child: ChildProcess; output: () => string }[] = [];

beforeAll(async () => {
  [nats, redis] = await Promise.all([startNats(), startRedis()]);
});
afterAll(async () => {
  // A node left over by a failed test: end its whole process group before its servers go.
  await Promise.all(background.map(({ child }) => endGroup(child, 'SIGKILL', 5000)));
  await Promise.all([nats?.stop(), redis?.stop()]);
});

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Signals a command's process group (npx and the node it starts) and resolves once no process of the group
 * is left, true if that took at most `withinMs`; SIGKILL ends the group after that.
 */
async function endGroup(child: ChildProcess, signal: NodeJS.Signals, withinMs: number): Promise<boolean> {
  const pid = child.pid;
  if (pid === undefined || !groupAlive(pid)) return true;
  process.kill(-pid, signal);
  const deadline = Date.now() + withinMs;
  while (groupAlive(pid)) {
    if (Date.now() > deadline) {
      process.kill(-pid, 'SIGKILL');
      while (groupAlive(pid)) await new Promise((r) => setTimeout(r, 50));
      return false;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

function argvFor(step: Step): string[] {
  return step.argv.map((a) => a.replaceAll(DEFAULT_NATS, nats.url).replaceAll(DEFAULT_REDIS, redis.url));
}

const env = (): NodeJS.ProcessEnv => ({
  ...process.env,
  NATS_URL: nats.url,
  REDIS_URL: redis.url,
  // Colours and TTY-dependent formats stay out of what is compared.
  NO_COLOR: '1',
});

function launch(step: Step): { child: ChildProcess; output: () => string } {
  const [command, ...args] = argvFor(step);
  const child = spawn(command!, args, {
    cwd: root,
    env: env(),
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return { child, output: () => output };
}

async function runToEnd(step: Step): Promise<string> {
  const { child, output } = launch(step);
  const timer = setTimeout(() => {
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
  }, 60_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearTimeout(timer);
  if (code !== 0) throw new Error(`\`${step.line.trim()}\` exited ${code}:\n${output()}`);
  return output();
}

/** Waits until the actor node hosts `doc` (an ask to a probe document answers), or a node process ended. */
async function actorNodeReady(): Promise<void> {
  await using probe = await createSystem({ transport: natsTransport({ servers: nats.url }) });
  const deadline = Date.now() + 30_000;
  for (;;) {
    for (const { step, child, output } of background)
      if (child.exitCode !== null)
        throw new Error(`\`${step.line.trim()}\` exited ${child.exitCode}:\n${output()}`);
    try {
      await probe.virtual('doc', 'walkthrough-probe').ask({ type: 'read' }, { timeout: 1000 });
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

const squash = (s: string): string => s.replace(/\s+/g, '');

describe("README's walkthrough", () => {
  it('reads as servers, two nodes, a client and CLI control', () => {
    const steps = walkthroughSteps(readFileSync(`${root}README.md`, 'utf8'));
    expect(steps.map((s) => s.argv.slice(0, 3).join(' '))).toEqual([
      'nats-server -js',
      'redis-server',
      'npx troupe node',
      'npx troupe node',
      'node examples/walkthrough/client.mjs',
      'npx troupe ps',
      'npx troupe tell',
      'npx troupe ask',
    ]);
    expect(steps.filter((s) => s.background).length).toBe(4);
  });

  it('runs its commands, and each prints what README shows', async () => {
    const steps = walkthroughSteps(readFileSync(`${root}README.md`, 'utf8'));
    const outputs: { step: Step; out: string }[] = [];
    for (const step of steps) {
      // The test brings its own servers on free ports.
      if (step.argv[0] === 'nats-server' || step.argv[0] === 'redis-server') continue;
      if (step.background) {
        background.push({ step, ...launch(step) });
        if (step.argv.includes('--actors')) await actorNodeReady();
        continue;
      }
      const out = await runToEnd(step);
      outputs.push({ step, out });
      for (const line of step.expected) expect(squash(out), step.line).toContain(squash(line));
    }
    const ps = outputs.find((o) => o.step.argv.includes('ps'));
    expect(ps?.out).toContain('$v/doc/readme');
    const ask = outputs.find((o) => o.step.argv.includes('ask'));
    expect(ask?.step.expected.length).toBeGreaterThan(0);

    // "Ctrl-C drains a node": SIGINT to each node's group, while its servers are still up.
    const drained = await Promise.all(
      background.map(async ({ step, child, output }) => {
        const ok = await endGroup(child, 'SIGINT', 15_000);
        return ok
          ? ''
          : `\`${step.line.trim()}\` did not exit within 15 s of SIGINT:\n${output().slice(-2000)}`;
      }),
    );
    expect(drained.filter(Boolean)).toEqual([]);
  }, 120_000);
});
