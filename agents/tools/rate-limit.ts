// Token buckets in a KeyValueStore, taken with compare-and-set: every node of a fleet that shares the store
// (NATS KV, say) draws from the same bucket, so a limit of N calls holds across the fleet, not per node.

import { InvalidOptionsError, type KeyValueStore, KvErrorCode, TroupeError } from '../../runtime/index.js';

/** A token bucket: `capacity` calls at once, refilled at `refillPerSec` tokens per second. */
export interface RateLimit {
  capacity: number;
  refillPerSec: number;
  /** One bucket for the tool (`tool`), or one per tool and tenant (`tenant`). @defaultValue 'tool' */
  scope?: 'tool' | 'tenant';
}

/** What taking a token came to. */
export type TakeResult = { readonly ok: true } | { readonly ok: false; readonly retryAfterMs: number };

/** Compare-and-set rounds one take tries under contention before it counts as limited. */
const MAX_ROUNDS = 64;
const TAKEN: TakeResult = { ok: true };

/** @internal Checks a rate limit; `where` names it in errors. */
export function rateLimitOption(limit: RateLimit, where: string): Readonly<Required<RateLimit>> {
  if (typeof limit !== 'object' || limit === null)
    throw new InvalidOptionsError('rateLimit', `${where}: expected { capacity, refillPerSec }`);
  const { capacity, refillPerSec, scope = 'tool' } = limit;
  if (!(Number.isFinite(capacity) && capacity >= 1))
    throw new InvalidOptionsError('rateLimit.capacity', `${where}: expected a number >= 1`);
  if (!(Number.isFinite(refillPerSec) && refillPerSec >= 0))
    throw new InvalidOptionsError('rateLimit.refillPerSec', `${where}: expected a number >= 0`);
  if (scope !== 'tool' && scope !== 'tenant')
    throw new InvalidOptionsError('rateLimit.scope', `${where}: expected 'tool' or 'tenant'`);
  return Object.freeze({ capacity, refillPerSec, scope });
}

/** The stored state of a bucket: tokens left `t` as of `a` (epoch ms). */
interface BucketState {
  t: number;
  a: number;
}

function parse(value: string): BucketState | undefined {
  try {
    const s = JSON.parse(value) as Partial<BucketState>;
    return typeof s.t === 'number' && typeof s.a === 'number' ? (s as BucketState) : undefined;
  } catch {
    return undefined;
  }
}

const isConflict = (err: unknown): boolean =>
  TroupeError.is(err, KvErrorCode.RevisionMismatch) || TroupeError.is(err, KvErrorCode.Exists);

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The buckets of one store. A take reads the bucket, refills it for the time passed, and writes it back one
 * token lighter only if no one wrote in between (else it reads again). Time is each node's wall clock; a clock
 * behind the bucket's last write refills nothing rather than going back.
 */
export class TokenBuckets {
  readonly #kv: KeyValueStore;
  readonly #now: () => number;

  constructor(kv: KeyValueStore, now: () => number = Date.now) {
    this.#kv = kv;
    this.#now = now;
  }

  /**
   * Takes one token from the bucket at `key`, or says when one is back. Rejects only when the store does
   * (`KV_UNAVAILABLE`); contention that outlasts every round counts as limited.
   */
  async take(key: string, limit: { capacity: number; refillPerSec: number }): Promise<TakeResult> {
    const { capacity, refillPerSec } = limit;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const entry = await this.#kv.get(key);
      const now = this.#now();
      const state = entry === undefined ? undefined : parse(entry.value);
      let tokens = capacity;
      let at = now;
      if (state !== undefined) {
        at = Math.max(now, state.a);
        tokens = Math.min(capacity, state.t + (Math.max(0, now - state.a) / 1000) * refillPerSec);
      }
      if (tokens < 1) {
        const retryAfterMs =
          refillPerSec > 0 ? Math.ceil(((1 - tokens) / refillPerSec) * 1000) : Number.MAX_SAFE_INTEGER;
        return { ok: false, retryAfterMs };
      }
      const next = JSON.stringify({ t: tokens - 1, a: at });
      try {
        if (entry === undefined) await this.#kv.create(key, next);
        else await this.#kv.update(key, next, entry.revision);
        return TAKEN;
      } catch (err) {
        if (!isConflict(err)) throw err;
      }
      // Someone took a token first: read again after a short random pause, so racing nodes spread out.
      await pause(Math.random() * Math.min(2 + round, 20));
    }
    return { ok: false, retryAfterMs: 1 };
  }
}
