// What every chaos scenario needs to run processes from the package: its root, the built CLI and `troupe node`
// processes started from it, a sleep, a process's RSS.

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root: the first folder up from here with troupe's package.json (works from source and dist/). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && /"name":\s*"troupe"/.test(readFileSync(pkg, 'utf8'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('chaos: cannot find the troupe package root');
    dir = up;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resident set size of process `pid` in MiB (0 once it is gone). */
export function rssMbOf(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** The built package a scenario runs (`CHAOS_DIST_DIR`, else `dist/`) and its CLI; throws when it is not built. */
export function builtCli(root: string): { dist: string; cli: string } {
  const dist = process.env.CHAOS_DIST_DIR ?? join(root, 'dist');
  const cli = join(dist, 'cli', 'troupe.js');
  if (!existsSync(cli)) throw new Error(`chaos: ${cli} is missing; run npm run build first`);
  return { dist, cli };
}

/** One `troupe node` process a scenario started. */
export interface CliNode {
  id: string;
  proc: ChildProcess;
  /** Set when the scenario ended it (SIGKILL, SIGTERM): its exit is not a crash. */
  ended: boolean;
  /** Resolves once the process exited. */
  exited: Promise<void>;
  /** Resolves once its output says it is up; rejects if it exits first. */
  ready: Promise<void>;
}

/** How to start a {@link CliNode}. */
export interface CliNodeOptions {
  id: string;
  /** From {@link builtCli}. */
  built: { dist: string; cli: string };
  /** `troupe node` arguments. */
  args: string[];
  /** Environment besides the process's own and the CLI's location. */
  env: Record<string, string>;
  /** Text its output holds once it is up. */
  readyText: string;
  /** What the log calls it: `host`, `worker`. */
  role: string;
  /** It exited without the scenario ending it; `line` says how, with its last output. */
  crashed(line: string): void;
}

/** Starts `troupe node <args>` from the built CLI; its output is kept (the last 8 KB) for the messages. */
export function startCliNode(o: CliNodeOptions): CliNode {
  const { id, built } = o;
  const proc = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      'const { main } = await import(process.env.TROUPE_CLI); process.exitCode = await main(process.argv.slice(1));',
      'node',
      ...o.args,
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        TROUPE_CLI: `file://${built.cli}`,
        TROUPE_DIST: `file://${join(built.dist, 'index.js')}`,
        ...o.env,
      },
    },
  );
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  let output = '';
  const keep = (c: Buffer): void => {
    output = (output + c.toString()).slice(-8000);
  };
  proc.stderr?.on('data', keep);
  proc.stdout?.on('data', keep);
  const node: CliNode = { id, proc, ended: false, exited, ready: Promise.resolve() };
  proc.once('exit', (code, signal) => {
    if (node.ended) return;
    o.crashed(`${o.role} ${id} died by itself (${code ?? signal}): ${output.slice(-2000)}`);
  });
  node.ready = new Promise<void>((resolve, reject) => {
    const onData = (): void => {
      if (output.includes(o.readyText)) {
        proc.stdout?.off('data', onData);
        resolve();
      }
    };
    proc.stdout?.on('data', onData);
    proc.once('exit', (code) => reject(new Error(`${o.role} ${id} exited (${code}) at start: ${output}`)));
  });
  return node;
}

/** Ends a node the scenario started: `signal`, then SIGKILL if it is still running after `killAfterMs`. */
export async function endCliNode(node: CliNode, signal: NodeJS.Signals, killAfterMs: number): Promise<void> {
  node.ended = true;
  if (node.proc.exitCode !== null || node.proc.signalCode !== null) return;
  node.proc.kill(signal);
  const timer = setTimeout(() => node.proc.kill('SIGKILL'), killAfterMs);
  await node.exited;
  clearTimeout(timer);
}

/** Peak RSS, in MiB, of the processes a scenario runs and of this process, sampled every 250 ms until `stop()`. */
export function samplePeakRss(pids: () => Iterable<number | undefined>): {
  readonly peakMb: number;
  readonly selfPeakMb: number;
  stop(): void;
} {
  const peaks = { peakMb: 0, selfPeakMb: 0 };
  const timer = setInterval(() => {
    for (const pid of pids()) peaks.peakMb = Math.max(peaks.peakMb, rssMbOf(pid));
    peaks.selfPeakMb = Math.max(peaks.selfPeakMb, process.memoryUsage().rss / 1048576);
  }, 250);
  return {
    get peakMb() {
      return peaks.peakMb;
    },
    get selfPeakMb() {
      return peaks.selfPeakMb;
    },
    stop: () => clearInterval(timer),
  };
}
