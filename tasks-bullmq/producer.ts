// The caller's side of one task's queue: the Queue jobs are added to and the QueueEvents its outcomes arrive on.

import { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { ErrorCode, TaskError, type TaskProgress } from '../runtime/index.js';
import { type OrderedSteps, taskErrorFromWire } from '../runtime/internal.js';
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
    } else if (state === 'completed' || state === 'failed') {
      const job = await p.queue.getJob(jobId);
      if (job === undefined) continue;
      if (state === 'completed') runs.take(jobId)?.resolve(job.returnvalue ?? undefined);
      else runs.take(jobId)?.reject(taskErrorFromWire(entry.task, jobId, job.failedReason));
    }
  }
}
