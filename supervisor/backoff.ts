// Exponential backoff with jitter between restarts, reset once the actor has been stable for a while.

import { InvalidOptionsError } from '../runtime/index.js';
import { assertOptionsObject, numberOption } from '../runtime/internal.js';

/** Options of {@link Backoff}. */
export interface BackoffOptions {
  /**
   * Delay before the first restart.
   * @defaultValue 10
   */
  minMs?: number;
  /**
   * Longest delay.
   * @defaultValue 10000
   */
  maxMs?: number;
  /**
   * Each restart multiplies the delay by this.
   * @defaultValue 2
   */
  factor?: number;
  /**
   * Random extra delay, as a fraction of the delay: 0.2 adds up to 20%.
   * @defaultValue 0.2
   */
  jitter?: number;
  /**
   * After running this long without a restart, the delay starts again from `minMs`.
   * @defaultValue 30000
   */
  resetAfterMs?: number;
  /** Source of randomness in [0, 1), for tests. @defaultValue Math.random */
  random?: () => number;
}

/** {@link BackoffOptions} after defaults. */
export interface ResolvedBackoffOptions {
  minMs: number;
  maxMs: number;
  factor: number;
  jitter: number;
  resetAfterMs: number;
  random: () => number;
}

export const DEFAULT_BACKOFF: Readonly<Omit<ResolvedBackoffOptions, 'random'>> = Object.freeze({
  minMs: 10,
  maxMs: 10_000,
  factor: 2,
  jitter: 0.2,
  resetAfterMs: 30_000,
});

/** Applies defaults and validates; never mutates `options`. */
export function resolveBackoffOptions(options: BackoffOptions = {}): ResolvedBackoffOptions {
  assertOptionsObject(
    options,
    'backoff',
    'expected { minMs?, maxMs?, factor?, jitter?, resetAfterMs?, random? }',
  );
  const minMs = numberOption(options.minMs, 'backoff.minMs', DEFAULT_BACKOFF.minMs);
  const maxMs = numberOption(options.maxMs, 'backoff.maxMs', Math.max(DEFAULT_BACKOFF.maxMs, minMs));
  if (maxMs < minMs) throw new InvalidOptionsError('backoff.maxMs', 'must not be less than minMs');
  const factor = numberOption(options.factor, 'backoff.factor', DEFAULT_BACKOFF.factor, 1);
  const jitter = numberOption(options.jitter, 'backoff.jitter', DEFAULT_BACKOFF.jitter);
  if (jitter > 1) throw new InvalidOptionsError('backoff.jitter', 'must be between 0 and 1');
  const random = options.random ?? Math.random;
  if (typeof random !== 'function') throw new InvalidOptionsError('backoff.random', 'expected a function');
  return {
    minMs,
    maxMs,
    factor,
    jitter,
    resetAfterMs: numberOption(options.resetAfterMs, 'backoff.resetAfterMs', DEFAULT_BACKOFF.resetAfterMs),
    random,
  };
}

/**
 * The delays of one actor's successive restarts: `minMs * factor^n`, capped at `maxMs`, plus jitter.
 *
 * @example
 * const backoff = new Backoff({ minMs: 100, maxMs: 5_000, random: () => 0 });
 * backoff.next(0); // 100, then 200, 400, ... until 5000
 */
export class Backoff {
  readonly options: ResolvedBackoffOptions;
  #attempt = 0;
  #restartedAt: number | undefined;

  constructor(options: BackoffOptions = {}) {
    this.options = resolveBackoffOptions(options);
  }

  /** Restarts since the last reset. */
  get attempt(): number {
    return this.#attempt;
  }

  /** The delay before a restart due at `now`. */
  next(now: number): number {
    const o = this.options;
    if (this.#restartedAt !== undefined && now - this.#restartedAt >= o.resetAfterMs) this.#attempt = 0;
    const base = Math.min(o.maxMs, o.minMs * o.factor ** this.#attempt);
    const delay = Math.min(o.maxMs, base * (1 + o.jitter * o.random()));
    this.#attempt++;
    // Stability is measured from when the new instance starts, not from when it failed.
    this.#restartedAt = now + delay;
    return delay;
  }

  reset(): void {
    this.#attempt = 0;
    this.#restartedAt = undefined;
  }
}
