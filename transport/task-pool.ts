// The embedded task runner: tasks run in-process (sandboxed ones on a small worker-thread pool), no servers needed.

import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import {
  type AnyTaskDefinition,
  backoffDelay,
  type Clock,
  ErrorCode,
  executeTask,
  InvalidOptionsError,
  type RunTaskOptions,
  resolveRunOptions,
  systemClock,
  type TaskContext,
  type TaskCounts,
  type TaskDefinition,
  TaskError,
  type TaskHandler,
  type TaskProgress,
  type TaskRunner,
  TroupeError,
  taskCancelled,
} from '../runtime/index.js';

/** How long a sandboxed job may ignore its aborted signal before its thread is terminated. */
const ABORT_GRACE_MS = 1000;

/** The code each worker thread runs: loads handler modules and runs one job at a time. */
const THREAD_SOURCE = `
const { parentPort } = require('node:worker_threads');
const modules = new Map();
let current;
parentPort.on('message', async (msg) => {
  if (msg.type === 'abort') {
    if (current && current.id === msg.id) current.controller.abort(new Error(msg.reason || 'aborted'));
    return;
  }
  if (msg.type !== 'run') return;
  const controller = new AbortController();
  current = { id: msg.id, controller };
  try {
    let mod = modules.get(msg.url);
    if (!mod) { mod = await import(msg.url); modules.set(msg.url, mod); }
    let fn = mod[msg.export];
    if (fn && typeof fn === 'object' && typeof fn.handler === 'function') fn = fn.handler;
    if (typeof fn !== 'function') throw new Error(msg.url + ' exports no task handler named "' + msg.export + '"');
    const ctx = {
      id: msg.id,
      attempt: msg.attempt,
      signal: controller.signal,
      progress: (value) => { try { parentPort.postMessage({ type: 'progress', id: msg.id, value }); } catch {} },
    };
    const value = await fn(msg.input, ctx);
    parentPort.postMessage({ type: 'done', id: msg.id, ok: true, value });
  } catch (err) {
    const e = err && typeof err === 'object' ? err : { message: String(err) };
    parentPort.postMessage({ type: 'done', id: msg.id, ok: false,
      error: { name: String(e.name || 'Error'), message: String(e.message), code: typeof e.code === 'string' ? e.code : undefined } });
  } finally {
    if (current && current.id === msg.id) current = undefined;
  }
});
`;

type ThreadMessage =
  | { type: 'progress'; id: string; value: TaskProgress }
  | {
      type: 'done';
      id: string;
      ok: boolean;
      value?: unknown;
      error?: { name: string; message: string; code?: string };
    };

interface ThreadJob {
  id: string;
  message: { type: 'run'; id: string; url: string; export: string; input: unknown; attempt: number };
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
export class ThreadPool {
  readonly size: number;
  readonly #slots: Slot[] = [];
  readonly #queue: ThreadJob[] = [];
  readonly #idleWaiters: (() => void)[] = [];
  #closed = false;

  constructor(size: number) {
    this.size = size;
  }

  /** A handler that runs the module's export on a thread. */
  handlerFor(module: { readonly url: string; readonly export: string }): TaskHandler<unknown, unknown> {
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
    const worker = new Worker(THREAD_SOURCE, { eval: true });
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

/** @internal Loads (once) the handler a module exports, for tasks given as modules but not sandboxed. */
export function moduleHandler(module: {
  readonly url: string;
  readonly export: string;
}): TaskHandler<unknown, unknown> {
  let loaded: Promise<TaskHandler<unknown, unknown>> | undefined;
  return async (input, ctx) => {
    loaded ??= import(module.url).then((mod: Record<string, unknown>) => {
      let fn = mod[module.export];
      if (
        typeof fn === 'object' &&
        fn !== null &&
        typeof (fn as { handler?: unknown }).handler === 'function'
      )
        fn = (fn as { handler: unknown }).handler;
      if (typeof fn !== 'function')
        throw new Error(`${module.url} exports no task handler named "${module.export}"`);
      return fn as TaskHandler<unknown, unknown>;
    });
    return (await loaded)(input, ctx);
  };
}

/** @internal Picks how a task's jobs run in this process: inline, from its module, or on a thread. */
export function handlerOf(task: AnyTaskDefinition, threads: () => ThreadPool): TaskHandler<unknown, unknown> {
  if (task.options.sandbox && task.module !== undefined) return threads().handlerFor(task.module);
  if (task.handler !== undefined) return task.handler as TaskHandler<unknown, unknown>;
  if (task.module !== undefined) return moduleHandler(task.module);
  throw new TaskError(ErrorCode.UnknownTask, `task ${task.name} has no handler`);
}

function ignore(): void {}

/** Objects JSON silently turns into `{}` (or a list of numbers): refused rather than sent empty. */
const NOT_JSON_OBJECTS: (abstract new (...args: never[]) => unknown)[] = [
  Map,
  Set,
  WeakMap,
  WeakSet,
  Promise,
  ArrayBuffer,
];

/**
 * @internal Where `value` stops being a JSON value that survives the trip through Redis unchanged: a function,
 * symbol or bigint, a number that is not finite, a Map, Set, typed array or other object JSON would empty, or a
 * cycle. Returns the path of the first such spot (`input.a[2]`) and what it is, or undefined when it is fine.
 * Objects with a `toJSON` (Date) pass as they are.
 */
export function nonJsonAt(value: unknown, path = 'input'): string | undefined {
  const ancestors: object[] = [];
  const walk = (v: unknown, at: string): string | undefined => {
    switch (typeof v) {
      case 'string':
      case 'boolean':
      case 'undefined':
        return undefined;
      case 'number':
        return Number.isFinite(v) ? undefined : `${at} is ${String(v)}`;
      case 'function':
      case 'symbol':
      case 'bigint':
        return `${at} is a ${typeof v}`;
    }
    if (v === null) return undefined;
    const o = v as object;
    if (typeof (o as { toJSON?: unknown }).toJSON === 'function') return undefined;
    if (ArrayBuffer.isView(o)) return `${at} is a ${o.constructor.name}`;
    for (const kind of NOT_JSON_OBJECTS) if (o instanceof kind) return `${at} is a ${kind.name}`;
    if (ancestors.includes(o)) return `${at} refers back to an enclosing object (a cycle)`;
    ancestors.push(o);
    let found: string | undefined;
    if (Array.isArray(o)) {
      for (let i = 0; i < o.length && found === undefined; i++) found = walk(o[i], `${at}[${i}]`);
    } else {
      for (const key of Object.keys(o)) {
        found = walk((o as Record<string, unknown>)[key], `${at}.${key}`);
        if (found !== undefined) break;
      }
    }
    ancestors.pop();
    return found;
  };
  return walk(value, path);
}

/** @internal Throws `INVALID_OPTIONS` unless `task` is absent, a task name or a task definition (for `counts`). */
export function assertTaskRef(task: unknown): void {
  if (
    task !== undefined &&
    typeof task !== 'string' &&
    (typeof task !== 'object' || task === null || typeof (task as { name?: unknown }).name !== 'string')
  )
    throw new InvalidOptionsError('task', 'expected a task name or a task definition');
}

/** @internal Throws `INVALID_TASK_INPUT` unless `input` is a JSON value (see {@link nonJsonAt}). */
export function assertTaskInput(task: string, input: unknown): void {
  const bad = nonJsonAt(input);
  if (bad !== undefined)
    throw new TaskError(
      ErrorCode.InvalidTaskInput,
      `task ${task}: ${bad}; task input must be a JSON value (it travels through Redis)`,
      { data: { task, at: bad } },
    );
}

/** @internal Throws `TASK_FAILED` unless a handler's `output` is a JSON value (see {@link nonJsonAt}). */
export function assertTaskOutput(task: string, jobId: string, output: unknown): void {
  const bad = nonJsonAt(output, 'output');
  if (bad !== undefined)
    throw new TaskError(
      ErrorCode.TaskFailed,
      `task ${task} (job ${jobId}) returned a value that is not JSON: ${bad}`,
      { data: { task, jobId, at: bad } },
    );
}

/** Options of {@link taskPool}. */
export interface TaskPoolOptions {
  /**
   * Worker threads for sandboxed tasks (started on first use).
   * @defaultValue the number of cores minus one, between 1 and 4
   */
  threads?: number;
  /** Drives timeouts, backoff and rate limits. @defaultValue the real clock */
  clock?: Clock;
}

interface PoolJob {
  readonly id: string;
  readonly task: AnyTaskDefinition;
  readonly input: unknown;
  readonly attempts: number;
  readonly timeoutMs: number;
  readonly priority: number;
  readonly seq: number;
  attempt: number;
  settled: boolean;
  control: { cancel?: (reason?: unknown) => void } | undefined;
  retryTimer: unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  readonly onProgress: ((value: TaskProgress) => void) | undefined;
}

interface PoolQueue {
  readonly task: AnyTaskDefinition;
  readonly handler: TaskHandler<unknown, unknown>;
  readonly waiting: PoolJob[];
  readonly active: Set<PoolJob>;
  readonly delayed: Set<PoolJob>;
  completed: number;
  failed: number;
  windowStart: number;
  windowCount: number;
  rateTimer: unknown;
}

function compareJobs(a: PoolJob, b: PoolJob): number {
  // BullMQ's order: jobs without a priority (0) first, then 1 (highest) to 2097152; first in, first out within one.
  return a.priority - b.priority || a.seq - b.seq;
}

/**
 * Creates the embedded task runner: the same API and semantics as the BullMQ runner (per-task concurrency,
 * priorities, attempts with exponential backoff, timeouts, rate limits, cancellation, progress), in this process.
 * Sandboxed tasks run on a small worker-thread pool.
 *
 * @example
 * await using tasks = taskPool();
 * await using system = await createSystem({ tasks });
 * const n = await tasks.run(wordCount, { text: 'a b c' }); // 3
 */
export function taskPool(options: TaskPoolOptions = {}): TaskRunner {
  if (typeof options !== 'object' || options === null)
    throw new InvalidOptionsError('options', 'expected { threads?, clock? }');
  const threadCount = options.threads ?? defaultThreadCount();
  if (!Number.isInteger(threadCount) || threadCount < 1)
    throw new InvalidOptionsError('threads', `expected a positive integer, got ${String(threadCount)}`);
  const clock = options.clock ?? systemClock;
  if (typeof clock !== 'object' || clock === null || typeof clock.setTimeout !== 'function')
    throw new InvalidOptionsError('clock', 'expected { now, setTimeout, clearTimeout }');
  let threads: ThreadPool | undefined;
  const getThreads = (): ThreadPool => {
    threads ??= new ThreadPool(threadCount);
    return threads;
  };
  const queues = new Map<string, PoolQueue>();
  let seq = 0;
  let live = 0;
  let state: 'open' | 'draining' | 'closed' = 'open';
  let closing: Promise<void> | undefined;
  const settledWaiters: (() => void)[] = [];
  let resolveClosed!: (err: Error | undefined) => void;
  const whenClosed = new Promise<Error | undefined>((resolve) => {
    resolveClosed = resolve;
  });

  const queueOf = (task: AnyTaskDefinition): PoolQueue => {
    let q = queues.get(task.name);
    if (q === undefined) {
      q = {
        task,
        handler: handlerOf(task, getThreads),
        waiting: [],
        active: new Set(),
        delayed: new Set(),
        completed: 0,
        failed: 0,
        windowStart: Number.NEGATIVE_INFINITY,
        windowCount: 0,
        rateTimer: undefined,
      };
      queues.set(task.name, q);
    }
    return q;
  };

  // The clock's timers do not hold the process open, so while runs are pending this handle does: a script that
  // awaits a task waiting out its backoff must not exit.
  let keepAlive: ReturnType<typeof setInterval> | undefined;
  const settle = (job: PoolJob, fn: () => void): void => {
    if (job.settled) return;
    job.settled = true;
    live--;
    fn();
    if (live === 0) {
      clearInterval(keepAlive);
      keepAlive = undefined;
      for (const wake of settledWaiters.splice(0)) wake();
    }
  };

  const enqueue = (q: PoolQueue, job: PoolJob): void => {
    let i = q.waiting.length;
    while (i > 0 && compareJobs(q.waiting[i - 1]!, job) > 0) i--;
    q.waiting.splice(i, 0, job);
  };

  const pump = (q: PoolQueue): void => {
    const limit = q.task.options.rateLimit;
    while (q.active.size < q.task.options.concurrency && q.waiting.length > 0 && state !== 'closed') {
      if (limit !== undefined) {
        const now = clock.now();
        if (now - q.windowStart >= limit.intervalMs) {
          q.windowStart = now;
          q.windowCount = 0;
        }
        if (q.windowCount >= limit.max) {
          if (q.rateTimer === undefined) {
            q.rateTimer = clock.setTimeout(
              () => {
                q.rateTimer = undefined;
                pump(q);
              },
              q.windowStart + limit.intervalMs - now,
            );
          }
          return;
        }
        q.windowCount++;
      }
      start(q, q.waiting.shift()!);
    }
  };

  const start = (q: PoolQueue, job: PoolJob): void => {
    job.attempt++;
    const control: { cancel?: (reason?: unknown) => void } = {};
    job.control = control;
    q.active.add(job);
    executeTask(q.handler, job.input, {
      task: job.task.name,
      id: job.id,
      attempt: job.attempt,
      attempts: job.attempts,
      timeoutMs: job.timeoutMs,
      clock,
      control,
      ...(job.onProgress === undefined ? {} : { onProgress: job.onProgress }),
    })
      .then((output) => {
        // As the BullMQ runner does: what could not travel through Redis fails the attempt here too.
        assertTaskOutput(job.task.name, job.id, output);
        return output;
      })
      .then(
        (output) => {
          q.active.delete(job);
          job.control = undefined;
          if (!job.settled) {
            q.completed++;
            settle(job, () => job.resolve(output));
          }
          pump(q);
        },
        (err: unknown) => {
          q.active.delete(job);
          job.control = undefined;
          const error = err as TaskError;
          const retry =
            !job.settled &&
            state !== 'closed' &&
            job.attempt < job.attempts &&
            error.code !== ErrorCode.TaskCancelled;
          if (retry) {
            q.delayed.add(job);
            job.retryTimer = clock.setTimeout(
              () => {
                job.retryTimer = undefined;
                if (!q.delayed.delete(job)) return;
                enqueue(q, job);
                pump(q);
              },
              backoffDelay(job.task.options.backoffMs, job.attempt),
            );
          } else {
            q.failed++;
            settle(job, () => job.reject(error));
          }
          pump(q);
        },
      );
  };

  /** Cancels a job wherever it is; the caller's promise rejects with `error` at once. */
  const cancel = (q: PoolQueue, job: PoolJob, error: TaskError): void => {
    if (job.settled) return;
    const i = q.waiting.indexOf(job);
    if (i >= 0) q.waiting.splice(i, 1);
    if (q.delayed.delete(job)) clock.clearTimeout(job.retryTimer);
    if (i >= 0 || !q.active.has(job)) q.failed++;
    settle(job, () => job.reject(error));
    job.control?.cancel?.(error);
  };

  const runner: TaskRunner = {
    kind: 'pool',
    run<I, O>(task: TaskDefinition<I, O>, input: I, runOptions: RunTaskOptions = {}): Promise<O> {
      if (state !== 'open')
        return Promise.reject(
          new TaskError(ErrorCode.SystemClosed, `task pool is ${state}: cannot run ${task?.name}`),
        );
      let q: PoolQueue;
      let resolved: { priority: number; attempts: number; timeoutMs: number };
      try {
        if (typeof task !== 'object' || task === null || typeof task.name !== 'string')
          throw new InvalidOptionsError('task', 'expected a task definition from defineTask()');
        resolved = resolveRunOptions(task, runOptions);
        assertTaskInput(task.name, input);
        q = queueOf(task);
      } catch (err) {
        return Promise.reject(err);
      }
      const signal = runOptions.signal;
      const id = `${task.name}-${(seq++).toString(36)}`;
      if (signal?.aborted) return Promise.reject(taskCancelled(task.name, id, signal.reason));
      return new Promise<O>((resolve, reject) => {
        live++;
        keepAlive ??= setInterval(ignore, 1 << 30);
        const onAbort = (): void => cancel(q, job, taskCancelled(task.name, id, signal?.reason));
        const job: PoolJob = {
          id,
          task,
          input,
          ...resolved,
          seq: seq++,
          attempt: 0,
          settled: false,
          control: undefined,
          retryTimer: undefined,
          resolve: (value) => {
            signal?.removeEventListener('abort', onAbort);
            resolve(value as O);
          },
          reject: (error) => {
            signal?.removeEventListener('abort', onAbort);
            reject(error);
          },
          onProgress: runOptions.onProgress,
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        enqueue(q, job);
        pump(q);
      });
    },

    async counts(task) {
      assertTaskRef(task);
      const names = task === undefined ? [...queues.keys()] : [typeof task === 'string' ? task : task.name];
      const out: Record<string, TaskCounts> = {};
      for (const name of names) {
        const q = queues.get(name);
        out[name] = {
          waiting: q?.waiting.length ?? 0,
          active: q?.active.size ?? 0,
          delayed: q?.delayed.size ?? 0,
          completed: q?.completed ?? 0,
          failed: q?.failed ?? 0,
        };
      }
      return out;
    },

    close(): Promise<void> {
      closing ??= (async () => {
        state = 'closed';
        const error = new TaskError(ErrorCode.TaskCancelled, 'task pool closed before the job finished');
        for (const q of queues.values()) {
          if (q.rateTimer !== undefined) clock.clearTimeout(q.rateTimer);
          for (const job of [...q.waiting, ...q.delayed, ...q.active]) cancel(q, job, error);
        }
        let failure: Error | undefined;
        try {
          await threads?.close();
        } catch (err) {
          failure = err as Error;
        }
        resolveClosed(failure);
      })();
      return closing;
    },

    async drain(): Promise<void> {
      if (state === 'open') {
        state = 'draining';
        if (live > 0) await new Promise<void>((resolve) => settledWaiters.push(resolve));
      }
      await runner.close();
    },

    closed: () => whenClosed,
    [Symbol.asyncDispose]: () => runner.drain(),
  };
  return runner;
}
