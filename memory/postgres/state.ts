// Actor and agent state in PostgreSQL: one row per state (key, value bytea, updated_at), written by upsert.

import pg from 'pg';
import { InvalidOptionsError, StateError, StateErrorCode, type StateStore } from '../../runtime/index.js';
import { assertStateKey, assertStateValue, withDeadline } from '../../runtime/internal.js';
import { type PersistenceFromOptions, persistenceFrom, type StatePersistence } from '../state.js';

/** Options of {@link postgresStateStore}: give `url` or `pool`. */
export interface PostgresStateStoreOptions {
  /** A connection string, e.g. `postgres://postgres@127.0.0.1:5432/postgres`: the store opens its own pool. */
  url?: string;
  /** A pool the caller owns (and ends). */
  pool?: pg.Pool;
  /** The table (created when missing). @defaultValue `troupe_state` */
  table?: string;
  /** The largest value a save takes (a bytea holds up to 1 GB). @defaultValue 64 MiB */
  maxValueBytes?: number;
  /** Deadline of each operation; past it the operation rejects with `STATE_UNAVAILABLE`. @defaultValue 5000 */
  opTimeoutMs?: number;
}

export const DEFAULT_POSTGRES_STATE_TABLE = 'troupe_state';
const DEFAULT_MAX_VALUE_BYTES = 64 * 1024 * 1024;
const TABLE = /^[a-zA-Z_][a-zA-Z0-9_]{0,62}$/;

class PostgresStateStore implements StateStore {
  readonly kind = 'postgres';
  readonly maxValueBytes: number;
  readonly #pool: pg.Pool;
  readonly #owned: boolean;
  readonly #table: string;
  readonly #timeoutMs: number;
  #closed = false;

  constructor(pool: pg.Pool, owned: boolean, table: string, maxValueBytes: number, timeoutMs: number) {
    this.#pool = pool;
    this.#owned = owned;
    this.#table = `"${table}"`;
    this.maxValueBytes = maxValueBytes;
    this.#timeoutMs = timeoutMs;
  }

  ensureTable(): Promise<void> {
    return this.#op('-', 'create table', async (p) => {
      try {
        await p.query(
          `CREATE TABLE IF NOT EXISTS ${this.#table} (key text PRIMARY KEY, value bytea NOT NULL, ` +
            'updated_at timestamptz NOT NULL DEFAULT now())',
        );
      } catch (err) {
        // Two stores creating the table at once: the loser sees a duplicate, and the table is there.
        const code = (err as { code?: string }).code;
        if (code !== '23505' && code !== '42P07') throw err;
      }
    });
  }

  save(key: string, value: Uint8Array): Promise<void> {
    return this.#op(key, 'save', async (p) => {
      assertStateValue(key, value, this.maxValueBytes);
      await p.query(
        `INSERT INTO ${this.#table} (key, value, updated_at) VALUES ($1, $2, now()) ` +
          'ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at',
        [key, Buffer.from(value.buffer, value.byteOffset, value.byteLength)],
      );
    });
  }

  get(key: string): Promise<Uint8Array | undefined> {
    return this.#op(key, 'get', async (p) => {
      const result = await p.query<{ value: Buffer }>(`SELECT value FROM ${this.#table} WHERE key = $1`, [
        key,
      ]);
      const value = result.rows[0]?.value;
      return value === undefined
        ? undefined
        : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    });
  }

  delete(key: string): Promise<boolean> {
    return this.#op(key, 'delete', async (p) => {
      const result = await p.query(`DELETE FROM ${this.#table} WHERE key = $1`, [key]);
      return (result.rowCount ?? 0) > 0;
    });
  }

  exists(key: string): Promise<boolean> {
    return this.#op(key, 'exists', async (p) => {
      const result = await p.query(`SELECT 1 FROM ${this.#table} WHERE key = $1`, [key]);
      return result.rows.length > 0;
    });
  }

  list(prefix = ''): Promise<string[]> {
    return this.#op(
      prefix,
      'list',
      async (p) => {
        const result = await p.query<{ key: string }>(
          `SELECT key FROM ${this.#table} WHERE starts_with(key, $1)`,
          [prefix],
        );
        // Sorted here, as every store sorts (JavaScript's order, not the database collation's).
        return result.rows.map((r) => r.key).sort();
      },
      () => {},
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#owned) await this.#pool.end();
  }

  async #op<T>(
    key: string,
    what: string,
    fn: (pool: pg.Pool) => Promise<T>,
    check: (key: string) => void = assertStateKey,
  ): Promise<T> {
    if (this.#closed) throw new StateError(StateErrorCode.Closed, 'the state store is closed');
    check(key);
    // A pool of the store's own has pg's query_timeout: no second timer per operation on the hot path.
    if (this.#owned) {
      try {
        return await fn(this.#pool);
      } catch (err) {
        throw this.#wrap(err, what, key);
      }
    }
    try {
      return await withDeadline(
        fn(this.#pool),
        this.#timeoutMs,
        () =>
          new StateError(
            StateErrorCode.Unavailable,
            `PostgreSQL ${what} of ${key} got no answer in ${this.#timeoutMs} ms`,
          ),
      );
    } catch (err) {
      throw this.#wrap(err, what, key);
    }
  }

  #wrap(err: unknown, what: string, key: string): StateError {
    if (err instanceof StateError) return err;
    const sqlstate = (err as { code?: unknown }).code;
    return new StateError(
      StateErrorCode.Unavailable,
      `PostgreSQL ${what} of ${key} failed: ${(err as Error).message}`,
      { cause: err, data: { sqlstate } },
    );
  }
}

/**
 * A {@link StateStore} in a PostgreSQL table. While the server is away operations reject with
 * `STATE_UNAVAILABLE`; the pool reconnects on its own when it is back.
 *
 * @example
 * const store = await postgresStateStore({ url: 'postgres://postgres@127.0.0.1:5432/postgres' });
 */
export async function postgresStateStore(options: PostgresStateStoreOptions): Promise<StateStore> {
  if (typeof options !== 'object' || options === null)
    throw new InvalidOptionsError('options', 'expected an object');
  if ((options.url === undefined) === (options.pool === undefined))
    throw new InvalidOptionsError('url', 'give exactly one of url or pool');
  const table = options.table ?? DEFAULT_POSTGRES_STATE_TABLE;
  if (!TABLE.test(table))
    throw new InvalidOptionsError('table', 'expected [a-zA-Z_][a-zA-Z0-9_]*, at most 63 long');
  const maxValueBytes = options.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES;
  if (!(Number.isInteger(maxValueBytes) && maxValueBytes > 0 && maxValueBytes <= 1024 * 1024 * 1024))
    throw new InvalidOptionsError('maxValueBytes', 'expected a positive integer up to 1 GiB');
  const timeoutMs = options.opTimeoutMs ?? 5000;
  if (!(timeoutMs > 0)) throw new InvalidOptionsError('opTimeoutMs', 'expected a positive number');
  const owned = options.pool === undefined;
  const pool =
    options.pool ??
    new pg.Pool({
      connectionString: options.url,
      max: 10,
      connectionTimeoutMillis: timeoutMs,
      query_timeout: timeoutMs,
    });
  // An idle client whose server went away emits 'error' on the pool: the next query reconnects instead.
  if (owned) pool.on('error', () => {});
  const store = new PostgresStateStore(pool, owned, table, maxValueBytes, timeoutMs);
  try {
    await store.ensureTable();
  } catch (err) {
    if (owned) await pool.end().catch(() => {});
    throw err;
  }
  return store;
}

/** The Persistence hook of actors and agents in PostgreSQL: {@link persistenceFrom} over a {@link postgresStateStore}. */
export async function postgresPersistence<S = unknown>(
  options: PostgresStateStoreOptions & PersistenceFromOptions<S>,
): Promise<StatePersistence<S>> {
  return persistenceFrom<S>(await postgresStateStore(options), options);
}
