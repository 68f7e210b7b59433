// The task contract: heavy work defined once with `defineTask`, run off the actor by a TaskRunner (BullMQ or in-process).

import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Clock, TimerHandle } from './clock.js';
import { ErrorCode, InvalidOptionsError, TaskError, TroupeError, type WireError } from './errors.js';
import type { AnyActorRef } from './ref.js';

/** What a task handler reports as progress: a percentage or any JSON value. */
export type TaskProgress = number | string | boolean | object;

/** What a task handler sees while it runs one attempt of one job. */
export interface TaskContext {
  /** The job id: the same across attempts and across workers. */
  readonly id: string;
  /** 1 for the first attempt, 2 for the first retry, ... */
  readonly attempt: number;
  /** Aborted when the job is cancelled or times out; stop work and throw (or return) soon after. */
  readonly signal: AbortSignal;
  /** Reports progress to the caller's `onProgress` (best effort; never throws). */
  progress(value: TaskProgress): void;
}

/** The function that does a task's work. Input and output must be JSON values (they travel through Redis). */
export type TaskHandler<I, O> = (input: I, ctx: TaskContext) => O | Promise<O>;

/**
 * A handler that lives in its own module file, so it can run sandboxed in a worker thread (functions cannot
 * cross threads). The module's `export` (default: `default`) is a handler function or a task definition.
 */
export interface TaskModule {
  /** An absolute path or a `file:` URL, e.g. `new URL('./hash.js', import.meta.url)`. */
  module: string | URL;
  /** @defaultValue `default` */
  export?: string;
}

/** At most `max` jobs of one task start per `intervalMs`, across every worker. */
export interface TaskRateLimit {
  max: number;
  intervalMs: number;
}

/** Options of {@link defineTask}. */
export interface TaskOptions {
  /**
   * Jobs of this task one worker (one node, or the in-process pool) runs at once.
   * @defaultValue 1
   */
  concurrency?: number;
  /**
   * Tries in all, the first one included: a handler that throws or times out is retried until they run out.
   * @defaultValue 1
   */
  attempts?: number;
  /**
   * Base of the exponential backoff between attempts: retry `n` waits `backoffMs * 2^(n-1)`.
   * @defaultValue 1000
   */
  backoffMs?: number;
  /**
   * Longest one attempt may run before its signal aborts and it fails with `TASK_TIMEOUT`; 0 for no limit.
   * @defaultValue 0
   */
  timeoutMs?: number;
  /**
   * Queue priority: 0 for none (first in, first out), otherwise 1 (highest) to 2097152 (lowest).
   * @defaultValue 0
   */
  priority?: number;
  /** @defaultValue no limit */
  rateLimit?: TaskRateLimit;
  /**
   * Runs each job on a worker thread so CPU-heavy work does not block the event loop. Needs a {@link TaskModule}.
   * @defaultValue false
   */
  sandbox?: boolean;
}

/** {@link TaskOptions} after defaults. */
export interface ResolvedTaskOptions {
  readonly concurrency: number;
  readonly attempts: number;
  readonly backoffMs: number;
  readonly timeoutMs: number;
  readonly priority: number;
  readonly rateLimit: TaskRateLimit | undefined;
  readonly sandbox: boolean;
}

export const DEFAULT_TASK_CONCURRENCY = 1;
export const DEFAULT_TASK_ATTEMPTS = 1;
export const DEFAULT_TASK_BACKOFF_MS = 1000;
/** Lowest priority BullMQ accepts (1 is the highest). */
export const MAX_TASK_PRIORITY = 2_097_152;

/** A validated, immutable task: share it between the callers and the worker nodes that run it. */
export interface TaskDefinition<I, O> {
  /** Unique task name; also the queue name. */
  readonly name: string;
  /** The handler, when it was given inline. */
  readonly handler: TaskHandler<I, O> | undefined;
  /** The handler's module, when it was given as one (as a `file:` URL). */
  readonly module: { readonly url: string; readonly export: string } | undefined;
  readonly options: ResolvedTaskOptions;
  /** Phantom: carries the input type. */
  readonly __input?: (input: I) => void;
  /** Phantom: carries the output type. */
  readonly __output?: O;
}

/** A task of any input and output (for registries and worker nodes). */
// biome-ignore lint/suspicious/noExplicitAny: definitions of any task must be assignable here (variance escape hatch)
export type AnyTaskDefinition = TaskDefinition<any, any>;

/** The input type of a task definition. */
export type TaskInput<T> = T extends TaskDefinition<infer I, unknown> ? I : never;
/** The output type of a task definition. */
export type TaskOutput<T> = T extends TaskDefinition<unknown, infer O> ? O : never;

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
 * Runs tasks: the BullMQ runner (`bullmqTaskRunner` in troupe/transport) sends them to worker nodes through Redis,
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
  /** Stops now: running jobs are aborted (or left to stall-recovery), pending runs reject. Safe to call twice. */
  close(): Promise<void>;
  /** Stops taking jobs, lets running ones and pending runs finish, then closes. Safe to call twice. */
  drain(): Promise<void>;
  /** Resolves once closed, with the first error met while closing, if any. */
  closed(): Promise<Error | undefined>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** How `ctx.runTask` turns a task's outcome into messages to the calling actor's address. */
export interface TaskDelivery<M, O> {
  ok: (output: O) => M;
  error: (error: TaskError) => M;
  /** Optional: each progress report becomes a message too. */
  progress?: (value: TaskProgress) => M;
}

const TASK_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

function isInt(value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

function intOption(value: unknown, field: string, fallback: number, min: number, max?: number): number {
  if (value === undefined) return fallback;
  if (!isInt(value, min, max)) {
    throw new InvalidOptionsError(
      field,
      `expected an integer${max === undefined ? ` >= ${min}` : ` from ${min} to ${max}`}, got ${String(value)}`,
    );
  }
  return value;
}

/** Applies defaults to task options and validates them; never mutates `options`. Throws {@link InvalidOptionsError}. */
export function resolveTaskOptions(options: TaskOptions = {}): ResolvedTaskOptions {
  if (typeof options !== 'object' || options === null)
    throw new InvalidOptionsError('options', 'expected an object');
  let rateLimit: TaskRateLimit | undefined;
  if (options.rateLimit !== undefined) {
    const r = options.rateLimit as Partial<TaskRateLimit> | null;
    if (typeof r !== 'object' || r === null)
      throw new InvalidOptionsError('rateLimit', 'expected { max, intervalMs }');
    rateLimit = Object.freeze({
      max: intOption(r.max, 'rateLimit.max', Number.NaN, 1),
      intervalMs: intOption(r.intervalMs, 'rateLimit.intervalMs', Number.NaN, 1),
    });
    if (Number.isNaN(rateLimit.max)) throw new InvalidOptionsError('rateLimit.max', 'is required');
    if (Number.isNaN(rateLimit.intervalMs))
      throw new InvalidOptionsError('rateLimit.intervalMs', 'is required');
  }
  if (options.sandbox !== undefined && typeof options.sandbox !== 'boolean')
    throw new InvalidOptionsError('sandbox', `expected a boolean, got ${String(options.sandbox)}`);
  return Object.freeze({
    concurrency: intOption(options.concurrency, 'concurrency', DEFAULT_TASK_CONCURRENCY, 1),
    attempts: intOption(options.attempts, 'attempts', DEFAULT_TASK_ATTEMPTS, 1),
    backoffMs: intOption(options.backoffMs, 'backoffMs', DEFAULT_TASK_BACKOFF_MS, 0),
    timeoutMs: intOption(options.timeoutMs, 'timeoutMs', 0, 0),
    priority: intOption(options.priority, 'priority', 0, 0, MAX_TASK_PRIORITY),
    rateLimit,
    sandbox: options.sandbox ?? false,
  });
}

/** Validates the per-run overrides against the task's options; returns the effective ones. */
export function resolveRunOptions(
  task: { readonly options: ResolvedTaskOptions },
  options: RunTaskOptions = {},
): { priority: number; attempts: number; timeoutMs: number } {
  return {
    priority: intOption(options.priority, 'priority', task.options.priority, 0, MAX_TASK_PRIORITY),
    attempts: intOption(options.attempts, 'attempts', task.options.attempts, 1),
    timeoutMs: intOption(options.timeoutMs, 'timeoutMs', task.options.timeoutMs, 0),
  };
}

function moduleUrl(spec: TaskModule): { url: string; export: string } {
  const m = spec.module;
  let url: string;
  if (m instanceof URL) url = m.href;
  else if (typeof m === 'string' && m.startsWith('file:')) url = new URL(m).href;
  else if (typeof m === 'string' && isAbsolute(m)) url = pathToFileURL(m).href;
  else
    throw new InvalidOptionsError(
      'module',
      `expected an absolute path or a file: URL (new URL('./x.js', import.meta.url)), got ${String(m)}`,
    );
  const name = spec.export ?? 'default';
  if (typeof name !== 'string' || name.length === 0)
    throw new InvalidOptionsError('export', 'expected an export name');
  return Object.freeze({ url, export: name });
}

/**
 * Defines a task: a name (unique; also its queue's name), a handler (inline, or a module for sandboxing) and its
 * options. Callers and worker nodes import the same definition.
 *
 * @example
 * export const wordCount = defineTask<{ text: string }, number>('word-count', (input, ctx) => {
 *   ctx.progress(50);
 *   return input.text.split(/\s+/).length;
 * }, { attempts: 3, timeoutMs: 10_000 });
 * // CPU-heavy: the handler lives in its own file and runs on a worker thread.
 * export const hash = defineTask<{ data: string }, string>('hash',
 *   { module: new URL('./hash-handler.js', import.meta.url) }, { sandbox: true, concurrency: 4 });
 */
export function defineTask<I, O>(
  name: string,
  handler: TaskHandler<I, O> | TaskModule,
  options: TaskOptions = {},
): TaskDefinition<I, O> {
  if (typeof name !== 'string' || !TASK_NAME.test(name)) {
    throw new InvalidOptionsError(
      'name',
      `invalid task name ${JSON.stringify(name)}: use 1-128 of A-Z a-z 0-9 _ . - (no colons or spaces)`,
    );
  }
  const resolved = resolveTaskOptions(options);
  let inline: TaskHandler<I, O> | undefined;
  let module: { url: string; export: string } | undefined;
  if (typeof handler === 'function') inline = handler;
  else if (typeof handler === 'object' && handler !== null && 'module' in handler)
    module = moduleUrl(handler);
  else throw new InvalidOptionsError('handler', 'expected a function or { module }');
  if (resolved.sandbox && module === undefined) {
    throw new InvalidOptionsError(
      'sandbox',
      'a sandboxed task needs its handler in a module file: defineTask(name, { module: new URL(...) }, ...)',
    );
  }
  return Object.freeze({ name, handler: inline, module, options: resolved });
}

/** True when `value` looks like a task definition (for loading `--tasks` modules). */
export function isTaskDefinition(value: unknown): value is AnyTaskDefinition {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { name?: unknown }).name === 'string' &&
    typeof (value as { options?: unknown }).options === 'object' &&
    ((value as { handler?: unknown }).handler !== undefined ||
      (value as { module?: unknown }).module !== undefined)
  );
}

/** Exponential backoff before retry `attempt` (the attempt that just failed, 1-based). */
export function backoffDelay(baseMs: number, failedAttempt: number): number {
  return baseMs * 2 ** Math.max(0, failedAttempt - 1);
}

/** The error a cancelled job fails with. */
export function taskCancelled(task: string, jobId: string, reason?: unknown): TaskError {
  return new TaskError(ErrorCode.TaskCancelled, `task ${task} (job ${jobId}) was cancelled`, {
    data: { task, jobId },
    ...(reason === undefined ? {} : { cause: reason }),
  });
}

/** Rebuilds the error a job failed with from its wire form (or any text, for foreign failures). */
export function taskErrorFromWire(task: string, jobId: string, wire: WireError | string): TaskError {
  if (typeof wire === 'string') {
    try {
      const parsed = JSON.parse(wire) as unknown;
      if (typeof parsed === 'object' && parsed !== null && typeof (parsed as WireError).code === 'string')
        wire = parsed as WireError;
    } catch {
      // Not ours (a stalled-job failure from BullMQ itself, say): keep the text as the message.
    }
  }
  if (typeof wire === 'string')
    return new TaskError(ErrorCode.TaskFailed, `task ${task} (job ${jobId}) failed: ${wire}`, {
      data: { task, jobId },
    });
  return new TaskError(String(wire.code), String(wire.message), { data: wire.data });
}

/** How one attempt is run by {@link executeTask}. */
export interface ExecuteTaskOptions {
  task: string;
  id: string;
  attempt: number;
  attempts: number;
  timeoutMs: number;
  clock: Clock;
  /** Aborted from outside to cancel this attempt. */
  signal?: AbortSignal;
  /** Filled in by `executeTask`: `cancel(reason)` cancels the attempt (a cheaper way than `signal`). */
  control?: { cancel?: (reason?: unknown) => void };
  onProgress?: (value: TaskProgress) => void;
}

/**
 * Runs one attempt of a handler with its timeout and cancellation, for runner implementations. Rejects with a
 * {@link TaskError}: `TASK_CANCELLED`, `TASK_TIMEOUT` or `TASK_FAILED` (the cause's wire form in `data.cause`).
 * It settles as soon as the attempt is aborted, even when the handler ignores its signal.
 */
export function executeTask<I, O>(
  handler: TaskHandler<I, O>,
  input: I,
  options: ExecuteTaskOptions,
): Promise<O> {
  const { task, id, attempt, attempts, timeoutMs, clock } = options;
  return new Promise<O>((resolve, reject) => {
    let timer: TimerHandle | undefined;
    let settled = false;
    // Made on first use: most handlers never look at their signal, and an AbortController per job shows in profiles.
    let controller: AbortController | undefined;
    let abortReason: TaskError | undefined;
    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      if (timer !== undefined) clock.clearTimeout(timer);
      options.signal?.removeEventListener('abort', onCancel);
      fn();
    };
    const abortWith = (error: TaskError): void => {
      if (settled) return;
      abortReason = error;
      controller?.abort(error);
      finish(() => reject(error));
    };
    const onCancel = (): void => abortWith(taskCancelled(task, id, options.signal?.reason));
    if (options.control !== undefined)
      options.control.cancel = (reason) => abortWith(taskCancelled(task, id, reason));
    if (options.signal?.aborted) {
      onCancel();
      return;
    }
    options.signal?.addEventListener('abort', onCancel, { once: true });
    if (timeoutMs > 0) {
      timer = clock.setTimeout(() => {
        abortWith(
          new TaskError(
            ErrorCode.TaskTimeout,
            `task ${task} (job ${id}, attempt ${attempt}/${attempts}) timed out after ${timeoutMs} ms`,
            {
              data: { task, jobId: id, attempt, attempts, timeoutMs },
            },
          ),
        );
      }, timeoutMs);
    }
    const ctx: TaskContext = {
      id,
      attempt,
      get signal() {
        if (controller === undefined) {
          controller = new AbortController();
          if (abortReason !== undefined) controller.abort(abortReason);
        }
        return controller.signal;
      },
      progress(value) {
        if (settled || options.onProgress === undefined) return;
        try {
          options.onProgress(value);
        } catch {
          // A progress observer must not fail the job.
        }
      },
    };
    const onError = (err: unknown): void => {
      if (TaskError.is(err) && (err.code === ErrorCode.TaskCancelled || err.code === ErrorCode.TaskTimeout)) {
        finish(() => reject(err));
        return;
      }
      const message = err instanceof Error ? err.message : String(err);
      finish(() =>
        reject(
          new TaskError(
            ErrorCode.TaskFailed,
            `task ${task} (job ${id}, attempt ${attempt}/${attempts}) failed: ${message}`,
            {
              cause: err,
              data: { task, jobId: id, attempt, attempts, cause: TroupeError.toWire(err) },
            },
          ),
        ),
      );
    };
    let result: O | Promise<O>;
    try {
      result = handler(input, ctx);
    } catch (err) {
      onError(err);
      return;
    }
    if (isThenable(result)) result.then((output) => finish(() => resolve(output)), onError);
    else finish(() => resolve(result as O));
  });
}

function isThenable<T>(value: T | Promise<T>): value is Promise<T> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/** Turns whatever a run rejected with into a {@link TaskError}. */
export function asTaskError(err: unknown, task: string): TaskError {
  if (err instanceof TaskError) return err;
  if (TroupeError.is(err)) return new TaskError(err.code, err.message, { cause: err, data: err.data });
  return new TaskError(
    ErrorCode.TaskFailed,
    `task ${task} failed: ${err instanceof Error ? err.message : String(err)}`,
    {
      cause: err,
    },
  );
}

/**
 * @internal The body of `ctx.runTask`: runs `task` on `runner`; with `deliver`, the outcome is told to the actor at
 * `address` (looked up when it arrives, so a restarted actor gets it) and nothing is returned.
 */
export function runTaskFor(
  runner: TaskRunner | undefined,
  refFor: (address: string) => AnyActorRef,
  address: string,
  task: AnyTaskDefinition,
  input: unknown,
  options: (RunTaskOptions & { deliver?: TaskDelivery<unknown, unknown> }) | undefined,
): Promise<unknown> | undefined {
  const { deliver, ...runOptions } = options ?? {};
  const run = (): Promise<unknown> =>
    runner === undefined
      ? Promise.reject(
          new TaskError(
            ErrorCode.NoTaskRunner,
            `cannot run task ${task?.name}: the system has no task runner (createSystem({ tasks }))`,
          ),
        )
      : runner.run(task, input, runOptions);
  if (deliver === undefined) return run();
  const tell = (make: () => unknown): void => {
    try {
      refFor(address).tell(make() as { type: string });
    } catch {
      // The actor's address is unusable or the message cannot be sent: it is recorded as a dead letter.
    }
  };
  if (deliver.progress !== undefined) {
    const onProgress = runOptions.onProgress;
    const progress = deliver.progress;
    runOptions.onProgress = (value) => {
      onProgress?.(value);
      tell(() => progress(value));
    };
  }
  run().then(
    (output) => {
      let message: unknown;
      try {
        message = deliver.ok(output);
      } catch (err) {
        tell(() => deliver.error(asTaskError(err, task.name)));
        return;
      }
      tell(() => message);
    },
    (err: unknown) => tell(() => deliver.error(asTaskError(err, task.name))),
  );
  return undefined;
}
