// The body of `ctx.runTask`: a run on the system's runner whose outcome may come back as messages to the actor.

import type { AnyActorRef } from '../actor/ref.js';
import { ErrorCode, TaskError } from '../core/errors.js';
import type { AnyTaskDefinition, TaskProgress } from './definition.js';
import { asTaskError } from './errors.js';
import type { RunTaskOptions, TaskRunner } from './runner.js';

/** How `ctx.runTask` turns a task's outcome into messages to the calling actor's address. */
export interface TaskDelivery<M, O> {
  ok: (output: O) => M;
  error: (error: TaskError) => M;
  /** Optional: each progress report becomes a message too. */
  progress?: (value: TaskProgress) => M;
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
