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
   * Restarts in the window, oldest first, as runs: `#times[i]` is a time, `#counts[i]` the restarts recorded
   * at it. A busy window (thousands of restarts a second, as a supervisor allowed 10⁹ may see) then holds one
   * entry per distinct millisecond rather than one per restart, and recording a restart in the same
   * millisecond as the last one is one increment. Deques, so forgetting the oldest costs O(1) each. Times are
   * ms since the first time seen: small integers live in the deque as they are, where epoch milliseconds
   * would each be a heap number kept alive for `withinMs`.
   */
  #times = new Deque<number>();
  #counts = new Deque<number>();
  /** The time of the newest run (it takes the restarts recorded at the same time); NaN when there is none. */
  #last = Number.NaN;
  /** Restarts counted in the runs kept. */
  #total = 0;
  /** The first time seen; the times kept are relative to it. */
  #base: number | undefined;

  constructor(options: IntensityOptions = {}) {
    this.options = resolveIntensityOptions(options);
  }

  /** Restarts counted in the window that ends at `now`. */
  count(now: number): number {
    this.#forget(now);
    return this.#total;
  }

  /** Records a restart at `now`; false (and nothing recorded) when it would exceed the intensity. */
  record(now: number): boolean {
    const at = this.#forget(now);
    if (this.#total >= this.options.maxRestarts) return false;
    this.#total++;
    if (at === this.#last) this.#counts.push(this.#counts.pop()! + 1);
    else {
      this.#times.push(at);
      this.#counts.push(1);
      this.#last = at;
    }
    return true;
  }

  reset(): void {
    this.#times = new Deque<number>();
    this.#counts = new Deque<number>();
    this.#last = Number.NaN;
    this.#total = 0;
  }

  /** Forgets the restarts that left the window ending at `now`; returns `now` relative to the base. */
  #forget(now: number): number {
    this.#base ??= now;
    const at = now - this.#base;
    const from = at - this.options.withinMs;
    const times = this.#times;
    for (let oldest = times.peek(); oldest !== undefined && oldest <= from; oldest = times.peek()) {
      times.shift();
      this.#total -= this.#counts.shift()!;
    }
    if (times.length === 0) this.#last = Number.NaN;
    return at;
  }
}
