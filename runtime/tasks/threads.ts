// Worker threads for sandboxed tasks: a small pool that runs module handlers off the event loop, shared by runners.

import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ErrorCode, TaskError, TroupeError } from '../core/errors.js';
import type { TaskContext, TaskHandler, TaskProgress } from './definition.js';
import type { HandlerModule, HandlerThreads } from './handlers.js';

/** How long a sandboxed job may ignore its aborted signal before its thread is terminated. */
const ABORT_GRACE_MS = 1000;

/** Parent to thread: run one attempt of one job, or abort the job `id` if it still runs. */
export type ToThreadMessage =
  | { type: 'run'; id: string; url: string; export: string; input: unknown; attempt: number }
  | { type: 'abort'; id: string; reason: string };

/** Thread to parent: a progress report, or the job's outcome. */
export type ThreadMessage =
  | { type: 'progress'; id: string; value: TaskProgress }
  | {
      type: 'done';
      id: string;
      ok: boolean;
      value?: unknown;
      error?: { name: string; message: string; code?: string };
    };

/**
 * The compiled thread module (thread-worker.ts). Beside this file when it runs from dist/; when it runs from the
 * .ts sources (vitest), dist/'s copy, since a worker thread cannot load TypeScript (`npm test` builds first).
 */
function threadWorkerUrl(): URL {
  const beside = new URL('./thread-worker.js', import.meta.url);
  if (!import.meta.url.endsWith('.ts')) return beside;
  const built = new URL('../../dist/runtime/tasks/thread-worker.js', import.meta.url);
  if (!existsSync(fileURLToPath(built)))
    throw new TaskError(
      ErrorCode.TaskFailed,
      `sandboxed tasks need the compiled thread module ${fileURLToPath(built)}: run npm run build`,
    );
  return built;
}

interface ThreadJob {
  id: string;
  message: Extract<ToThreadMessage, { type: 'run' }>;
  ctx: TaskContext;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

interface Slot {
  worker: Worker;
  job: ThreadJob | undefined;
  graceTimer: ReturnType<typeof setTimeout> | undefined;
}

/** Default size of the thread pool: most cores, but small. */
export function defaultThreadCount(): number {
  return Math.max(1, Math.min(4, availableParallelism() - 1));
}

/**
 * @internal Worker threads for sandboxed tasks, shared by the task runners. Threads start on first use; a job that
 * ignores its aborted signal for {@link ABORT_GRACE_MS} has its thread terminated (and replaced on demand).
 */
export class ThreadPool implements HandlerThreads {
  readonly size: number;
  readonly #slots: Slot[] = [];
  readonly #queue: ThreadJob[] = [];
  readonly #idleWaiters: (() => void)[] = [];
  readonly #script: URL;
  #closed = false;

  constructor(size: number) {
    this.size = size;
    this.#script = threadWorkerUrl();
  }

  /** A handler that runs the module's export on a thread. */
  handlerFor(module: HandlerModule): TaskHandler<unknown, unknown> {
    return (input, ctx) =>
      new Promise((resolve, reject) => {
        if (this.#closed) {
          reject(new TaskError(ErrorCode.SystemClosed, 'thread pool is closed'));
          return;
        }
        const job: ThreadJob = {
          id: ctx.id,
          message: {
            type: 'run',
            id: ctx.id,
            url: module.url,
            export: module.export,
            input,
            attempt: ctx.attempt,
          },
          ctx,
          resolve,
          reject,
        };
        const onAbort = (): void => this.#abort(job);
        ctx.signal.addEventListener('abort', onAbort, { once: true });
        const done = (): void => ctx.signal.removeEventListener('abort', onAbort);
        job.resolve = (value) => {
          done();
          resolve(value);
        };
        job.reject = (error) => {
          done();
          reject(error);
        };
        this.#queue.push(job);
        this.#dispatch();
      });
  }

  /** Jobs running on threads. */
  get busy(): number {
    return this.#slots.filter((s) => s.job !== undefined).length;
  }

  #dispatch(): void {
    while (this.#queue.length > 0) {
      let slot = this.#slots.find((s) => s.job === undefined);
      if (slot === undefined) {
        if (this.#slots.length >= this.size) return;
        slot = this.#spawn();
      }
      const job = this.#queue.shift()!;
      slot.job = job;
      // A thread with a job keeps the process alive; an idle one does not.
      slot.worker.ref();
      try {
        slot.worker.postMessage(job.message);
      } catch (err) {
        slot.job = undefined;
        job.reject(
          new TaskError(ErrorCode.TaskFailed, `cannot pass the job to a thread: ${(err as Error).message}`),
        );
      }
    }
    if (this.busy === 0) for (const wake of this.#idleWaiters.splice(0)) wake();
  }

  #spawn(): Slot {
    const worker = new Worker(this.#script);
    worker.unref();
    const slot: Slot = { worker, job: undefined, graceTimer: undefined };
    worker.on('message', (msg: ThreadMessage) => {
      const job = slot.job;
      if (job === undefined || msg.id !== job.id) return;
      if (msg.type === 'progress') {
        job.ctx.progress(msg.value);
        return;
      }
      this.#release(slot);
      if (msg.ok) job.resolve(msg.value);
      else {
        const e = msg.error ?? { name: 'Error', message: 'unknown error' };
        job.reject(
          e.code !== undefined ? new TroupeError(e.code, e.message) : new Error(`${e.name}: ${e.message}`),
        );
      }
      this.#dispatch();
    });
    const gone = (reason: string): void => {
      const i = this.#slots.indexOf(slot);
      if (i >= 0) this.#slots.splice(i, 1);
      const job = slot.job;
      if (slot.graceTimer !== undefined) clearTimeout(slot.graceTimer);
      slot.job = undefined;
      job?.reject(new Error(`the worker thread running job ${job.id} ${reason}`));
      if (!this.#closed) this.#dispatch();
    };
    worker.on('error', (err) => gone(`failed: ${err.message}`));
    worker.on('exit', (code) => gone(`exited with code ${code}`));
    this.#slots.push(slot);
    return slot;
  }

  #release(slot: Slot): void {
    slot.job = undefined;
    slot.worker.unref();
    if (slot.graceTimer !== undefined) clearTimeout(slot.graceTimer);
    slot.graceTimer = undefined;
  }

  #abort(job: ThreadJob): void {
    const queued = this.#queue.indexOf(job);
    if (queued >= 0) {
      this.#queue.splice(queued, 1);
      job.reject(job.ctx.signal.reason);
      return;
    }
    const slot = this.#slots.find((s) => s.job === job);
    if (slot === undefined) return;
    slot.worker.postMessage({
      type: 'abort',
      id: job.id,
      reason: String(job.ctx.signal.reason?.message ?? ''),
    });
    // CPU-bound code never sees its signal: past the grace period the thread goes, and the job with it.
    slot.graceTimer = setTimeout(() => {
      if (slot.job === job) void slot.worker.terminate();
    }, ABORT_GRACE_MS);
    slot.graceTimer.unref();
  }

  /** Waits until no thread runs a job. */
  async idle(): Promise<void> {
    if (this.busy === 0 && this.#queue.length === 0) return;
    await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Terminates every thread; queued and running jobs reject. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const job of this.#queue.splice(0))
      job.reject(new TaskError(ErrorCode.SystemClosed, 'thread pool closed'));
    await Promise.all(this.#slots.map((s) => s.worker.terminate()));
    for (const wake of this.#idleWaiters.splice(0)) wake();
  }
}
