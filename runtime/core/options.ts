// Reading options: the checks every resolve*Options function makes, each throwing InvalidOptionsError naming the field.

import type { Clock } from './clock.js';
import { InvalidOptionsError } from './errors.js';

/**
 * @internal Throws {@link InvalidOptionsError} naming `field` unless `value` is absent or an object (not null,
 * not an array); `expected` says what shape was wanted.
 *
 * @example
 * assertOptionsObject(options, 'options', 'expected { threads?, clock? }');
 */
export function assertOptionsObject(value: unknown, field: string, expected = 'expected an object'): void {
  if (value !== undefined && (typeof value !== 'object' || value === null || Array.isArray(value)))
    throw new InvalidOptionsError(field, expected);
}

function integerWanted(min: number, max: number | undefined): string {
  if (max !== undefined) return `an integer from ${min} to ${max}`;
  if (min === 1) return 'a positive integer';
  if (min === 0) return 'a non-negative integer';
  return `an integer >= ${min}`;
}

/**
 * @internal Reads an optional integer option: `fallback` when absent, else an integer from `min` to `max`
 * (inclusive; no upper bound without `max`), or {@link InvalidOptionsError} naming `field`.
 *
 * @example
 * const threads = intOption(options.threads, 'threads', 4, 1);
 */
export function intOption(
  value: unknown,
  field: string,
  fallback: number,
  min: number,
  max?: number,
): number {
  if (value === undefined) return fallback;
  if (
    typeof value !== 'number' ||
    !Number.isInteger(value) ||
    value < min ||
    (max !== undefined && value > max)
  )
    throw new InvalidOptionsError(field, `expected ${integerWanted(min, max)}, got ${String(value)}`);
  return value;
}

/**
 * @internal Reads an optional number option: `fallback` when absent, else a finite number of at least `min`
 * (0 unless given), or {@link InvalidOptionsError} naming `field`.
 */
export function numberOption(value: unknown, field: string, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    const wanted = min === 0 ? 'a non-negative number' : `a number >= ${min}`;
    throw new InvalidOptionsError(field, `expected ${wanted}, got ${String(value)}`);
  }
  return value;
}

/** @internal `clock`, or {@link InvalidOptionsError} naming `field` when it is not a {@link Clock}. */
export function clockOption(clock: unknown, fallback: Clock, field = 'clock'): Clock {
  if (clock === undefined) return fallback;
  if (
    typeof clock !== 'object' ||
    clock === null ||
    typeof (clock as Clock).now !== 'function' ||
    typeof (clock as Clock).setTimeout !== 'function' ||
    typeof (clock as Clock).clearTimeout !== 'function'
  )
    throw new InvalidOptionsError(field, 'expected { now, setTimeout, clearTimeout }');
  return clock as Clock;
}
