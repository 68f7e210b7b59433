// The BullMQ task runner: jobs go through Redis queues to worker nodes, results come back to the caller.

import { randomUUID } from 'node:crypto';
import { type Job, Queue, QueueEvents, UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import {
  type AnyTaskDefinition,
  type Clock,
  ErrorCode,
  executeTask,
  InvalidOptionsError,
  type RunTaskOptions,
  resolveRunOptions,
  systemClock,
  type TaskCounts,
  type TaskDefinition,
  TaskError,
  type TaskHandler,
  type TaskProgress,
  type TaskRunner,
  TroupeError,
  taskCancelled,
  taskErrorFromWire,
} from '../runtime/index.js';
import { TransportError, TransportErrorCode } from './errors.js';
import {
  assertTaskInput,
  assertTaskOutput,
  assertTaskRef,
  defaultThreadCount,
  handlerOf,
  ThreadPool,
} from './task-pool.js';

/** Options of {@link bullmqTaskRunner}. */
export interface BullmqTaskRunnerOptions {
  /** @defaultValue `redis://127.0.0.1:6379` */
  redis?: string;
  /**
   * Prefix of every Redis key: runners (callers and worker nodes) with the same prefix share their queues.
   * @defaultValue `troupe`
   */
  prefix?: string;
  /**
   * Tasks this process works on (a worker node). Without any, the runner only queues jobs and waits for results.
   * @defaultValue none
   */
  work?: readonly AnyTaskDefinition[];
  /**
   * Name of this worker, stored on each job it processes (`processedBy`; one more write per job).
   * @defaultValue none
   */
  workerName?: string;
  /**
   * Worker threads for sandboxed tasks.
   * @defaultValue the number of cores minus one, between 1 and 4
   */
  threads?: number;
  /**
   * How long a worker's lock on a job lasts without renewal; a worker that died is noticed after about this long,
   * and its job goes to another worker.
   * @defaultValue 30000
   */
  lockDurationMs?: number;
  /** @defaultValue 30000 */
  stalledIntervalMs?: number;
  /**
   * Times a job may stall (its worker died) before it fails instead of being taken over.
   * @defaultValue 1
   */
  maxStalledCount?: number;
  /** Completed jobs kept per queue (for inspection). @defaultValue 1000 */
  keepCompleted?: number;
  /** Failed jobs kept per queue. @defaultValue 5000 */
  keepFailed?: number;
  /**
   * Longest any call waits for Redis to answer before it fails with `TRANSPORT_CONNECT_FAILED`: `ready()`,
   * queuing a job in `run` (once queued, a run waits for its result), `counts()`.
   * @defaultValue 10000
   */
  connectTimeoutMs?: number;
  /** Longest `drain()` waits for the runs this process started. @defaultValue 30000 */
  drainTimeoutMs?: number;
  /** Drives task timeouts. @defaultValue the real clock */
  clock?: Clock;
}

/** The BullMQ runner: a {@link TaskRunner} plus readiness for worker nodes. */
export interface BullmqTaskRunner extends TaskRunner {
  /** Names of the tasks this process works on. */
  readonly working: readonly string[];
  /** Resolves once Redis answers and the workers listen; rejects with `TRANSPORT_CONNECT_FAILED` after the timeout. */
  ready(): Promise<void>;
}

/** Job data as stored in Redis: short keys, JSON. */
interface JobData {
  /** input */
  i: unknown;
  /** timeout of one attempt, ms (absent: none) */
  t?: number;
}

interface Pending {
  readonly task: string;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  readonly onProgress: ((value: TaskProgress) => void) | undefined;
  /** Set once `queue.add` resolved: only then can a missing job mean it was lost. */
  added: boolean;
  addition: Promise<unknown>;
  cleanup: () => void;
}

interface Producer {
  readonly queue: Queue;
  /** Adds jobs on a connection that neither holds commands while Redis is away nor resends them later. */
  readonly adder: Queue;
  events: QueueEvents | undefined;
  ready: Promise<void>;
  isReady: boolean;
}

/** How long a cancellation is remembered for a job this worker has not started yet. */
const CANCEL_MEMORY_MS = 60_000;

function intOption(value: number | undefined, field: string, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min)
    throw new InvalidOptionsError(field, `expected an integer >= ${min}, got ${String(value)}`);
  return value;
}

function ignore(): void {}

/** An add that failed because it was not sent (Redis away) or was cut off (never resent): safe to retry. */
function isConnectionError(err: unknown): boolean {
  const message = err instanceof Error ? err.message : String(err);
  return /enableOfflineQueue|max retries per request|Connection is closed|ECONNREFUSED|ECONNRESET|EPIPE/i.test(
    message,
  );
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
  if (typeof options !== 'object' || options === null)
    throw new InvalidOptionsError('options', 'expected an object');
  const url = options.redis ?? 'redis://127.0.0.1:6379';
  if (typeof url !== 'string' || !/^rediss?:\/\//.test(url))
    throw new InvalidOptionsError('redis', `expected a redis:// URL, got ${String(url)}`);
  const prefix = options.prefix ?? 'troupe';
  if (typeof prefix !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(prefix))
    throw new InvalidOptionsError('prefix', `expected 1-64 of A-Z a-z 0-9 _ . -, got ${String(prefix)}`);
  const work = options.work ?? [];
  const threadCount = intOption(options.threads, 'threads', defaultThreadCount(), 1);
  const lockDuration = intOption(options.lockDurationMs, 'lockDurationMs', 30_000, 100);
  const stalledInterval = intOption(options.stalledIntervalMs, 'stalledIntervalMs', 30_000, 100);
  const maxStalledCount = intOption(options.maxStalledCount, 'maxStalledCount', 1, 0);
  const keepCompleted = intOption(options.keepCompleted, 'keepCompleted', 1000, 0);
  const keepFailed = intOption(options.keepFailed, 'keepFailed', 5000, 0);
  const connectTimeoutMs = intOption(options.connectTimeoutMs, 'connectTimeoutMs', 10_000, 1);
  const drainTimeoutMs = intOption(options.drainTimeoutMs, 'drainTimeoutMs', 30_000, 0);
  const workerName = options.workerName;
  if (workerName !== undefined && (typeof workerName !== 'string' || workerName.length === 0))
    throw new InvalidOptionsError('workerName', `expected a non-empty string, got ${String(workerName)}`);
  const clock = options.clock ?? systemClock;
  if (
    typeof clock !== 'object' ||
    clock === null ||
    typeof clock.setTimeout !== 'function' ||
    typeof clock.now !== 'function'
  )
    throw new InvalidOptionsError('clock', 'expected { now, setTimeout, clearTimeout }');
  if (!Array.isArray(work)) throw new InvalidOptionsError('work', 'expected an array of task definitions');
  const names = new Set<string>();
  for (const task of work) {
    if (typeof task !== 'object' || task === null || typeof task.name !== 'string')
      throw new InvalidOptionsError('work', 'expected task definitions from defineTask()');
    if (names.has(task.name)) throw new InvalidOptionsError('work', `task ${task.name} is listed twice`);
    names.add(task.name);
  }

  // Blocking connections (workers, queue events) must retry forever, or a Redis restart would end them.
  const connection = { url, maxRetriesPerRequest: null };
  const cancelChannel = `${prefix}:troupe:cancel`;
  const errors: unknown[] = [];
  const onError = (err: unknown): void => {
    // Connection errors repeat while Redis is away; keep the latest few for `closed()`, never crash.
    if (errors.length >= 10) errors.shift();
    errors.push(err);
  };

  const control = new Redis(url, { maxRetriesPerRequest: null, lazyConnect: false });
  control.on('error', onError);
  const pending = new Map<string, Pending>();
  const producers = new Map<string, Producer>();
  const inspectQueues = new Map<string, Queue>();
  const workers: Worker[] = [];
  const running = new Map<string, { task: string; control: { cancel?: (reason?: unknown) => void } }>();
  const cancelledEarly = new Map<string, number>();
  let subscriber: Redis | undefined;
  let threads: ThreadPool | undefined;
  const getThreads = (): ThreadPool => {
    threads ??= new ThreadPool(threadCount);
    return threads;
  };
  let state: 'open' | 'draining' | 'closed' = 'open';
  let closing: Promise<void> | undefined;
  let resolveClosed!: (err: Error | undefined) => void;
  const whenClosed = new Promise<Error | undefined>((resolve) => {
    resolveClosed = resolve;
  });
  const idleWaiters: (() => void)[] = [];

  /** `work`, or the error `timeout()` makes if Redis has not answered within `connectTimeoutMs`. */
  const bounded = <T>(work: Promise<T>, timeout: () => Error): Promise<T> => {
    let timer: unknown;
    const expired = new Promise<never>((_, reject) => {
      timer = clock.setTimeout(() => reject(timeout()), connectTimeoutMs);
    });
    return Promise.race([work, expired]).finally(() => clock.clearTimeout(timer));
  };

  const take = (jobId: string): Pending | undefined => {
    const entry = pending.get(jobId);
    if (entry === undefined) return undefined;
    pending.delete(jobId);
    entry.cleanup();
    if (pending.size === 0) for (const wake of idleWaiters.splice(0)) wake();
    return entry;
  };

  // ---- the caller's side ----

  const producer = (name: string): Producer => {
    const p = producers.get(name);
    if (p !== undefined) return p;
    const queue = new Queue(name, {
      connection,
      prefix,
      defaultJobOptions: { removeOnComplete: { count: keepCompleted }, removeOnFail: { count: keepFailed } },
    });
    queue.on('error', onError);
    // A command ioredis holds while Redis is away would be sent after the run gave up on it, and its job would run
    // for nobody: the adder fails such a command at once instead, and the run retries it until its deadline.
    const adder = new Queue(name, {
      // maxRetriesPerRequest 0: a command cut off by a lost connection fails at once (never resent, never stuck).
      connection: { url, enableOfflineQueue: false, maxRetriesPerRequest: 0 },
      prefix,
      defaultJobOptions: { removeOnComplete: { count: keepCompleted }, removeOnFail: { count: keepFailed } },
    });
    adder.on('error', onError);
    const entry: Producer = { queue, adder, events: undefined, ready: Promise.resolve(), isReady: false };
    const listen = (events: QueueEvents): void => {
      events.on('error', onError);
      events.on('completed', ({ jobId, returnvalue }) => {
        take(jobId)?.resolve(returnvalue ?? undefined);
      });
      events.on('failed', ({ jobId, failedReason }) => {
        const run = take(jobId);
        run?.reject(taskErrorFromWire(run.task, jobId, failedReason));
      });
      events.on('progress', ({ jobId, data }) => {
        const run = pending.get(jobId);
        if (run?.onProgress === undefined) return;
        try {
          run.onProgress(data as TaskProgress);
        } catch {
          // The caller's progress callback must not break event handling.
        }
      });
    };
    const ready = (async () => {
      // Read events from the stream's end as it was before any job of ours was added: none can slip by unseen.
      const last = (await control.xrevrange(`${prefix}:${name}:events`, '+', '-', 'COUNT', 1))[0]?.[0];
      if (state === 'closed') return;
      const events = new QueueEvents(name, { connection, prefix, lastEventId: last ?? '0-0' });
      entry.events = events;
      listen(events);
      await Promise.all([queue.waitUntilReady(), adder.waitUntilReady()]);
      entry.isReady = true;
    })();
    ready.catch(onError);
    entry.ready = ready;
    producers.set(name, entry);
    return entry;
  };

  const cancel = async (name: string, jobId: string, addition: Promise<unknown>): Promise<void> => {
    await addition.catch(ignore);
    const p = producers.get(name);
    // A waiting (or delayed) job is simply removed; a running one is locked, so its worker is told to abort it.
    await control.publish(cancelChannel, jobId);
    await p?.queue.remove(jobId);
  };

  /** After a reconnect: settles the runs whose jobs finished while we were not listening, or vanished with Redis. */
  const audit = async (): Promise<void> => {
    for (const [jobId, entry] of [...pending]) {
      if (!entry.added) continue;
      const p = producers.get(entry.task);
      if (p === undefined) continue;
      const state = await p.queue.getJobState(jobId);
      if (state === 'unknown') {
        take(jobId)?.reject(
          new TaskError(ErrorCode.TaskLost, `job ${jobId} of task ${entry.task} is gone from Redis`, {
            data: { task: entry.task, jobId },
          }),
        );
      } else if (state === 'completed' || state === 'failed') {
        const job = await p.queue.getJob(jobId);
        if (job === undefined) continue;
        if (state === 'completed') take(jobId)?.resolve(job.returnvalue ?? undefined);
        else take(jobId)?.reject(taskErrorFromWire(entry.task, jobId, job.failedReason));
      }
    }
  };
  let connectedOnce = false;
  control.on('ready', () => {
    if (!connectedOnce) {
      connectedOnce = true;
      return;
    }
    audit().catch(onError);
  });

  // ---- the worker's side ----

  const processorFor = (task: AnyTaskDefinition) => {
    let handler: TaskHandler<unknown, unknown> | undefined;
    return async (job: Job): Promise<unknown> => {
      handler ??= handlerOf(task, getThreads);
      const id = job.id ?? randomUUID();
      const control: { cancel?: (reason?: unknown) => void } = {};
      running.set(id, { task: task.name, control });
      // The cancel overtook the job on its way here.
      const early = cancelledEarly.delete(id);
      const data = job.data as JobData;
      try {
        const output = await executeTask(handler, data.i, {
          task: task.name,
          id,
          attempt: job.attemptsMade + 1,
          attempts: job.opts.attempts ?? 1,
          timeoutMs: data.t ?? 0,
          clock,
          control,
          ...(early ? { signal: AbortSignal.abort('cancelled by the caller') } : {}),
          onProgress: (value) => {
            job.updateProgress(value).catch(onError);
          },
        });
        assertTaskOutput(task.name, id, output);
        return output;
      } catch (err) {
        const wire = JSON.stringify(TroupeError.toWire(err));
        // A cancelled job must not be retried.
        if (TaskError.is(err, ErrorCode.TaskCancelled)) throw new UnrecoverableError(wire);
        throw new Error(wire);
      } finally {
        running.delete(id);
      }
    };
  };

  const startWorkers = async (): Promise<void> => {
    if (work.length === 0) return;
    subscriber = new Redis(url, { maxRetriesPerRequest: null });
    subscriber.on('error', onError);
    subscriber.on('message', (_channel: string, jobId: string) => {
      const job = running.get(jobId);
      if (job !== undefined) {
        job.control.cancel?.('cancelled by the caller');
        return;
      }
      // The cancel may overtake the job on its way to this worker: remember it for a while.
      const now = clock.now();
      for (const [id, at] of cancelledEarly) if (now - at > CANCEL_MEMORY_MS) cancelledEarly.delete(id);
      cancelledEarly.set(jobId, now);
    });
    await subscriber.subscribe(cancelChannel);
    // Closed while Redis was out of reach: start nothing.
    if (state === 'closed') return;
    for (const task of work) {
      const limit = task.options.rateLimit;
      const worker = new Worker(task.name, processorFor(task), {
        connection,
        prefix,
        ...(workerName === undefined ? {} : { name: workerName }),
        concurrency: task.options.concurrency,
        lockDuration,
        stalledInterval,
        maxStalledCount,
        ...(limit === undefined ? {} : { limiter: { max: limit.max, duration: limit.intervalMs } }),
      });
      worker.on('error', onError);
      workers.push(worker);
    }
    await Promise.all(workers.map((w) => w.waitUntilReady()));
  };
  const workersReady = startWorkers();
  workersReady.catch(onError);

  const ready = (): Promise<void> =>
    bounded(
      Promise.all([control.ping(), workersReady]).then(ignore),
      () =>
        new TransportError(
          TransportErrorCode.Connect,
          `cannot connect to Redis at ${url} within ${connectTimeoutMs} ms`,
        ),
    );

  const queueFor = (name: string): Queue => {
    const p = producers.get(name);
    if (p !== undefined) return p.queue;
    let q = inspectQueues.get(name);
    if (q === undefined) {
      q = new Queue(name, { connection, prefix });
      q.on('error', onError);
      inspectQueues.set(name, q);
    }
    return q;
  };

  const shutdown = async (graceful: boolean): Promise<void> => {
    const failures: unknown[] = [];
    const step = async (fn: () => Promise<unknown>): Promise<void> => {
      try {
        await fn();
      } catch (err) {
        failures.push(err);
      }
    };
    if (graceful && pending.size > 0) {
      let timer: unknown;
      await new Promise<void>((resolve) => {
        idleWaiters.push(resolve);
        timer = clock.setTimeout(resolve, drainTimeoutMs);
      });
      clock.clearTimeout(timer);
    }
    state = 'closed';
    for (const jobId of [...pending.keys()]) {
      const entry = take(jobId);
      entry?.reject(
        new TaskError(
          ErrorCode.SystemClosed,
          `task runner closed before job ${jobId} of ${entry.task} finished`,
        ),
      );
    }
    // Not awaiting workersReady: with Redis out of reach it never resolves, and close must still finish.
    // Graceful: a worker finishes its running jobs first. Forced: it stops now and the jobs stall, to be taken
    // over by another worker.
    await Promise.all(workers.map((w) => step(() => w.close(!graceful))));
    if (subscriber !== undefined) {
      const s = subscriber;
      await step(async () => s.disconnect());
    }
    // QUIT waits for Redis; when it is away, hang up instead.
    await step(async () =>
      graceful && control.status === 'ready' ? await control.quit() : control.disconnect(),
    );
    for (const p of producers.values()) {
      // Not awaiting p.ready either: with Redis away it waits on a command that hanging up does not end (ioredis
      // keeps a reconnecting client's queued commands). It creates its QueueEvents only while still open, in the
      // same turn as it sets `events`, so what it made is here to close.
      const events = p.events;
      if (events !== undefined) await step(() => events.close());
      await step(() => p.queue.close());
      await step(() => p.adder.close());
    }
    for (const q of inspectQueues.values()) await step(() => q.close());
    if (threads !== undefined) {
      const t = threads;
      await step(() => t.close());
    }
    resolveClosed(failures.length === 0 ? undefined : (failures[0] as Error));
  };

  const counts = async (
    task: { readonly name: string } | string | undefined,
  ): Promise<Record<string, TaskCounts>> => {
    let list: string[];
    if (task !== undefined) list = [typeof task === 'string' ? task : task.name];
    else {
      const found = new Set<string>();
      let cursor = '0';
      do {
        const [next, keys] = await control.scan(cursor, 'MATCH', `${prefix}:*:meta`, 'COUNT', 1000);
        cursor = next;
        for (const key of keys) found.add(key.slice(prefix.length + 1, -':meta'.length));
      } while (cursor !== '0');
      list = [...found].sort();
    }
    const out: Record<string, TaskCounts> = {};
    for (const name of list) {
      const c = await queueFor(name).getJobCounts(
        'waiting',
        'prioritized',
        'active',
        'delayed',
        'completed',
        'failed',
      );
      out[name] = {
        waiting: (c.waiting ?? 0) + (c.prioritized ?? 0),
        active: c.active ?? 0,
        delayed: c.delayed ?? 0,
        completed: c.completed ?? 0,
        failed: c.failed ?? 0,
      };
    }
    return out;
  };

  const runner: BullmqTaskRunner = {
    kind: 'bullmq',
    working: [...names],
    ready,

    run<I, O>(task: TaskDefinition<I, O>, input: I, runOptions: RunTaskOptions = {}): Promise<O> {
      if (state !== 'open')
        return Promise.reject(
          new TaskError(ErrorCode.SystemClosed, `task runner is ${state}: cannot run ${task?.name}`),
        );
      let resolved: { priority: number; attempts: number; timeoutMs: number };
      try {
        if (typeof task !== 'object' || task === null || typeof task.name !== 'string')
          throw new InvalidOptionsError('task', 'expected a task definition from defineTask()');
        resolved = resolveRunOptions(task, runOptions);
        // JSON drops functions and empties Maps without a word: refuse them here, not run the task without them.
        assertTaskInput(task.name, input);
      } catch (err) {
        return Promise.reject(err);
      }
      const jobId = randomUUID();
      const signal = runOptions.signal;
      if (signal?.aborted) return Promise.reject(taskCancelled(task.name, jobId, signal.reason));
      return new Promise<O>((resolve, reject) => {
        const onAbort = (): void => {
          const entry = take(jobId);
          if (entry === undefined) return;
          entry.reject(taskCancelled(task.name, jobId, signal?.reason));
          cancel(task.name, jobId, entry.addition).catch(onError);
        };
        const p = producer(task.name);
        // Registered before the job exists, so even an instant result finds its caller.
        const entry: Pending = {
          task: task.name,
          resolve: resolve as (value: unknown) => void,
          reject,
          onProgress: runOptions.onProgress,
          added: false,
          addition: Promise.resolve(),
          cleanup: () => signal?.removeEventListener('abort', onAbort),
        };
        pending.set(jobId, entry);
        // Only what differs from BullMQ's defaults goes into the job: every byte is stored and parsed per job.
        const data: JobData = resolved.timeoutMs > 0 ? { i: input, t: resolved.timeoutMs } : { i: input };
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
          const late = take(jobId);
          if (late === undefined) return;
          late.reject(
            new TaskError(
              TransportErrorCode.Connect,
              `cannot queue task ${task.name}: Redis at ${url} did not answer within ${connectTimeoutMs} ms`,
              { data: { task: task.name, jobId } },
            ),
          );
          cancel(task.name, jobId, entry.addition).catch(onError);
        };
        const deadline = clock.now() + connectTimeoutMs;
        let adding = false;
        const add = async (): Promise<unknown> => {
          for (let attempt = 0; ; attempt++) {
            if (!pending.has(jobId)) return undefined;
            adding = true;
            try {
              return await addOnce();
            } catch (err) {
              // Retrying is safe: a job id is added once.
              if (!pending.has(jobId) || !isConnectionError(err)) throw err;
            } finally {
              adding = false;
            }
            if (clock.now() >= deadline) {
              giveUp();
              return undefined;
            }
            await new Promise<void>((wake) =>
              clock.setTimeout(() => wake(), Math.min(25 * 2 ** attempt, 250)),
            );
          }
        };
        // A run given up on before its job was added (timed out, cancelled, closed) must not add it later.
        entry.addition = p.isReady ? add() : p.ready.then(() => (pending.has(jobId) ? add() : undefined));
        const timer = clock.setTimeout(() => {
          if (!adding) giveUp();
        }, connectTimeoutMs);
        entry.addition.then(
          () => {
            clock.clearTimeout(timer);
            entry.added = true;
          },
          (err: unknown) => {
            clock.clearTimeout(timer);
            take(jobId)?.reject(
              new TaskError(
                ErrorCode.TaskFailed,
                `cannot queue task ${task.name}: ${(err as Error).message}`,
                {
                  cause: err,
                  data: { task: task.name, jobId },
                },
              ),
            );
          },
        );
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },

    counts(task) {
      if (state === 'closed')
        return Promise.reject(
          new TaskError(ErrorCode.SystemClosed, 'task runner is closed: cannot count jobs'),
        );
      try {
        assertTaskRef(task);
      } catch (err) {
        return Promise.reject(err);
      }
      return bounded(
        counts(task),
        () =>
          new TransportError(
            TransportErrorCode.Connect,
            `cannot count jobs: Redis at ${url} did not answer within ${connectTimeoutMs} ms`,
          ),
      );
    },

    close(): Promise<void> {
      state = 'closed';
      // A drain waiting for pending runs stops waiting: close means now.
      for (const wake of idleWaiters.splice(0)) wake();
      closing ??= shutdown(false);
      return closing;
    },

    drain(): Promise<void> {
      if (state === 'open') state = 'draining';
      closing ??= shutdown(true);
      return closing;
    },

    closed: () => whenClosed,
    [Symbol.asyncDispose]: () => runner.drain(),
  };
  return runner;
}
