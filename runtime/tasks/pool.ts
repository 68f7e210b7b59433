// The embedded task runner: tasks run in-process (sandboxed ones on a small worker-thread pool), no servers needed.

import type { Clock } from '../core/clock.js';
import { ErrorCode, TaskError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { Tracing } from '../ports/tracing.js';
import type { AnyTaskDefinition, TaskDefinition } from './definition.js';
import { taskCancelled } from './errors.js';
import { backoffDelay, executeTask } from './execution.js';
import { handlerOf } from './handlers.js';
import { DEFAULT_IDEMPOTENCY_KEYS, SharedRuns } from './idempotency.js';
import { assertTaskOutput } from './json.js';
import {
  type ResolvedTaskPoolOptions,
  resolveTaskPoolOptions,
  type TaskPoolOptions,
} from './pool-options.js';
import { enqueue, newQueue, type PoolJob, type PoolQueue, queueCounts } from './pool-queue.js';
import {
  assertTaskRef,
  checkRun,
  type ResolvedRunOptions,
  type RunTaskOptions,
  type TaskCounts,
  type TaskRunner,
} from './runner.js';
import { ThreadPool } from './threads.js';
import { traceEnqueue, traceRun } from './tracing.js';

export type { ResolvedTaskPoolOptions, TaskPoolOptions } from './pool-options.js';
export { resolveTaskPoolOptions } from './pool-options.js';

function ignore(): void {}

/**
 * The in-process {@link TaskRunner}: the same API and semantics as the BullMQ runner (per-task concurrency,
 * priorities, attempts with exponential backoff, timeouts, rate limits, cancellation, progress).
 */
export class TaskPool implements TaskRunner {
  readonly kind = 'pool';
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #tracing: Tracing | undefined;
  readonly #threadCount: number;
  #threads: ThreadPool | undefined;
  readonly #queues = new Map<string, PoolQueue>();
  /** Runs by idempotency key: the pool is its own store of done keys (the newest ones, bounded). */
  readonly #keyed = new SharedRuns(DEFAULT_IDEMPOTENCY_KEYS);
  #seq = 0;
  /** Runs not settled yet. */
  #live = 0;
  #state: 'open' | 'draining' | 'closed' = 'open';
  #closing: Promise<void> | undefined;
  readonly #settledWaiters: (() => void)[] = [];
  #resolveClosed!: (err: Error | undefined) => void;
  readonly #whenClosed = new Promise<Error | undefined>((resolve) => {
    this.#resolveClosed = resolve;
  });
  // The clock's timers do not hold the process open, so while runs are pending this handle does: a script that
  // awaits a task waiting out its backoff must not exit.
  #keepAlive: ReturnType<typeof setInterval> | undefined;
  readonly #getThreads = (): ThreadPool => {
    this.#threads ??= new ThreadPool(this.#threadCount);
    return this.#threads;
  };

  constructor(options: ResolvedTaskPoolOptions) {
    this.#clock = options.clock;
    this.#log = options.logger;
    this.#tracing = options.tracing;
    this.#threadCount = options.threads;
  }

  run<I, O>(task: TaskDefinition<I, O>, input: I, runOptions: RunTaskOptions = {}): Promise<O> {
    const key = runOptions.idempotencyKey;
    // Without a (valid) key, or when the run cannot start, the plain path runs (or rejects) it.
    if (typeof key !== 'string' || key === '' || this.#state !== 'open' || typeof task?.name !== 'string')
      return this.#run(task, input, runOptions);
    return this.#keyed.run(task.name, key, runOptions.signal, () => this.#run(task, input, runOptions));
  }

  #run<I, O>(task: TaskDefinition<I, O>, input: I, runOptions: RunTaskOptions): Promise<O> {
    if (this.#state !== 'open')
      return Promise.reject(
        new TaskError(ErrorCode.SystemClosed, `task pool is ${this.#state}: cannot run ${task?.name}`),
      );
    let q: PoolQueue;
    let resolved: ResolvedRunOptions;
    try {
      resolved = checkRun(task, input, runOptions);
      q = this.#queueOf(task);
    } catch (err) {
      return Promise.reject(err);
    }
    const signal = runOptions.signal;
    const id = `${task.name}-${(this.#seq++).toString(36)}`;
    if (signal?.aborted) return Promise.reject(taskCancelled(task.name, id, signal.reason));
    // Queued in memory: the queuing span ends at once, its context waits in the job for each attempt.
    const traced = traceEnqueue(this.#tracing, 'pool', task.name, id);
    traced?.span.end();
    return new Promise<O>((resolve, reject) => {
      this.#live++;
      this.#keepAlive ??= setInterval(ignore, 1 << 30);
      const onAbort = (): void => this.#cancel(q, job, taskCancelled(task.name, id, signal?.reason));
      const job: PoolJob = {
        id,
        task,
        input,
        ...resolved,
        seq: this.#seq++,
        attempt: 0,
        settled: false,
        control: undefined,
        retryTimer: undefined,
        carrier: traced?.carrier,
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
      this.#pump(q);
    });
  }

  async counts(task?: { readonly name: string } | string): Promise<Record<string, TaskCounts>> {
    assertTaskRef(task);
    const names =
      task === undefined ? [...this.#queues.keys()] : [typeof task === 'string' ? task : task.name];
    const out: Record<string, TaskCounts> = {};
    for (const name of names) out[name] = queueCounts(this.#queues.get(name));
    return out;
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#state = 'closed';
      const error = new TaskError(ErrorCode.TaskCancelled, 'task pool closed before the job finished');
      for (const q of this.#queues.values()) {
        if (q.rateTimer !== undefined) this.#clock.clearTimeout(q.rateTimer);
        for (const job of [...q.waiting, ...q.delayed, ...q.active]) this.#cancel(q, job, error);
      }
      let failure: Error | undefined;
      try {
        await this.#threads?.close();
      } catch (err) {
        failure = err as Error;
      }
      this.#resolveClosed(failure);
    })();
    return this.#closing;
  }

  async drain(): Promise<void> {
    if (this.#state === 'open') {
      this.#state = 'draining';
      if (this.#live > 0) await new Promise<void>((resolve) => this.#settledWaiters.push(resolve));
    }
    await this.close();
  }

  closed(): Promise<Error | undefined> {
    return this.#whenClosed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.drain();
  }

  #queueOf(task: AnyTaskDefinition): PoolQueue {
    let q = this.#queues.get(task.name);
    if (q === undefined) {
      q = newQueue(task, handlerOf(task, this.#getThreads));
      this.#queues.set(task.name, q);
    }
    return q;
  }

  #settle(job: PoolJob, fn: () => void): void {
    if (job.settled) return;
    job.settled = true;
    this.#live--;
    fn();
    if (this.#live === 0) {
      clearInterval(this.#keepAlive);
      this.#keepAlive = undefined;
      for (const wake of this.#settledWaiters.splice(0)) wake();
    }
  }

  #pump(q: PoolQueue): void {
    const limit = q.task.options.rateLimit;
    while (q.active.size < q.task.options.concurrency && q.waiting.length > 0 && this.#state !== 'closed') {
      if (limit !== undefined) {
        const now = this.#clock.now();
        if (now - q.windowStart >= limit.intervalMs) {
          q.windowStart = now;
          q.windowCount = 0;
        }
        if (q.windowCount >= limit.max) {
          if (q.rateTimer === undefined) {
            q.rateTimer = this.#clock.setTimeout(
              () => {
                q.rateTimer = undefined;
                this.#pump(q);
              },
              q.windowStart + limit.intervalMs - now,
            );
          }
          return;
        }
        q.windowCount++;
      }
      this.#start(q, q.waiting.shift()!);
    }
  }

  #start(q: PoolQueue, job: PoolJob): void {
    job.attempt++;
    const control: { cancel?: (reason?: unknown) => void } = {};
    job.control = control;
    q.active.add(job);
    const traced = {
      runner: 'pool',
      task: job.task.name,
      id: job.id,
      attempt: job.attempt,
      carrier: job.carrier,
    };
    traceRun(this.#tracing, traced, executeTask, q.handler, job.input, {
      task: job.task.name,
      id: job.id,
      attempt: job.attempt,
      attempts: job.attempts,
      timeoutMs: job.timeoutMs,
      clock: this.#clock,
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
            this.#settle(job, () => job.resolve(output));
          }
          this.#pump(q);
        },
        (err: unknown) => this.#failed(q, job, err as TaskError),
      );
  }

  /** An attempt failed: retry after the backoff while attempts remain, else the run rejects. */
  #failed(q: PoolQueue, job: PoolJob, error: TaskError): void {
    q.active.delete(job);
    job.control = undefined;
    const retry =
      !job.settled &&
      this.#state !== 'closed' &&
      job.attempt < job.attempts &&
      error.code !== ErrorCode.TaskCancelled;
    this.#logFailure(job, error, retry);
    if (retry) {
      q.delayed.add(job);
      job.retryTimer = this.#clock.setTimeout(
        () => {
          job.retryTimer = undefined;
          if (!q.delayed.delete(job)) return;
          enqueue(q, job);
          this.#pump(q);
        },
        backoffDelay(job.task.options.backoffMs, job.attempt),
      );
    } else {
      q.failed++;
      this.#settle(job, () => job.reject(error));
    }
    this.#pump(q);
  }

  /** A failed attempt is a warning while attempts remain, an error when it was the last; a cancel is neither. */
  #logFailure(job: PoolJob, error: TaskError, retry: boolean): void {
    if (error.code === ErrorCode.TaskCancelled || job.settled) return;
    const level = retry ? 'warn' : 'error';
    if (!this.#log.enabled(level)) return;
    const fields = {
      task: job.task.name,
      jobId: job.id,
      attempt: job.attempt,
      attempts: job.attempts,
      code: error.code,
      error: error.cause ?? error,
    };
    if (retry) this.#log.warn('task attempt failed', fields);
    else this.#log.error('task failed', fields);
  }

  /** Cancels a job wherever it is; the caller's promise rejects with `error` at once. */
  #cancel(q: PoolQueue, job: PoolJob, error: TaskError): void {
    if (job.settled) return;
    const i = q.waiting.indexOf(job);
    if (i >= 0) q.waiting.splice(i, 1);
    if (q.delayed.delete(job)) this.#clock.clearTimeout(job.retryTimer);
    if (i >= 0 || !q.active.has(job)) q.failed++;
    this.#settle(job, () => job.reject(error));
    job.control?.cancel?.(error);
  }
}

/**
 * Creates the embedded task runner: the same API and semantics as the BullMQ runner, in this process. Sandboxed
 * tasks run on a small worker-thread pool.
 *
 * @example
 * await using tasks = taskPool();
 * await using system = await createSystem({ tasks });
 * const n = await tasks.run(wordCount, { text: 'a b c' }); // 3
 */
export function taskPool(options: TaskPoolOptions = {}): TaskRunner {
  return new TaskPool(resolveTaskPoolOptions(options));
}
