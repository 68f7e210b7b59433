// The caller's side of one task's queue: the Queue jobs are added to and the QueueEvents its outcomes arrive on.

import { createHash } from 'node:crypto';
import { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { ErrorCode, TaskError, type TaskProgress } from '../runtime/index.js';
import { type OrderedSteps, taskCancelled, taskErrorFromWire } from '../runtime/internal.js';
import { adderConnection, blockingConnection, eventsKey, type ResolvedBullmqOptions } from './options.js';
import type { PendingRuns } from './pending.js';

/** What a {@link TaskProducer} is built from. */
export interface TaskProducerOptions {
  /** The task's name, which is its queue's. */
  readonly name: string;
  readonly config: ResolvedBullmqOptions;
  /** The runner's command connection (reads the event stream's end). */
  readonly control: Redis;
  readonly runs: PendingRuns;
  readonly onError: (err: unknown) => void;
  readonly isClosed: () => boolean;
}

/** One task's queue as its callers see it; created on the task's first run and kept until the runner closes. */
export class TaskProducer {
  readonly queue: Queue;
  /** Adds jobs on a connection that neither holds commands while Redis is away nor resends them later. */
  readonly adder: Queue;
  events: QueueEvents | undefined;
  readonly ready: Promise<void>;
  isReady = false;

  constructor(options: TaskProducerOptions) {
    const { name, config, onError } = options;
    const defaultJobOptions = {
      removeOnComplete: { count: config.keepCompleted },
      removeOnFail: { count: config.keepFailed },
    };
    this.queue = new Queue(name, {
      connection: blockingConnection(config.url),
      prefix: config.prefix,
      defaultJobOptions,
    });
    this.queue.on('error', onError);
    this.adder = new Queue(name, {
      connection: adderConnection(config.url),
      prefix: config.prefix,
      defaultJobOptions,
    });
    this.adder.on('error', onError);
    this.ready = this.#start(options);
    this.ready.catch(onError);
  }

  async #start({ name, config, control, runs, onError, isClosed }: TaskProducerOptions): Promise<void> {
    // Read events from the stream's end as it was before any job of ours was added: none can slip by unseen.
    const last = (await control.xrevrange(eventsKey(config.prefix, name), '+', '-', 'COUNT', 1))[0]?.[0];
    if (isClosed()) return;
    const events = new QueueEvents(name, {
      connection: blockingConnection(config.url),
      prefix: config.prefix,
      lastEventId: last ?? '0-0',
    });
    this.events = events;
    events.on('error', onError);
    events.on('completed', ({ jobId, returnvalue }) => {
      runs.take(jobId)?.resolve(returnvalue ?? undefined);
    });
    events.on('failed', ({ jobId, failedReason }) => {
      const run = runs.take(jobId);
      run?.reject(taskErrorFromWire(run.task, jobId, failedReason));
    });
    // A waiting job removed by a cancel: runs of other callers that joined it by idempotency key end too, unless
    // the key's job was queued again since (by a run that came after the cancel).
    events.on('removed', ({ jobId }) => {
      if (runs.get(jobId)?.added !== true) return;
      this.queue.getJobState(jobId).then((state) => {
        if (state === 'unknown') runs.take(jobId)?.reject(taskCancelled(name, jobId));
      }, onError);
    });
    events.on('progress', ({ jobId, data }) => {
      const run = runs.get(jobId);
      if (run?.onProgress === undefined) return;
      try {
        run.onProgress(data as TaskProgress);
      } catch {
        // The caller's progress callback must not break event handling.
      }
    });
    await Promise.all([this.queue.waitUntilReady(), this.adder.waitUntilReady()]);
    this.isReady = true;
  }

  /** Closes the events, the queue and the adder, each as one of `steps` (a failing one does not stop the rest). */
  async close(steps: OrderedSteps): Promise<void> {
    // Not awaiting `ready`: with Redis away it waits on a command that hanging up does not end (ioredis keeps a
    // reconnecting client's queued commands). It creates its QueueEvents only while still open, in the same turn
    // as it sets `events`, so what it made is here to close.
    const events = this.events;
    if (events !== undefined) await steps.run(() => events.close());
    await steps.run(() => this.queue.close());
    await steps.run(() => this.adder.close());
  }
}

/** After a reconnect: settles the runs whose jobs finished while no one listened, or vanished with Redis. */
export async function auditRuns(
  runs: PendingRuns,
  producers: ReadonlyMap<string, TaskProducer>,
): Promise<void> {
  for (const [jobId, entry] of runs.snapshot()) {
    if (!entry.added) continue;
    const p = producers.get(entry.task);
    if (p === undefined) continue;
    const state = await p.queue.getJobState(jobId);
    if (state === 'unknown') {
      runs.take(jobId)?.reject(
        new TaskError(ErrorCode.TaskLost, `job ${jobId} of task ${entry.task} is gone from Redis`, {
          data: { task: entry.task, jobId },
        }),
      );
    } else await settleFinished(runs, p, jobId, entry.task, state);
  }
}

/** Settles the run of `jobId` from what Redis kept, if its job is done (completed or failed). */
export async function settleFinished(
  runs: PendingRuns,
  p: TaskProducer,
  jobId: string,
  task: string,
  known?: string,
): Promise<void> {
  const state = known ?? (await p.queue.getJobState(jobId));
  if (state !== 'completed' && state !== 'failed') return;
  const job = await p.queue.getJob(jobId);
  if (job === undefined) return;
  if (state === 'completed') runs.take(jobId)?.resolve(job.returnvalue ?? undefined);
  else runs.take(jobId)?.reject(taskErrorFromWire(task, jobId, job.failedReason));
}

/**
 * After a keyed add: settles the run from what Redis kept if the key's job is done already. A job cancelled while
 * it ran left no outcome: it is queued again (a retry keeps its id, so every caller waiting on it still hears).
 */
export async function settleKeyed(
  runs: PendingRuns,
  p: TaskProducer,
  jobId: string,
  task: string,
): Promise<void> {
  const state = await p.queue.getJobState(jobId);
  if (state === 'failed') {
    const job = await p.queue.getJob(jobId);
    if (
      job !== undefined &&
      taskErrorFromWire(task, jobId, job.failedReason).code === ErrorCode.TaskCancelled
    ) {
      // Another caller may have retried it first: then it is no longer failed, and its events settle this run.
      await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true }).catch(() => {});
      return;
    }
  }
  await settleFinished(runs, p, jobId, task, state);
}

/**
 * The job id of an idempotency key: BullMQ refuses ids with `:` (tool calls' `<runId>:<callId>`) and integer
 * ids, so the key travels base64url-encoded (hashed when long).
 */
export function idempotentJobId(key: string): string {
  const encoded = Buffer.from(key).toString('base64url');
  return encoded.length <= 200 ? `k-${encoded}` : `h-${createHash('sha256').update(key).digest('base64url')}`;
}
