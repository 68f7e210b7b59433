// The worker node's side: a BullMQ Worker per task it works on, running each job as the in-process pool does.

import { randomUUID } from 'node:crypto';
import { type Job, UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import {
  type AnyTaskDefinition,
  ErrorCode,
  TaskError,
  type TaskHandler,
  type TaskProgress,
  TroupeError,
} from '../runtime/index.js';
import {
  assertTaskOutput,
  executeTask,
  handlerOf,
  type OrderedSteps,
  ThreadPool,
  traceRun,
} from '../runtime/internal.js';
import {
  blockingConnection,
  cancelChannel,
  type JobData,
  type ResolvedBullmqOptions,
  redactUrl,
} from './options.js';
import type { TaskCounters } from './stats.js';

/** How long a cancellation is remembered for a job this worker has not started yet. */
const CANCEL_MEMORY_MS = 60_000;

/** What {@link TaskWorkers} are built from. */
export interface TaskWorkersOptions {
  readonly config: ResolvedBullmqOptions;
  readonly onError: (err: unknown) => void;
  readonly isClosed: () => boolean;
  /** Where attempts are counted by task and outcome. */
  readonly stats?: TaskCounters | undefined;
}

/**
 * Works on the tasks of `config.work`: one BullMQ `Worker` per task with the task's concurrency and rate limit, and
 * a subscription to the callers' cancellations. Starts at once; {@link ready} says when it listens.
 */
export class TaskWorkers {
  /** Resolves once the subscription and every worker are ready (never, while Redis is away). */
  readonly ready: Promise<void>;
  readonly #config: ResolvedBullmqOptions;
  readonly #onError: (err: unknown) => void;
  readonly #isClosed: () => boolean;
  readonly #stats: TaskCounters | undefined;
  readonly #workers: Worker[] = [];
  readonly #running = new Map<string, { task: string; control: { cancel?: (reason?: unknown) => void } }>();
  readonly #cancelledEarly = new Map<string, number>();
  #subscriber: Redis | undefined;
  #threads: ThreadPool | undefined;
  readonly #getThreads = (): ThreadPool => {
    this.#threads ??= new ThreadPool(this.#config.threads);
    return this.#threads;
  };

  constructor(options: TaskWorkersOptions) {
    this.#config = options.config;
    this.#onError = options.onError;
    this.#isClosed = options.isClosed;
    this.#stats = options.stats;
    this.ready = this.#start();
    this.ready.catch(this.#onError);
  }

  async #start(): Promise<void> {
    const { url, prefix, work, workerName, clock } = this.#config;
    const subscriber = new Redis(url, { maxRetriesPerRequest: null });
    this.#subscriber = subscriber;
    subscriber.on('error', this.#onError);
    subscriber.on('message', (_channel: string, jobId: string) => {
      const job = this.#running.get(jobId);
      if (job !== undefined) {
        job.control.cancel?.('cancelled by the caller');
        return;
      }
      // The cancel may overtake the job on its way to this worker: remember it for a while.
      const now = clock.now();
      for (const [id, at] of this.#cancelledEarly)
        if (now - at > CANCEL_MEMORY_MS) this.#cancelledEarly.delete(id);
      this.#cancelledEarly.set(jobId, now);
    });
    await subscriber.subscribe(cancelChannel(prefix));
    // Closed while Redis was out of reach: start nothing.
    if (this.#isClosed()) return;
    for (const task of work) {
      const limit = task.options.rateLimit;
      const worker = new Worker(task.name, this.#processorFor(task), {
        connection: blockingConnection(url),
        prefix,
        ...(workerName === undefined ? {} : { name: workerName }),
        concurrency: task.options.concurrency,
        lockDuration: this.#config.lockDurationMs,
        stalledInterval: this.#config.stalledIntervalMs,
        maxStalledCount: this.#config.maxStalledCount,
        ...(limit === undefined ? {} : { limiter: { max: limit.max, duration: limit.intervalMs } }),
      });
      worker.on('error', this.#onError);
      this.#workers.push(worker);
    }
    await Promise.all(this.#workers.map((w) => w.waitUntilReady()));
    this.#config.logger.info('task worker started', {
      tasks: work.map((t) => t.name),
      redis: redactUrl(url),
      prefix,
      ...(workerName !== undefined && { workerName }),
    });
  }

  #processorFor(task: AnyTaskDefinition): (job: Job) => Promise<unknown> {
    const clock = this.#config.clock;
    const onError = this.#onError;
    let handler: TaskHandler<unknown, unknown> | undefined;
    return async (job: Job): Promise<unknown> => {
      handler ??= handlerOf(task, this.#getThreads);
      const id = job.id ?? randomUUID();
      const control: { cancel?: (reason?: unknown) => void } = {};
      this.#running.set(id, { task: task.name, control });
      // The cancel overtook the job on its way here.
      const early = this.#cancelledEarly.delete(id);
      const data = job.data as JobData;
      try {
        const attempt = job.attemptsMade + 1;
        const traced = { runner: 'bullmq', task: task.name, id, attempt, carrier: data.c };
        const output = await traceRun(this.#config.tracing, traced, executeTask, handler, data.i, {
          task: task.name,
          id,
          attempt,
          attempts: job.opts.attempts ?? 1,
          timeoutMs: data.t ?? 0,
          clock,
          control,
          ...(early ? { signal: AbortSignal.abort('cancelled by the caller') } : {}),
          onProgress: (value: TaskProgress) => {
            job.updateProgress(value).catch(onError);
          },
        });
        assertTaskOutput(task.name, id, output);
        if (this.#stats !== undefined) this.#stats.job(task.name).completed++;
        return output;
      } catch (err) {
        const wire = JSON.stringify(TroupeError.toWire(err));
        this.#logFailure(task.name, id, job, err);
        if (this.#stats !== undefined) {
          const counts = this.#stats.job(task.name);
          const last = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
          if (last || TaskError.is(err, ErrorCode.TaskCancelled)) counts.failed++;
          else counts.retried++;
        }
        // A cancelled job must not be retried.
        if (TaskError.is(err, ErrorCode.TaskCancelled)) throw new UnrecoverableError(wire);
        throw new Error(wire);
      } finally {
        this.#running.delete(id);
      }
    };
  }

  /** A failed attempt: a warning while BullMQ will try again, an error on the last one. */
  #logFailure(task: string, jobId: string, job: Job, err: unknown): void {
    const log = this.#config.logger;
    const attempt = job.attemptsMade + 1;
    const attempts = job.opts.attempts ?? 1;
    const fields = {
      task,
      jobId,
      attempt,
      attempts,
      code: (err as { code?: unknown }).code,
      error: (err as { cause?: unknown }).cause ?? err,
    };
    if (TaskError.is(err, ErrorCode.TaskCancelled)) {
      if (log.enabled('debug')) log.debug('task cancelled', fields);
    } else if (attempt < attempts) log.warn('task attempt failed', fields);
    else log.error('task failed', fields);
  }

  /**
   * Stops the workers and the subscription, each as one of `steps`. Graceful: a worker finishes its running jobs first.
   * Forced: it stops now and the jobs stall, to be taken over by another worker.
   */
  async close(graceful: boolean, steps: OrderedSteps): Promise<void> {
    // Not awaiting `ready`: with Redis out of reach it never resolves, and close must still finish.
    await Promise.all(this.#workers.map((w) => steps.run(() => w.close(!graceful))));
    const subscriber = this.#subscriber;
    if (subscriber !== undefined) await steps.run(() => subscriber.disconnect());
    this.#config.logger.info('task worker stopped', {
      tasks: this.#config.work.map((t) => t.name),
      graceful,
    });
  }

  /** Terminates the sandbox threads, if any started (after {@link close}: no job runs on them any more). */
  async closeThreads(steps: OrderedSteps): Promise<void> {
    const threads = this.#threads;
    if (threads !== undefined) await steps.run(() => threads.close());
  }
}
