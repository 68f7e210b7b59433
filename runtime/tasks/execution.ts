// One attempt of one job: the handler run with its timeout, cancellation and progress, for every runner.

import type { Clock, TimerHandle } from '../core/clock.js';
import { ErrorCode, TaskError, TroupeError } from '../core/errors.js';
import { isPromiseLike } from '../core/thenable.js';
import type { TaskContext, TaskHandler, TaskProgress } from './definition.js';
import { taskCancelled } from './errors.js';

/** Exponential backoff before retry `attempt` (the attempt that just failed, 1-based). */
export function backoffDelay(baseMs: number, failedAttempt: number): number {
  return baseMs * 2 ** Math.max(0, failedAttempt - 1);
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
    if (isPromiseLike(result))
      (result as PromiseLike<O>).then((output) => finish(() => resolve(output)), onError);
    else finish(() => resolve(result as O));
  });
}
