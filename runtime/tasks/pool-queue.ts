// One task's jobs in the embedded pool, as BullMQ keeps one queue per task: waiting in BullMQ's order, active,
// delayed (waiting out a retry's backoff), and what finished. The pool schedules; this file holds the shape.

import type { AnyTaskDefinition, TaskHandler, TaskProgress } from './definition.js';
import type { TaskCounts } from './runner.js';

/** @internal One run in the pool: its attempts, its caller's promise, where it is now. */
export interface PoolJob {
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
  /** Trace context of the run's queuing span, when the pool traces. */
  readonly carrier: Record<string, string> | undefined;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  readonly onProgress: ((value: TaskProgress) => void) | undefined;
}

/** @internal One task's queue; the rate-limit window counts the jobs started in it. */
export interface PoolQueue {
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

/** @internal An empty queue for `task`, run by `handler`. */
export function newQueue(task: AnyTaskDefinition, handler: TaskHandler<unknown, unknown>): PoolQueue {
  return {
    task,
    handler,
    waiting: [],
    active: new Set(),
    delayed: new Set(),
    completed: 0,
    failed: 0,
    windowStart: Number.NEGATIVE_INFINITY,
    windowCount: 0,
    rateTimer: undefined,
  };
}

/** @internal Puts `job` among the waiting ones in BullMQ's order. */
export function enqueue(q: PoolQueue, job: PoolJob): void {
  let i = q.waiting.length;
  while (i > 0 && compareJobs(q.waiting[i - 1]!, job) > 0) i--;
  q.waiting.splice(i, 0, job);
}

/** @internal What `counts()` reports for a queue (all zero for a task never run here). */
export function queueCounts(q: PoolQueue | undefined): TaskCounts {
  return {
    waiting: q?.waiting.length ?? 0,
    active: q?.active.size ?? 0,
    delayed: q?.delayed.size ?? 0,
    completed: q?.completed ?? 0,
    failed: q?.failed ?? 0,
  };
}
