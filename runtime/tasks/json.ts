// What may travel through Redis: the JSON-value checks of a task's input and output, kept by every runner alike.

import { ErrorCode, TaskError } from '../core/errors.js';

/** Objects JSON silently turns into `{}` (or a list of numbers): refused rather than sent empty. */
const NOT_JSON_OBJECTS: (abstract new (...args: never[]) => unknown)[] = [
  Map,
  Set,
  WeakMap,
  WeakSet,
  Promise,
  ArrayBuffer,
];

/**
 * @internal Where `value` stops being a JSON value that survives the trip through Redis unchanged: a function,
 * symbol or bigint, a number that is not finite, a Map, Set, typed array or other object JSON would empty, or a
 * cycle. Returns the path of the first such spot (`input.a[2]`) and what it is, or undefined when it is fine.
 * Objects with a `toJSON` (Date) pass as they are.
 */
export function nonJsonAt(value: unknown, path = 'input'): string | undefined {
  const ancestors: object[] = [];
  const walk = (v: unknown, at: string): string | undefined => {
    switch (typeof v) {
      case 'string':
      case 'boolean':
      case 'undefined':
        return undefined;
      case 'number':
        return Number.isFinite(v) ? undefined : `${at} is ${String(v)}`;
      case 'function':
      case 'symbol':
      case 'bigint':
        return `${at} is a ${typeof v}`;
    }
    if (v === null) return undefined;
    const o = v as object;
    if (typeof (o as { toJSON?: unknown }).toJSON === 'function') return undefined;
    if (ArrayBuffer.isView(o)) return `${at} is a ${o.constructor.name}`;
    for (const kind of NOT_JSON_OBJECTS) if (o instanceof kind) return `${at} is a ${kind.name}`;
    if (ancestors.includes(o)) return `${at} refers back to an enclosing object (a cycle)`;
    ancestors.push(o);
    let found: string | undefined;
    if (Array.isArray(o)) {
      for (let i = 0; i < o.length && found === undefined; i++) found = walk(o[i], `${at}[${i}]`);
    } else {
      for (const key of Object.keys(o)) {
        found = walk((o as Record<string, unknown>)[key], `${at}.${key}`);
        if (found !== undefined) break;
      }
    }
    ancestors.pop();
    return found;
  };
  return walk(value, path);
}

/** @internal Throws `INVALID_TASK_INPUT` unless `input` is a JSON value (see {@link nonJsonAt}). */
export function assertTaskInput(task: string, input: unknown): void {
  const bad = nonJsonAt(input);
  if (bad !== undefined)
    throw new TaskError(
      ErrorCode.InvalidTaskInput,
      `task ${task}: ${bad}; task input must be a JSON value (it travels through Redis)`,
      { data: { task, at: bad } },
    );
}

/** @internal Throws `TASK_FAILED` unless a handler's `output` is a JSON value (see {@link nonJsonAt}). */
export function assertTaskOutput(task: string, jobId: string, output: unknown): void {
  const bad = nonJsonAt(output, 'output');
  if (bad !== undefined)
    throw new TaskError(
      ErrorCode.TaskFailed,
      `task ${task} (job ${jobId}) returned a value that is not JSON: ${bad}`,
      { data: { task, jobId, at: bad } },
    );
}
