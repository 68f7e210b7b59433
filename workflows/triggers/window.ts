// The recent events a condition trigger looks at: the last N, the last T ms, or both, with running aggregates
// of one numeric field (the condition language has no arithmetic, so sums and averages come ready-made).

import { InvalidOptionsError } from '../../runtime/index.js';

/** Most events a window holds, whatever its options. */
export const MAX_WINDOW_SIZE = 100_000;
/** Window size when only `ms` is given. */
export const DEFAULT_WINDOW_SIZE = 1000;

/** Options of a trigger's window of recent events. */
export interface WindowOptions {
  /** Keep the last `size` events. @defaultValue 1000 (when `ms` is given) */
  size?: number;
  /** Keep the events that arrived in the last `ms` (by the trigger's clock). */
  ms?: number;
  /** A dot path to a numeric field of the events (`data.amount`): the window keeps its sum, min, max, avg. */
  field?: string;
}

/** What a condition sees of recent events (the current one included). */
export interface TriggerWindow<E = unknown> {
  readonly events: readonly E[];
  readonly count: number;
  /** Over the numeric values of `field` (undefined without `field` or without numbers). */
  readonly sum: number | undefined;
  readonly min: number | undefined;
  readonly max: number | undefined;
  readonly avg: number | undefined;
}

const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);

function read(value: unknown, path: readonly string[]): unknown {
  let v = value;
  for (const key of path) {
    if (typeof v !== 'object' || v === null || !Object.hasOwn(v, key)) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

/** @internal Events with their arrival times, oldest first. */
export class EventWindow<E> {
  readonly #size: number;
  readonly #ms: number | undefined;
  readonly #path: readonly string[] | undefined;
  #events: { at: number; event: E }[] = [];

  constructor(options: WindowOptions | undefined) {
    if (options === undefined) {
      this.#size = 1;
      this.#ms = undefined;
      this.#path = undefined;
      return;
    }
    if (typeof options !== 'object' || options === null)
      throw new InvalidOptionsError('window', 'expected { size?, ms?, field? }');
    const { size, ms, field } = options;
    if (size !== undefined && (!Number.isInteger(size) || size < 1 || size > MAX_WINDOW_SIZE))
      throw new InvalidOptionsError('window.size', `expected an integer from 1 to ${MAX_WINDOW_SIZE}`);
    if (ms !== undefined && (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0))
      throw new InvalidOptionsError('window.ms', 'expected a positive number');
    if (size === undefined && ms === undefined)
      throw new InvalidOptionsError('window', 'give size, ms or both');
    if (field !== undefined) {
      const path = typeof field === 'string' ? field.split('.') : [];
      if (path.length === 0 || path.some((k) => k === '' || FORBIDDEN.has(k)))
        throw new InvalidOptionsError('window.field', 'expected a dot path of field names');
      this.#path = path;
    } else this.#path = undefined;
    this.#size = size ?? DEFAULT_WINDOW_SIZE;
    this.#ms = ms;
  }

  /** Adds `event` (arrived at `now`) and returns the window as it now is. */
  add(event: E, now: number): TriggerWindow<E> {
    this.#events.push({ at: now, event });
    if (this.#events.length > this.#size) this.#events.splice(0, this.#events.length - this.#size);
    if (this.#ms !== undefined) {
      const from = now - this.#ms;
      const first = this.#events.findIndex((e) => e.at > from);
      if (first > 0) this.#events.splice(0, first);
    }
    return this.view();
  }

  view(): TriggerWindow<E> {
    const events = this.#events.map((e) => e.event);
    let sum: number | undefined;
    let min: number | undefined;
    let max: number | undefined;
    let n = 0;
    if (this.#path !== undefined)
      for (const e of events) {
        const v = read(e, this.#path);
        if (typeof v !== 'number' || !Number.isFinite(v)) continue;
        n++;
        sum = (sum ?? 0) + v;
        min = min === undefined || v < min ? v : min;
        max = max === undefined || v > max ? v : max;
      }
    return { events, count: events.length, sum, min, max, avg: sum === undefined ? undefined : sum / n };
  }

  clear(): void {
    this.#events = [];
  }
}
