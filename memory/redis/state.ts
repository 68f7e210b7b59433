// Actor and agent state in Redis: one string per state under a prefix, binary-safe (Buffers both ways).

import { Redis } from 'ioredis';
import { InvalidOptionsError, StateError, StateErrorCode, type StateStore } from '../../runtime/index.js';
import { assertStateKey, assertStateValue, withDeadline } from '../../runtime/internal.js';
import { type PersistenceFromOptions, persistenceFrom, type StatePersistence } from '../state.js';

/** Options of {@link redisStateStore}. */
export interface RedisStateStoreOptions {
  /** A Redis URL (the store opens and closes its own client) or a client the caller owns. */
  redis: string | Redis;
  /** Prefix of every key. @defaultValue `troupe:state:` */
  prefix?: string;
  /** The largest value a save takes (Redis itself takes up to 512 MB). @defaultValue 64 MiB */
  maxValueBytes?: number;
  /** Deadline of each operation; past it the operation rejects with `STATE_UNAVAILABLE`. @defaultValue 5000 */
  opTimeoutMs?: number;
}

export const DEFAULT_REDIS_STATE_PREFIX = 'troupe:state:';
const DEFAULT_MAX_VALUE_BYTES = 64 * 1024 * 1024;

/** `*`, `?`, `[`, `]` and `\` are glob syntax to SCAN MATCH: escaped, a prefix matches only itself. */
const globEscape = (text: string): string => text.replace(/[*?[\]\\]/g, '\\$&');

class RedisStateStore implements StateStore {
  readonly kind = 'redis';
  readonly maxValueBytes: number;
  readonly #client: Redis;
  readonly #owned: boolean;
  readonly #prefix: string;
  readonly #timeoutMs: number;
  #closed = false;

  constructor(client: Redis, owned: boolean, prefix: string, maxValueBytes: number, timeoutMs: number) {
    this.#client = client;
    this.#owned = owned;
    this.#prefix = prefix;
    this.maxValueBytes = maxValueBytes;
    this.#timeoutMs = timeoutMs;
  }

  save(key: string, value: Uint8Array): Promise<void> {
    return this.#op(key, 'save', async (r, k) => {
      assertStateValue(key, value, this.maxValueBytes);
      await r.set(k, Buffer.from(value.buffer, value.byteOffset, value.byteLength));
    });
  }

  get(key: string): Promise<Uint8Array | undefined> {
    return this.#op(key, 'get', async (r, k) => {
      const value = await r.getBuffer(k);
      return value === null ? undefined : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    });
  }

  delete(key: string): Promise<boolean> {
    return this.#op(key, 'delete', async (r, k) => (await r.del(k)) > 0);
  }

  exists(key: string): Promise<boolean> {
    return this.#op(key, 'exists', async (r, k) => (await r.exists(k)) > 0);
  }

  list(prefix = ''): Promise<string[]> {
    return this.#op(
      prefix,
      'list',
      async (r, full) => {
        const keys = new Set<string>();
        let cursor = '0';
        do {
          const [next, batch] = await r.scan(cursor, 'MATCH', `${globEscape(full)}*`, 'COUNT', 1000);
          for (const k of batch) keys.add(k.slice(this.#prefix.length));
          cursor = next;
        } while (cursor !== '0');
        return [...keys].sort();
      },
      () => {},
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#owned) this.#client.disconnect();
  }

  async #op<T>(
    key: string,
    what: string,
    fn: (client: Redis, key: string) => Promise<T>,
    check: (key: string) => void = assertStateKey,
  ): Promise<T> {
    if (this.#closed) throw new StateError(StateErrorCode.Closed, 'the state store is closed');
    check(key);
    // A client of the store's own has ioredis's commandTimeout: no second timer per operation on the hot path.
    if (this.#owned) {
      try {
        return await fn(this.#client, this.#prefix + key);
      } catch (err) {
        throw this.#wrap(err, what, key);
      }
    }
    try {
      return await withDeadline(
        fn(this.#client, this.#prefix + key),
        this.#timeoutMs,
        () =>
          new StateError(
            StateErrorCode.Unavailable,
            `Redis ${what} of ${key} got no answer in ${this.#timeoutMs} ms`,
          ),
      );
    } catch (err) {
      throw this.#wrap(err, what, key);
    }
  }

  #wrap(err: unknown, what: string, key: string): StateError {
    if (err instanceof StateError) return err;
    const timedOut = (err as Error).message === 'Command timed out';
    return new StateError(
      StateErrorCode.Unavailable,
      timedOut
        ? `Redis ${what} of ${key} got no answer in ${this.#timeoutMs} ms`
        : `Redis ${what} of ${key} failed: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

/**
 * A {@link StateStore} in Redis. A client it opens fails commands at once while Redis is away (no offline
 * queue: `STATE_UNAVAILABLE`, not a wait) and reconnects on its own.
 *
 * @example
 * const store = await redisStateStore({ redis: 'redis://127.0.0.1:6379' });
 */
export async function redisStateStore(options: RedisStateStoreOptions): Promise<StateStore> {
  if (typeof options !== 'object' || options === null)
    throw new InvalidOptionsError('options', 'expected an object');
  const prefix = options.prefix ?? DEFAULT_REDIS_STATE_PREFIX;
  const maxValueBytes = options.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES;
  if (!(Number.isInteger(maxValueBytes) && maxValueBytes > 0 && maxValueBytes <= 512 * 1024 * 1024))
    throw new InvalidOptionsError('maxValueBytes', 'expected a positive integer up to 512 MiB');
  const timeoutMs = options.opTimeoutMs ?? 5000;
  if (!(timeoutMs > 0)) throw new InvalidOptionsError('opTimeoutMs', 'expected a positive number');
  if (typeof options.redis !== 'string')
    return new RedisStateStore(options.redis, false, prefix, maxValueBytes, timeoutMs);
  const client = new Redis(options.redis, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: timeoutMs,
    retryStrategy: () => 200,
  });
  // Connection errors surface as rejected operations; the event would otherwise be printed as unhandled.
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    client.disconnect();
    throw new StateError(
      StateErrorCode.Unavailable,
      `Redis at ${options.redis} is not reachable: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  return new RedisStateStore(client, true, prefix, maxValueBytes, timeoutMs);
}

/** The Persistence hook of actors and agents in Redis: {@link persistenceFrom} over a {@link redisStateStore}. */
export async function redisPersistence<S = unknown>(
  options: RedisStateStoreOptions & PersistenceFromOptions<S>,
): Promise<StatePersistence<S>> {
  return persistenceFrom<S>(await redisStateStore(options), options);
}
