// Node processes for crash tests: a fixture script started with its env, its stdout lines collected, ready once
// it prints READY; stopped (SIGKILL, typically) by its own PID.

import { type ChildProcess, spawn } from 'node:child_process';
import { until } from './fixtures.js';

export interface NodeProcess {
  child: ChildProcess;
  /** Lines the process printed so far. */
  out: string[];
}

/** Starts `fixture` with `env` on top of this process's; resolves once it printed READY. */
export function startNodeProcess(
  fixture: string,
  env: Record<string, string>,
  what = fixture,
): Promise<NodeProcess> {
  const child = spawn(process.execPath, [fixture], {
    env: { ...process.env, TROUPE_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const out: string[] = [];
  child.stdout?.on('data', (d: Buffer) => out.push(...d.toString().split('\n').filter(Boolean)));
  return until(() => out.includes('READY'), 15_000, `${what} ready`).then(() => ({ child, out }));
}

/** Sends `signal` to the process (if it still runs) and resolves once it exited. */
export function stopNodeProcess(n: NodeProcess, signal: NodeJS.Signals): Promise<void> {
  if (n.child.exitCode !== null || n.child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    n.child.once('exit', () => resolve());
    n.child.kill(signal);
  });
}
