// How a task run fails: builders of the TaskError every runner rejects with, also from an error's wire form.

import { ErrorCode, TaskError, TroupeError, type WireError } from '../core/errors.js';

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
  // Stack and causes came with it from the worker: kept, so a failed run shows where the handler threw.
  const rebuilt = TroupeError.fromWire(wire);
  const error = new TaskError(rebuilt.code, rebuilt.message, {
    data: rebuilt.data,
    ...(rebuilt.cause !== undefined && { cause: rebuilt.cause }),
  });
  if (typeof wire.stack === 'string' && rebuilt.stack !== undefined) error.stack = rebuilt.stack;
  return error;
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
