// When to try again: jittered exponential backoff, never sooner than the server's Retry-After.

import { type Clock, InvalidOptionsError } from '../runtime/index.js';

export interface RetryOptions {
  /** Attempts per model group, the first included. @defaultValue 3 */
  attempts?: number;
  /** The first backoff. @defaultValue 200 */
  baseMs?: number;
  /** The longest backoff (and the longest Retry-After waited for; longer ones fail over instead). @defaultValue 10000 */
  maxMs?: number;
  /** Fraction of each backoff drawn at random (0: none, 1: "full jitter"). @defaultValue 0.5 */
  jitter?: number;
}

export type ResolvedRetry = Required<RetryOptions>;

export function resolveRetry(options: RetryOptions | undefined): ResolvedRetry {
  const r = { attempts: 3, baseMs: 200, maxMs: 10_000, jitter: 0.5, ...options };
  if (!Number.isInteger(r.attempts) || r.attempts < 1)
    throw new InvalidOptionsError('retries.attempts', 'expected an integer >= 1');
  if (!(r.baseMs >= 0) || !(r.maxMs >= r.baseMs))
    throw new InvalidOptionsError('retries', 'expected 0 <= baseMs <= maxMs');
  if (!(r.jitter >= 0 && r.jitter <= 1)) throw new InvalidOptionsError('retries.jitter', 'expected 0..1');
  return r;
}

/**
 * The wait before retry number `retry` (1-based): `baseMs * 2^(retry-1)` capped at `maxMs`, its `jitter`
 * fraction random, and at least `retryAfterMs` when the server asked for it.
 */
export function backoffMs(
  retry: number,
  options: ResolvedRetry,
  retryAfterMs?: number,
  random = Math.random,
): number {
  const exp = Math.min(options.maxMs, options.baseMs * 2 ** (retry - 1));
  const wait = exp * (1 - options.jitter) + exp * options.jitter * random();
  return retryAfterMs === undefined ? wait : Math.max(wait, retryAfterMs);
}

/** Waits `ms` on `clock` unless `signal` fires first (then rejects with what `onAbort` makes). */
export function sleep(
  ms: number,
  clock: Clock,
  signal: AbortSignal | undefined,
  onAbort: () => Error,
): Promise<void> {
  if (signal?.aborted) return Promise.reject(onAbort());
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = () => {
      signal?.removeEventListener('abort', abort);
      resolve();
    };
    const timer = clock.setTimeout(done, ms);
    const abort = () => {
      clock.clearTimeout(timer);
      reject(onAbort());
    };
    signal?.addEventListener('abort', abort, { once: true });
  });
}
