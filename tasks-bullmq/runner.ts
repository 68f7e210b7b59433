// The BullMQ task runner, caller's side: adds jobs to Redis queues, follows their events and settles each run once.

import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import {
  ErrorCode,
  type RunTaskOptions,
  type TaskCounts,
  type TaskDefinition,
  TaskError,
  type TaskRunner,
  type TaskStats,
} from '../runtime/index.js';
import {
  assertTaskRef,
  checkRun,
  OrderedSteps,
  type ResolvedRunOptions,
  SharedRuns,
  taskCancelled,
  traceEnqueue,
} from '../runtime/internal.js';
import { openControl } from './control.js';
import { JobCounter } from './counts.js';
import { BullmqError, BullmqErrorCode } from './errors.js';
import {
  type BullmqTaskRunnerOptions,
  cancelChannel,
  isConnectionError,
  type JobData,
  type ResolvedBullmqOptions,
  resolveBullmqOptions,
} from './options.js';
import { type PendingRun, PendingRuns } from './pending.js';
import { auditRuns, idempotentJobId, settleKeyed, TaskProducer } from './producer.js';
import { RedisErrors } from './redis-errors.js';
import { TaskCounters } from './stats.js';
import { TaskWorkers } from './worker.js';

/** The BullMQ runner: a {@link TaskRunner} plus readiness for worker nodes. */
export interface BullmqTaskRunner extends TaskRunner {
  /** Names of the tasks this process works on. */
  readonly working: readonly string[];
  /** Resolves once Redis answers and the workers listen; rejects with `TRANSPORT_CONNECT_FAILED` after the timeout. */
  ready(): Promise<void>;
}

function ignore(): void {}

/**
 * One runner: callers' queues (a {@link TaskProducer} per task, on first use), the pending runs, and, for a worker
 * node, its {@link TaskWorkers}. Redis connections reconnect on their own.
 */
export class BullmqRunner implements BullmqTaskRunner {
  readonly kind = 'bullmq';
  readonly working: readonly string[];
  readonly #config: ResolvedBullmqOptions;
  /** Commands that are not jobs: the events' starting point, cancellations, pings, counts. */
  readonly #control: Redis;
  readonly #runs = new PendingRuns();
  /** Runs by idempotency key in this process: one pending run per job id (Redis keeps the done ones). */
  readonly #keyed = new SharedRuns(0);
  readonly #producers = new Map<string, TaskProducer>();
  readonly #counter: JobCounter;
  /** Runs and attempts by task and state, for metrics. */
  readonly #stats = new TaskCounters();
  readonly #workers: TaskWorkers | undefined;
  #state: 'open' | 'draining' | 'closed' = 'open';
  #closing: Promise<void> | undefined;
  #resolveClosed!: (err: Error | undefined) => void;
  readonly #whenClosed = new Promise<Error | undefined>((resolve) => {
    this.#resolveClosed = resolve;
  });
  readonly #isClosed = (): boolean => this.#state === 'closed';
  readonly #errors: RedisErrors;
  readonly #onError: (err: unknown) => void;

  constructor(config: ResolvedBullmqOptions) {
    this.#config = config;
    this.#errors = new RedisErrors(config, this.#isClosed);
    this.#onError = this.#errors.note;
    this.working = config.work.map((task) => task.name);
    this.#control = openControl(config, this.#onError, () =>
      auditRuns(this.#runs, this.#producers).catch(this.#onError),
    );
    this.#counter = new JobCounter({
      config,
      control: this.#control,
      producers: this.#producers,
      onError: this.#onError,
    });
    this.#workers =
      config.work.length === 0
        ? undefined
        : new TaskWorkers({ config, onError: this.#onError, isClosed: this.#isClosed, stats: this.#stats });
  }

  ready(): Promise<void> {
    return this.#bounded(
      Promise.all([this.#control.ping(), this.#workers?.ready]).then(ignore),
      () =>
        new BullmqError(
          BullmqErrorCode.Connect,
          `cannot connect to Redis at ${this.#config.url} within ${this.#config.connectTimeoutMs} ms`,
        ),
    );
  }

  run<I, O>(task: TaskDefinition<I, O>, input: I, runOptions: RunTaskOptions = {}): Promise<O> {
    if (this.#state !== 'open')
      return Promise.reject(
        new TaskError(ErrorCode.SystemClosed, `task runner is ${this.#state}: cannot run ${task?.name}`),
      );
    let resolved: ResolvedRunOptions;
    try {
      resolved = checkRun(task, input, runOptions);
    } catch (err) {
      return Promise.reject(err);
    }
    const key = runOptions.idempotencyKey;
    if (key === undefined) return this.#run(task, input, runOptions, resolved, randomUUID(), false);
    // The key is the job id: Redis adds a job id once, so every caller of the fleet finds the same job.
    return this.#keyed.run(task.name, key, runOptions.signal, () =>
      this.#run(task, input, runOptions, resolved, idempotentJobId(key), true),
    );
  }

  #run<I, O>(
    task: TaskDefinition<I, O>,
    input: I,
    runOptions: RunTaskOptions,
    resolved: ResolvedRunOptions,
    jobId: string,
    keyed: boolean,
  ): Promise<O> {
    const { url, connectTimeoutMs } = this.#config;
    const clock = this.#config.clock;
    const runs = this.#runs;
    const signal = runOptions.signal;
    if (signal?.aborted) return Promise.reject(taskCancelled(task.name, jobId, signal.reason));
    return new Promise<O>((resolve, reject) => {
      const onAbort = (): void => {
        const entry = runs.take(jobId);
        if (entry === undefined) return;
        entry.reject(taskCancelled(task.name, jobId, signal?.reason));
        this.#cancel(task.name, jobId, entry.addition, keyed).catch(this.#onError);
      };
      const p = this.#producer(task.name);
      const counts = this.#stats.run(task.name);
      // Registered before the job exists, so even an instant result finds its caller.
      const entry: PendingRun = {
        task: task.name,
        resolve: (value: unknown) => {
          counts.completed++;
          resolve(value as O);
        },
        reject: (error: unknown) => {
          counts.failed++;
          reject(error);
        },
        onProgress: runOptions.onProgress,
        added: false,
        addition: Promise.resolve(),
        cleanup: () => signal?.removeEventListener('abort', onAbort),
      };
      runs.add(jobId, entry);
      // Only what differs from BullMQ's defaults goes into the job: every byte is stored and parsed per job.
      const data: JobData = resolved.timeoutMs > 0 ? { i: input, t: resolved.timeoutMs } : { i: input };
      const traced = traceEnqueue(this.#config.tracing, 'bullmq', task.name, jobId);
      if (traced?.carrier !== undefined) data.c = traced.carrier;
      const addOnce = () =>
        p.adder.add(task.name, data, {
          jobId,
          ...(resolved.attempts > 1
            ? {
                attempts: resolved.attempts,
                backoff: { type: 'exponential', delay: task.options.backoffMs },
              }
            : {}),
          ...(resolved.priority > 0 ? { priority: resolved.priority } : {}),
        });
      // Redis out of reach: the job cannot be queued, so the run fails after `connectTimeoutMs`. It fails only
      // when no add is on the wire: an add that was sent decides (its job may be queued), and one that was not
      // sent never will be. (A job queued after all, say by an add cut off after Redis ran it, is cancelled.)
      const giveUp = (): void => {
        const late = runs.take(jobId);
        if (late === undefined) return;
        late.reject(
          new TaskError(
            BullmqErrorCode.Connect,
            `cannot queue task ${task.name}: Redis at ${url} did not answer within ${connectTimeoutMs} ms`,
            { data: { task: task.name, jobId } },
          ),
        );
        this.#cancel(task.name, jobId, entry.addition, keyed).catch(this.#onError);
      };
      const deadline = clock.now() + connectTimeoutMs;
      let adding = false;
      const add = async (): Promise<unknown> => {
        for (let attempt = 0; ; attempt++) {
          if (!runs.has(jobId)) return undefined;
          adding = true;
          try {
            return await addOnce();
          } catch (err) {
            // Retrying is safe: a job id is added once.
            if (!runs.has(jobId) || !isConnectionError(err)) throw err;
          } finally {
            adding = false;
          }
          if (clock.now() >= deadline) {
            giveUp();
            return undefined;
          }
          await new Promise<void>((wake) => clock.setTimeout(() => wake(), Math.min(25 * 2 ** attempt, 250)));
        }
      };
      // A run given up on before its job was added (timed out, cancelled, closed) must not add it later.
      entry.addition = p.isReady ? add() : p.ready.then(() => (runs.has(jobId) ? add() : undefined));
      const timer = clock.setTimeout(() => {
        if (!adding) giveUp();
      }, connectTimeoutMs);
      entry.addition.then(
        () => {
          clock.clearTimeout(timer);
          entry.added = true;
          counts.enqueued++;
          traced?.span.end();
          // A keyed add may have found the job done before this caller listened: settle from what Redis kept.
          if (keyed) settleKeyed(runs, p, jobId, task.name).catch(this.#onError);
        },
        (err: unknown) => {
          clock.clearTimeout(timer);
          traced?.span.fail(err);
          runs.take(jobId)?.reject(
            new TaskError(ErrorCode.TaskFailed, `cannot queue task ${task.name}: ${(err as Error).message}`, {
              cause: err,
              data: { task: task.name, jobId },
            }),
          );
        },
      );
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  stats(): TaskStats {
    return this.#stats.snapshot();
  }

  counts(task?: { readonly name: string } | string): Promise<Record<string, TaskCounts>> {
    if (this.#state === 'closed')
      return Promise.reject(
        new TaskError(ErrorCode.SystemClosed, 'task runner is closed: cannot count jobs'),
      );
    try {
      assertTaskRef(task);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#bounded(
      this.#counter.count(task),
      () =>
        new BullmqError(
          BullmqErrorCode.Connect,
          `cannot count jobs: Redis at ${this.#config.url} did not answer within ${this.#config.connectTimeoutMs} ms`,
        ),
    );
  }

  close(): Promise<void> {
    this.#state = 'closed';
    // A drain waiting for pending runs stops waiting: close means now.
    this.#runs.wake();
    this.#closing ??= this.#shutdown(false);
    return this.#closing;
  }

  drain(): Promise<void> {
    if (this.#state === 'open') this.#state = 'draining';
    this.#closing ??= this.#shutdown(true);
    return this.#closing;
  }

  closed(): Promise<Error | undefined> {
    return this.#whenClosed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.drain();
  }

  /** `work`, or the error `timeout()` makes if Redis has not answered within `connectTimeoutMs`. */
  #bounded<T>(work: Promise<T>, timeout: () => Error): Promise<T> {
    const clock = this.#config.clock;
    let timer: unknown;
    const expired = new Promise<never>((_, reject) => {
      timer = clock.setTimeout(() => reject(timeout()), this.#config.connectTimeoutMs);
    });
    return Promise.race([work, expired]).finally(() => clock.clearTimeout(timer));
  }

  #producer(name: string): TaskProducer {
    let p = this.#producers.get(name);
    if (p === undefined) {
      p = new TaskProducer({
        name,
        config: this.#config,
        control: this.#control,
        runs: this.#runs,
        onError: this.#onError,
        isClosed: this.#isClosed,
      });
      this.#producers.set(name, p);
    }
    return p;
  }

  async #cancel(name: string, jobId: string, addition: Promise<unknown>, keyed: boolean): Promise<void> {
    await addition.catch(ignore);
    const p = this.#producers.get(name);
    // A keyed job's id comes back when its key runs again, and workers remember a cancel for a job they have not
    // seen: so tell them only when the job could not be removed (it is running, locked).
    if (keyed && (await p?.queue.remove(jobId)) === 1) return;
    // A waiting (or delayed) job is simply removed; a running one is locked, so its worker is told to abort it.
    await this.#control.publish(cancelChannel(this.#config.prefix), jobId);
    await p?.queue.remove(jobId);
  }

  /** Ordered cleanups; a failing step does not stop the rest, and the first failure is what `closed()` gives. */
  async #shutdown(graceful: boolean): Promise<void> {
    const steps = new OrderedSteps();
    const clock = this.#config.clock;
    if (graceful && this.#runs.size > 0) {
      const timer = clock.setTimeout(() => this.#runs.wake(), this.#config.drainTimeoutMs);
      await this.#runs.idle();
      clock.clearTimeout(timer);
    }
    this.#state = 'closed';
    for (const [jobId] of this.#runs.snapshot()) {
      const entry = this.#runs.take(jobId);
      entry?.reject(
        new TaskError(
          ErrorCode.SystemClosed,
          `task runner closed before job ${jobId} of ${entry.task} finished`,
        ),
      );
    }
    await this.#workers?.close(graceful, steps);
    const control = this.#control;
    // QUIT waits for Redis; when it is away, hang up instead.
    await steps.run(() => (graceful && control.status === 'ready' ? control.quit() : control.disconnect()));
    for (const p of this.#producers.values()) await p.close(steps);
    await this.#counter.close(steps);
    await this.#workers?.closeThreads(steps);
    this.#errors.flush();
    this.#resolveClosed(steps.first);
  }
}

/**
 * Creates the BullMQ task runner. One queue per task (named after it) under `prefix`; a caller adds jobs and
 * follows their events; a worker node (`work: [...]`) runs a BullMQ `Worker` per task with the task's concurrency
 * and rate limit. A job whose worker dies is taken over by another worker once its lock expires (BullMQ's
 * stalled-job recovery); every `run` still settles exactly once. Redis connections reconnect on their own.
 *
 * @example
 * // worker node
 * await using node = bullmqTaskRunner({ redis: 'redis://10.0.0.5:6379', work: [wordCount] });
 * await node.ready();
 * // caller
 * await using tasks = bullmqTaskRunner({ redis: 'redis://10.0.0.5:6379' });
 * await using system = await createSystem({ tasks });
 */
export function bullmqTaskRunner(options: BullmqTaskRunnerOptions = {}): BullmqTaskRunner {
  return new BullmqRunner(resolveBullmqOptions(options));
}
