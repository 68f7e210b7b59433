// A server's child process: spawned so that it never outlives this process, its output kept, and ended by signal.

import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';

/** A started server process and a promise that resolves once it has exited. */
export interface Running {
  child: ChildProcess;
  exited: Promise<void>;
}

/** A {@link Running} process and the last 4,000 characters it wrote to stdout and stderr. */
export interface SpawnedServer extends Running {
  output(): string;
}

/**
 * Servers started and not yet stopped. If this process ends without stopping them (a crash, a closed pipe),
 * an exit hook kills them, so no test or benchmark leaves a server behind.
 */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const c of live) c.kill('SIGKILL');
  });
}

/**
 * Spawns a server with its output piped and kept; `onOutput` sees the kept output after each chunk. The process
 * is killed if this one exits first.
 */
export function spawnServer(
  binary: string,
  argv: string[],
  options: Pick<SpawnOptions, 'cwd' | 'uid' | 'gid'> = {},
  onOutput?: (output: string) => void,
): SpawnedServer {
  const child = spawn(binary, argv, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  track(child);
  let log = '';
  const keep = (chunk: Buffer): void => {
    log = (log + chunk.toString()).slice(-4000);
    onOutput?.(log);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { child, exited, output: () => log };
}

/** Sends `signal` unless the process has already exited, SIGKILL after `killAfterMs`, and waits for the exit. */
export async function terminate(
  running: Running,
  signal: NodeJS.Signals = 'SIGTERM',
  killAfterMs = 3000,
): Promise<void> {
  const { child, exited } = running;
  if (child.exitCode === null && child.signalCode === null) {
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    await exited;
    clearTimeout(timer);
  }
}
