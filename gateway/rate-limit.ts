// Per-credential request limits: a token bucket for each authenticated subject, so one caller's flood is
// answered 429 before it reaches the fleet, while every other caller goes on. Buckets live in this instance
// (a fleet of N gateways admits up to N times the rate); a subject's bucket is dropped once full again.

import { type Clock, InvalidOptionsError } from '../runtime/index.js';

/** Options of the gateway's `rateLimit`. */
export interface RateLimitOptions {
  /** Requests per second each credential (subject) may make, on average. */
  perSecond: number;
  /** Requests a credential may make at once after a quiet spell. @defaultValue `perSecond` (at least 1) */
  burst?: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** At most this many subjects are tracked: past it, the fullest (longest quiet) buckets are dropped first. */
const MAX_SUBJECTS = 10_000;

/** Token buckets by subject, refilled lazily on the clock. */
export class RateLimiter {
  readonly #perMs: number;
  readonly #burst: number;
  readonly #clock: Clock;
  readonly #buckets = new Map<string, Bucket>();

  constructor(options: RateLimitOptions, clock: Clock) {
    const { perSecond, burst } = options;
    if (typeof perSecond !== 'number' || !Number.isFinite(perSecond) || perSecond <= 0)
      throw new InvalidOptionsError('rateLimit.perSecond', 'expected a positive number');
    if (burst !== undefined && !(Number.isInteger(burst) && burst >= 1))
      throw new InvalidOptionsError('rateLimit.burst', 'expected an integer of at least 1');
    this.#perMs = perSecond / 1000;
    this.#burst = burst ?? Math.max(1, Math.floor(perSecond));
    this.#clock = clock;
  }

  /** Takes one request from `subject`'s bucket: 0 when admitted, else the ms until one would be. */
  take(subject: string): number {
    const now = this.#clock.now();
    let bucket = this.#buckets.get(subject);
    if (bucket === undefined) {
      if (this.#buckets.size >= MAX_SUBJECTS) this.#prune(now);
      bucket = { tokens: this.#burst, at: now };
    } else {
      bucket.tokens = Math.min(this.#burst, bucket.tokens + (now - bucket.at) * this.#perMs);
      bucket.at = now;
      // Re-inserted at the back: the Map's first entries are the longest quiet.
      this.#buckets.delete(subject);
    }
    this.#buckets.set(subject, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - bucket.tokens) / this.#perMs);
  }

  /** Drops buckets that are full again (their subject is as if never seen), else the longest quiet. */
  #prune(now: number): void {
    for (const [subject, b] of this.#buckets) {
      if (b.tokens + (now - b.at) * this.#perMs >= this.#burst) this.#buckets.delete(subject);
    }
    if (this.#buckets.size < MAX_SUBJECTS) return;
    const first = this.#buckets.keys().next();
    if (first.done !== true) this.#buckets.delete(first.value);
  }
}
