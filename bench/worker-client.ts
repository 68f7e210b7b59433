// The parent's side of a benchmark worker: forks dist/bench/worker.js, waits until ready, calls it over IPC.

import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { BenchError, BenchErrorCode } from './errors.js';

/** A benchmark worker process: call its role's commands; `close()` ends it (by its PID if it will not go). */
export interface WorkerHandle {
  readonly pid: number;
  /** Runs `command` in the worker and resolves with its result; rejects with `BENCH_WORKER_FAILED`. */
  call<T = unknown>(command: string, args?: unknown, timeoutMs?: number): Promise<T>;
  /** Asks the worker to close its role and exit; kills it after `graceMs`. Safe to call twice. */
  close(graceMs?: number): Promise<void>;
}

/** Options of {@link forkWorker}. */
export interface ForkWorkerOptions {
  /** Scenario whose role the worker plays. */
  scenario: string;
  role: string;
  /** Passed to the role's factory in the child. */
  init?: unknown;
  /**
   * Node flags of the child (e.g. `--expose-gc`).
   * @defaultValue none (the parent's own flags are not inherited)
   */
  execArgv?: string[];
  /** @defaultValue 20000 */
  readyTimeoutMs?: number;
  /** @defaultValue dist/bench/worker.js next to this module */
  script?: string;
}

/** Messages from parent to worker. */
export interface WorkerRequest {
  id: number;
  command: string;
  args?: unknown;
}

/** Messages from worker to parent. */
export type WorkerResponse =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: string };

/** Command that builds the role (sent first), and the one that closes it. */
export const INIT_COMMAND = '$init';
export const CLOSE_COMMAND = '$close';

/** Default call timeout: a round of a full run never takes this long. */
const DEFAULT_CALL_TIMEOUT_MS = 120_000;

/** Path of the compiled worker entry, beside this module in dist/bench/. */
export function workerScript(): string {
  return fileURLToPath(new URL('./worker.js', import.meta.url));
}

/**
 * Forks a worker that plays `role` of `scenario`, and resolves once its role is built (the readiness handshake).
 *
 * @example
 * const w = await forkWorker({ scenario: 'nats-tell', role: 'receiver', init: { url } });
 * const stats = await w.call('await', { expected: 1000 });
 * await w.close();
 */
export async function forkWorker(options: ForkWorkerOptions): Promise<WorkerHandle> {
  const child: ChildProcess = fork(options.script ?? workerScript(), [options.scenario, options.role], {
    execArgv: options.execArgv ?? [],
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const label = `${options.scenario}/${options.role} worker (pid ${child.pid ?? '?'})`;
  const pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: unknown) => void; timer: NodeJS.Timeout }
  >();
  let nextId = 1;
  let exitError: BenchError | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exitError = new BenchError(
        BenchErrorCode.Worker,
        `${label} exited (${signal ?? code})${stderr ? `: ${stderr.trim()}` : ''}`,
      );
      for (const [id, p] of pending) {
        clearTimeout(p.timer);
        pending.delete(id);
        p.reject(exitError);
      }
      resolve();
    });
  });
  child.on('error', () => {
    // Surfaces through 'exit' (or the call timeout); nothing else to do here.
  });
  child.on('message', (raw: unknown) => {
    const msg = raw as WorkerResponse;
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    clearTimeout(p.timer);
    if (msg.ok) p.resolve(msg.result);
    else p.reject(new BenchError(BenchErrorCode.Worker, `${label}: ${msg.error}`));
  });

  const call = <T>(command: string, args?: unknown, timeoutMs = DEFAULT_CALL_TIMEOUT_MS): Promise<T> => {
    if (exitError) return Promise.reject(exitError);
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(
          new BenchError(BenchErrorCode.Timeout, `${label}: ${command} took longer than ${timeoutMs} ms`),
        );
      }, timeoutMs);
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      const request: WorkerRequest = { id, command, args };
      child.send(request, (err) => {
        if (err && pending.delete(id)) {
          clearTimeout(timer);
          reject(new BenchError(BenchErrorCode.Worker, `${label}: cannot send ${command}`, { cause: err }));
        }
      });
    });
  };

  let closing: Promise<void> | undefined;
  const close = (graceMs = 5000): Promise<void> => {
    closing ??= (async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      await call(CLOSE_COMMAND, undefined, graceMs).catch(() => undefined);
      const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
      await exited;
      clearTimeout(timer);
    })();
    return closing;
  };

  try {
    await call(INIT_COMMAND, options.init, options.readyTimeoutMs ?? 20_000);
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    throw err;
  }
  return { pid: child.pid ?? -1, call, close };
}
