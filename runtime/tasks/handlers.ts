// How a task's jobs run in this process: its inline handler, the handler its module exports, or on a worker thread.

import { ErrorCode, TaskError } from '../core/errors.js';
import type { AnyTaskDefinition, TaskHandler } from './definition.js';

/** A handler's module as a task definition holds it: a `file:` URL and the export's name. */
export interface HandlerModule {
  readonly url: string;
  readonly export: string;
}

/** What {@link handlerOf} needs from the thread pool: a handler that runs a module's export on a thread. */
export interface HandlerThreads {
  handlerFor(module: HandlerModule): TaskHandler<unknown, unknown>;
}

/**
 * @internal Imports `module.url` and returns its export as a handler; a task definition exported there counts too
 * (its inline handler). Shared by the in-process runners and the sandbox thread, so both fail alike.
 */
export async function loadHandler(module: HandlerModule): Promise<TaskHandler<unknown, unknown>> {
  const mod = (await import(module.url)) as Record<string, unknown>;
  let fn = mod[module.export];
  if (typeof fn === 'object' && fn !== null && typeof (fn as { handler?: unknown }).handler === 'function')
    fn = (fn as { handler: unknown }).handler;
  if (typeof fn !== 'function')
    throw new Error(`${module.url} exports no task handler named "${module.export}"`);
  return fn as TaskHandler<unknown, unknown>;
}

/** @internal Loads (once) the handler a module exports, for tasks given as modules but not sandboxed. */
export function moduleHandler(module: HandlerModule): TaskHandler<unknown, unknown> {
  let loaded: Promise<TaskHandler<unknown, unknown>> | undefined;
  return async (input, ctx) => {
    loaded ??= loadHandler(module);
    return (await loaded)(input, ctx);
  };
}

/** @internal Picks how a task's jobs run in this process: inline, from its module, or on a thread. */
export function handlerOf(
  task: AnyTaskDefinition,
  threads: () => HandlerThreads,
): TaskHandler<unknown, unknown> {
  if (task.options.sandbox && task.module !== undefined) return threads().handlerFor(task.module);
  if (task.handler !== undefined) return task.handler as TaskHandler<unknown, unknown>;
  if (task.module !== undefined) return moduleHandler(task.module);
  throw new TaskError(ErrorCode.UnknownTask, `task ${task.name} has no handler`);
}
