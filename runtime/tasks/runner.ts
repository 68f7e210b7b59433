// The TaskRunner contract every runner keeps (BullMQ, in-process pool), and the checks of one run's options.

import { InvalidOptionsError } from '../core/errors.js';
import { intOption } from '../core/options.js';
import type { TaskStats } from '../ports/metrics.js';
import {
  MAX_TASK_PRIORITY,
  type ResolvedTaskOptions,
  type TaskDefinition,
  type TaskProgress,
} from './definition.js';
import { assertTaskInput } from './json.js';

/** Options of one run (`runner.run` or `ctx.runTask`). */
export interface RunTaskOptions {
  /** Aborting cancels the job: a waiting job is removed, a running one sees its signal abort. */
  signal?: AbortSignal;
  /** Called with each progress report of the handler. */
  onProgress?: (value: TaskProgress) => void;
  /** @defaultValue the task's `priority` */
  priority?: number;
  /** @defaultValue the task's `attempts` */
  attempts?: number;
  /** @defaultValue the task's `timeoutMs` */
  timeoutMs?: number;
  /**
   * Runs the job at most once per key and task (a tool call's `<runId>:<callId>`, say): a run that finds the
   * key's job already done resolves with its stored output (or rejects with its stored failure), one that finds
   * it queued or running waits for it. BullMQ keeps the key as long as Redis keeps the job (`keepCompleted`,
   * `keepFailed`); the in-process pool keeps the latest 10,000 keys. A cancelled job frees its key. Aborting
   * the run that queued the job cancels it; aborting a run that joined it only stops that run waiting.
   */
  idempotencyKey?: string;
}

/** Job counts of one task's queue. */
export interface TaskCounts {
  /** Jobs waiting for a worker (the queue depth), prioritized ones included. */
  waiting: number;
  active: number;
  /** Jobs waiting out a retry backoff or a rate limit. */
  delayed: number;
  /** Completed jobs still retained. */
  completed: number;
  /** Failed jobs still retained. */
  failed: number;
}

/**
 * Runs tasks: the BullMQ runner (`bullmqTaskRunner` in troupe/tasks-bullmq) sends them to worker nodes through Redis,
 * the embedded one (`taskPool`) runs them in-process. Both keep the same semantics:
 * - `run` resolves with the handler's output, or rejects with a {@link TaskError} whose `code` is `TASK_FAILED`
 *   (the last attempt threw), `TASK_TIMEOUT` (the last attempt timed out) or `TASK_CANCELLED` (the signal aborted);
 * - a job runs until it succeeds or its attempts run out, with exponential backoff in between;
 * - every call of `run` settles exactly once, even when a worker dies mid-job and another takes the job over.
 */
export interface TaskRunner {
  /** `bullmq`, `pool`, ... */
  readonly kind: string;
  /** Queues one job of `task` and resolves with its output. */
  run<I, O>(task: TaskDefinition<I, O>, input: I, options?: RunTaskOptions): Promise<O>;
  /** Job counts per task name: of `task`, or of every task this runner knows (for BullMQ: every queue under its prefix). */
  counts(task?: { readonly name: string } | string): Promise<Record<string, TaskCounts>>;
  /** Runs and worker attempts counted by task and state, for metrics. Optional; must be cheap. */
  stats?(): TaskStats;
  /** Stops now: running jobs are aborted (or left to stall-recovery), pending runs reject. Safe to call twice. */
  close(): Promise<void>;
  /** Stops taking jobs, lets running ones and pending runs finish, then closes. Safe to call twice. */
  drain(): Promise<void>;
  /** Resolves once closed, with the first error met while closing, if any. */
  closed(): Promise<Error | undefined>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Validates the per-run overrides against the task's options; returns the effective ones. */
export function resolveRunOptions(
  task: { readonly options: ResolvedTaskOptions },
  options: RunTaskOptions = {},
): ResolvedRunOptions {
  return {
    priority: intOption(options.priority, 'priority', task.options.priority, 0, MAX_TASK_PRIORITY),
    attempts: intOption(options.attempts, 'attempts', task.options.attempts, 1),
    timeoutMs: intOption(options.timeoutMs, 'timeoutMs', task.options.timeoutMs, 0),
  };
}

/** What one run resolves to: the task's options with the run's overrides. */
export interface ResolvedRunOptions {
  priority: number;
  attempts: number;
  timeoutMs: number;
}

/**
 * @internal Checks a run before anything is queued (every runner does): `task` must be a task definition,
 * the run's options valid and `input` JSON (JSON drops functions and empties Maps without a word: refuse them
 * here, not run the task without them). Returns the effective options; throws `INVALID_OPTIONS` or
 * `INVALID_TASK_INPUT`.
 */
export function checkRun(
  task: { readonly name: string; readonly options: ResolvedTaskOptions },
  input: unknown,
  options: RunTaskOptions,
): ResolvedRunOptions {
  if (typeof task !== 'object' || task === null || typeof task.name !== 'string')
    throw new InvalidOptionsError('task', 'expected a task definition from defineTask()');
  const resolved = resolveRunOptions(task, options);
  const key = options.idempotencyKey;
  if (key !== undefined && (typeof key !== 'string' || key === ''))
    throw new InvalidOptionsError('idempotencyKey', 'expected a non-empty string');
  assertTaskInput(task.name, input);
  return resolved;
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
