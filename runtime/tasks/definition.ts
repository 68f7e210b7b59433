// What a task is: `defineTask`, its options and their defaults, the handler's context; shared by callers and workers.

import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import { InvalidOptionsError } from '../core/errors.js';
import { assertOptionsObject, intOption } from '../core/options.js';

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

const TASK_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** Applies defaults to task options and validates them; never mutates `options`. Throws {@link InvalidOptionsError}. */
export function resolveTaskOptions(options: TaskOptions = {}): ResolvedTaskOptions {
  assertOptionsObject(options, 'options');
  let rateLimit: TaskRateLimit | undefined;
  if (options.rateLimit !== undefined) {
    const r = options.rateLimit as Partial<TaskRateLimit>;
    assertOptionsObject(r, 'rateLimit', 'expected { max, intervalMs }');
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
