// The data points' TTL cache over a KeyValueStore (natsKeyValue: one cache for the fleet). Each value carries its
// own expiry, since the store has no per-key TTL; concurrent fetches of one key in a process share one call.

import { createHash } from 'node:crypto';
import {
  type Clock,
  InvalidOptionsError,
  type KeyValueStore,
  kvToken,
  memoryKeyValue,
  systemClock,
} from '../../runtime/index.js';

/** Options of {@link enrichmentCache}. */
export interface EnrichmentCacheOptions {
  /** Where values live: `natsKeyValue()` to share them across the fleet. @defaultValue an in-process store */
  store?: KeyValueStore;
  /** Prefix of the cache's keys in `store` (dot-separated tokens). @defaultValue `enrich` */
  prefix?: string;
  /** Decides expiry. @defaultValue the system clock */
  clock?: Clock;
}

/** What the cache did so far, in this process. */
export interface EnrichmentCacheStats {
  /** Served from the store within the TTL. */
  hits: number;
  /** Fetched: not in the store, expired, unreadable, or the data point is not cached (`ttlMs` 0). */
  misses: number;
  /** Of the misses, values found in the store past their expiry. */
  expired: number;
  /** Waited on a fetch of the same key already running in this process, instead of fetching again. */
  shared: number;
  /** Store reads or writes that failed (the fetch went ahead: a cache never fails a run). */
  errors: number;
}

interface Stored {
  readonly expiresAt: number;
  readonly value: unknown;
}

const PREFIX = /^[-_=/a-zA-Z0-9]+(\.[-_=/a-zA-Z0-9]+)*$/;

/**
 * A TTL cache of fetched data points. `fetch` returns the stored value while it is fresh, or runs the fetch,
 * stores its value with its expiry and returns it. A failed fetch stores nothing.
 */
export class EnrichmentCache {
  readonly #store: KeyValueStore;
  readonly #ownsStore: boolean;
  readonly #prefix: string;
  readonly #clock: Clock;
  readonly #inflight = new Map<string, Promise<unknown>>();
  #closed = false;
  readonly #stats: EnrichmentCacheStats = { hits: 0, misses: 0, expired: 0, shared: 0, errors: 0 };

  constructor(options: EnrichmentCacheOptions = {}) {
    if (typeof options !== 'object' || options === null)
      throw new InvalidOptionsError('options', 'expected an object');
    const prefix = options.prefix ?? 'enrich';
    if (typeof prefix !== 'string' || !PREFIX.test(prefix))
      throw new InvalidOptionsError('prefix', 'expected dot-separated [-_=/a-zA-Z0-9] tokens');
    if (options.store !== undefined && typeof options.store?.get !== 'function')
      throw new InvalidOptionsError('store', 'expected a KeyValueStore');
    this.#ownsStore = options.store === undefined;
    this.#store = options.store ?? memoryKeyValue();
    this.#prefix = prefix;
    this.#clock = options.clock ?? systemClock;
  }

  /** A copy of the counters. */
  get stats(): EnrichmentCacheStats {
    return { ...this.#stats };
  }

  /** The store key of data point `point` under cache key `key` (hashed: keys may be any text). */
  keyOf(point: string, key: string): string {
    return `${this.#prefix}.${kvToken(point)}.${createHash('sha256').update(key).digest('base64url')}`;
  }

  /** The fresh value of `point`/`key`, else `fetch()`'s (stored for `ttlMs`; 0 neither reads nor stores). */
  async fetch(point: string, key: string, ttlMs: number, fetch: () => Promise<unknown>): Promise<unknown> {
    if (ttlMs <= 0) {
      this.#stats.misses++;
      return fetch();
    }
    const storeKey = this.keyOf(point, key);
    const running = this.#inflight.get(storeKey);
    if (running !== undefined) {
      this.#stats.shared++;
      return running;
    }
    const work = this.#readThrough(storeKey, ttlMs, fetch);
    this.#inflight.set(storeKey, work);
    try {
      return await work;
    } finally {
      this.#inflight.delete(storeKey);
    }
  }

  /** Drops the cached value of `point`/`key` (a source known to have changed). */
  async invalidate(point: string, key: string): Promise<void> {
    await this.#store.delete(this.keyOf(point, key));
  }

  /** Closes the store if the cache made it. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ownsStore) await this.#store.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #readThrough(storeKey: string, ttlMs: number, fetch: () => Promise<unknown>): Promise<unknown> {
    const cached = await this.#read(storeKey);
    if (cached !== undefined) {
      if (cached.expiresAt > this.#clock.now()) {
        this.#stats.hits++;
        return cached.value;
      }
      this.#stats.expired++;
    }
    this.#stats.misses++;
    const value = await fetch();
    const text = JSON.stringify({ expiresAt: this.#clock.now() + ttlMs, value } satisfies Stored);
    // A value that could not be stored is fetched again next time; the run goes on with it now.
    await this.#store.put(storeKey, text).catch(() => {
      this.#stats.errors++;
    });
    return value;
  }

  async #read(storeKey: string): Promise<Stored | undefined> {
    try {
      const entry = await this.#store.get(storeKey);
      if (entry === undefined) return undefined;
      const stored = JSON.parse(entry.value) as Stored;
      return typeof stored?.expiresAt === 'number' ? stored : undefined;
    } catch {
      this.#stats.errors++;
      return undefined;
    }
  }
}

/**
 * A TTL cache for data points, shared by every graph (and, on `natsKeyValue`, every node) given it.
 *
 * @example
 * const cache = enrichmentCache({ store: await natsKeyValue({ transport, bucket: 'enrich' }) });
 */
export function enrichmentCache(options: EnrichmentCacheOptions = {}): EnrichmentCache {
  return new EnrichmentCache(options);
}
