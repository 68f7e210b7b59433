// Restart intensity: at most N restarts within a sliding window of time, as OTP's MaxR/MaxT.

import { InvalidOptionsError } from '../runtime/index.js';
import { assertOptionsObject, Deque, intOption } from '../runtime/internal.js';

/** Options of {@link RestartIntensity}. */
export interface IntensityOptions {
  /**
   * Restarts allowed within the window; one more and the supervisor gives up.
   * @defaultValue 3
   */
  maxRestarts?: number;
  /**
   * Length of the sliding window, in ms.
   * @defaultValue 5000
   */
  withinMs?: number;
}

/** {@link IntensityOptions} after defaults. */
export interface ResolvedIntensityOptions {
  maxRestarts: number;
  withinMs: number;
}

export const DEFAULT_MAX_RESTARTS = 3;
export const DEFAULT_RESTART_WINDOW_MS = 5000;

/** Applies defaults and validates; never mutates `options`. */
export function resolveIntensityOptions(options: IntensityOptions = {}): ResolvedIntensityOptions {
  assertOptionsObject(options, 'intensity', 'expected { maxRestarts?, withinMs? }');
  const maxRestarts = intOption(options.maxRestarts, 'maxRestarts', DEFAULT_MAX_RESTARTS, 0);
  const withinMs = options.withinMs ?? DEFAULT_RESTART_WINDOW_MS;
  if (!(typeof withinMs === 'number' && withinMs > 0)) {
    throw new InvalidOptionsError('withinMs', `expected a positive number of ms, got ${String(withinMs)}`);
  }
  return { maxRestarts, withinMs };
}

/**
 * Counts restarts in a sliding window of clock time.
 *
 * @example
 * const intensity = new RestartIntensity({ maxRestarts: 3, withinMs: 5_000 });
 * intensity.record(clock.now()); // true while within the limit
 */
export class RestartIntensity {
  readonly options: ResolvedIntensityOptions;
  /**
   * Restart times in the window, oldest first: a deque, so forgetting the oldest costs O(1) each. Kept as ms
   * since the first time seen: small integers live in the deque as they are, where epoch milliseconds would
   * each be a heap number that a busy window (thousands of restarts a second) keeps alive for `withinMs`.
   */
  #times = new Deque<number>();
  /** The first time seen; the times kept are relative to it. */
  #base: number | undefined;

  constructor(options: IntensityOptions = {}) {
    this.options = resolveIntensityOptions(options);
  }

  /** Restarts counted in the window that ends at `now`. */
  count(now: number): number {
    this.#forget(now);
    return this.#times.length;
  }

  /** Records a restart at `now`; false (and nothing recorded) when it would exceed the intensity. */
  record(now: number): boolean {
    const at = this.#forget(now);
    if (this.#times.length >= this.options.maxRestarts) return false;
    this.#times.push(at);
    return true;
  }

  reset(): void {
    this.#times = new Deque<number>();
  }

  /** Forgets the restarts that left the window ending at `now`; returns `now` relative to the base. */
  #forget(now: number): number {
    this.#base ??= now;
    const at = now - this.#base;
    const from = at - this.options.withinMs;
    for (let oldest = this.#times.peek(); oldest !== undefined && oldest <= from; oldest = this.#times.peek())
      this.#times.shift();
    return at;
  }
}
