// Checks of plain-data fields shared by defineLoad and the executors: each failure is a LOAD_INVALID naming the field.

import { LoadError, LoadErrorCode } from './errors.js';

/** @internal A LOAD_INVALID error naming `field`. */
export function invalid(field: string, message: string): LoadError {
  return new LoadError(LoadErrorCode.Invalid, `invalid ${field}: ${message}`, { data: { field } });
}

/** @internal Throws unless `value` is a plain object (not null, not an array). */
export function assertObject(value: unknown, field: string): asserts value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalid(field, `expected an object, got ${describe(value)}`);
}

/** @internal Throws for a key of `value` that is not in `known` (typos such as `duration` for `durationMs`). */
export function assertKnownKeys(value: object, known: readonly string[], field: string): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key))
      throw invalid(`${field}.${key}`, `unknown field (expected one of ${known.join(', ')})`);
  }
}

/** @internal An integer from `min` up (inclusive). */
export function intField(value: unknown, field: string, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min)
    throw invalid(field, `expected an integer >= ${min}, got ${describe(value)}`);
  return value;
}

/** @internal A finite number above `min` (exclusive when `exclusive`, else inclusive). */
export function numberField(value: unknown, field: string, min: number, exclusive = false): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || (exclusive && value === min))
    throw invalid(field, `expected a finite number ${exclusive ? '>' : '>='} ${min}, got ${describe(value)}`);
  return value;
}

/** @internal How a bad value shows in an error message. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'function') return 'a function';
  return String(value);
}
