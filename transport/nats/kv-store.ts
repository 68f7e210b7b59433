// A KeyValueStore on NATS KV: fleet-shared model breakers, budgets and caches. Every operation has a deadline,
// so a NATS outage rejects with KV_UNAVAILABLE instead of hanging the model call that waits on it.

import { JetStreamApiCodes, JetStreamApiError, jetstreamManager } from '@nats-io/jetstream';
import { type KV, Kvm, type KvEntry as NatsKvEntry } from '@nats-io/kv';
import type { NatsConnection, NodeConnectionOptions } from '@nats-io/transport-node';
import {
  InvalidOptionsError,
  KeyValueError,
  type KeyValueStore,
  type KvEntry,
  KvErrorCode,
  type Transport,
} from '../../runtime/index.js';
import { assertKvKey, assertOptionsObject, assertValidName, withDeadline } from '../../runtime/internal.js';
import { connectionSource } from './connection-source.js';
import type { NatsAuthOptions } from './options.js';

/** Default bucket of {@link natsKeyValue}. */
export const DEFAULT_SHARED_BUCKET = 'troupe-shared';
/** Default deadline of one operation. */
export const DEFAULT_KV_OP_TIMEOUT_MS = 2000;

/** Options of {@link natsKeyValue}: give exactly one of `transport`, `servers` or `connection`. */
export interface NatsKeyValueOptions {
  /** A NATS transport (`system.transport`): the store shares its connection. */
  transport?: Transport | undefined;
  /** Server URL(s): opens a connection of its own, closed by `close()`. */
  servers?: string | string[];
  /** Extra options for `connect()` with `servers`; reconnects forever, 500 ms apart, by default. */
  connectOptions?: Partial<NodeConnectionOptions>;
  /** Credentials and TLS for `servers` (see NatsAuthOptions); `connectOptions` wins over it. */
  auth?: NatsAuthOptions | undefined;
  /** A connection the caller owns and closes. */
  connection?: NatsConnection;
  /** @defaultValue `troupe-shared` (created when missing) */
  bucket?: string;
  /** Prefixes every key with `<namespace>.`, so several fleets can share a bucket. */
  namespace?: string;
  /** Bucket replicas on a clustered NATS. @defaultValue 1 */
  replicas?: number;
  /** Deadline of each operation; past it the operation rejects with `KV_UNAVAILABLE`. @defaultValue 2000 */
  opTimeoutMs?: number;
  /**
   * Entries older than this are dropped by the server (the bucket's max age, set when it is created): old budget
   * windows and cache entries then clean themselves up. @defaultValue none: kept forever
   */
  maxAgeMs?: number;
}

const isWrongSequence = (err: unknown): boolean =>
  err instanceof JetStreamApiError &&
  (err.code === JetStreamApiCodes.StreamWrongLastSequence ||
    err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown);

const decoder = new TextDecoder();

class NatsKeyValue implements KeyValueStore {
  readonly #current: () => NatsConnection | undefined;
  readonly #owned: NatsConnection | undefined;
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #replicas: number;
  readonly #timeoutMs: number;
  readonly #maxAgeMs: number | undefined;
  readonly #watches = new Set<() => void>();
  #opening: Promise<KV> | undefined;
  #closed = false;

  constructor(
    connection: { current: () => NatsConnection | undefined; owned: NatsConnection | undefined },
    bucket: string,
    namespace: string | undefined,
    replicas: number,
    timeoutMs: number,
    maxAgeMs: number | undefined,
  ) {
    this.#maxAgeMs = maxAgeMs;
    this.#current = connection.current;
    this.#owned = connection.owned;
    this.#bucket = bucket;
    this.#prefix = namespace === undefined ? '' : `${namespace}.`;
    this.#replicas = replicas;
    this.#timeoutMs = timeoutMs;
  }

  /** Opens the bucket (once; a failed open is tried again by the next operation). */
  kv(): Promise<KV> {
    if (this.#opening !== undefined) return this.#opening;
    const nc = this.#current();
    if (nc === undefined)
      return Promise.reject(
        new KeyValueError(KvErrorCode.Unavailable, 'the NATS transport is not connected yet'),
      );
    const open = new Kvm(nc).create(this.#bucket, {
      replicas: this.#replicas,
      history: 1,
      ...(this.#maxAgeMs === undefined ? {} : { ttl: this.#maxAgeMs }),
    });
    this.#opening = open;
    open.catch(() => {
      if (this.#opening === open) this.#opening = undefined;
    });
    return open;
  }

  get(key: string): Promise<KvEntry | undefined> {
    return this.#op(key, 'get', async (kv, k) => {
      const entry = await kv.get(k);
      return entry === null || entry.operation !== 'PUT' ? undefined : toEntry(entry);
    });
  }

  create(key: string, value: string): Promise<number> {
    return this.#op(key, 'create', async (kv, k) => {
      try {
        return await kv.create(k, value);
      } catch (err) {
        if (isWrongSequence(err)) throw new KeyValueError(KvErrorCode.Exists, `key ${key} exists`);
        throw err;
      }
    });
  }

  update(key: string, value: string, revision: number): Promise<number> {
    return this.#op(key, 'update', async (kv, k) => {
      try {
        // Revision 0 means "absent": NATS's update refuses it, create is the same condition.
        return revision === 0 ? await kv.create(k, value) : await kv.update(k, value, revision);
      } catch (err) {
        if (isWrongSequence(err))
          throw new KeyValueError(
            KvErrorCode.RevisionMismatch,
            `key ${key} changed since revision ${revision}`,
          );
        throw err;
      }
    });
  }

  put(key: string, value: string): Promise<number> {
    return this.#op(key, 'put', (kv, k) => kv.put(k, value));
  }

  delete(key: string): Promise<void> {
    return this.#op(key, 'delete', (kv, k) => kv.delete(k));
  }

  keys(prefix: string): Promise<string[]> {
    if (prefix !== '' && !prefix.endsWith('.'))
      return Promise.reject(
        new KeyValueError(KvErrorCode.InvalidKey, `keys prefix must be '' or end with '.': ${prefix}`),
      );
    const check = prefix === '' ? () => {} : () => assertKvKey(prefix.slice(0, -1));
    return this.#op(
      prefix,
      'keys',
      async (kv, full) => {
        // The stream's subjects, not kv.keys(): its consumer can wait for a message that a concurrent write to
        // the same key (history 1) removed, and hang until an idle heartbeat.
        const nc = this.#current();
        if (nc === undefined) throw new KeyValueError(KvErrorCode.Unavailable, 'NATS is not connected');
        const jsm = await jetstreamManager(nc, { checkAPI: false });
        const base = `$KV.${this.#bucket}.`;
        const info = await jsm.streams.info(`KV_${this.#bucket}`, { subjects_filter: `${base}${full}>` });
        const keys = Object.keys(info.state.subjects ?? {}).map((subject) => subject.slice(base.length));
        // A deleted key keeps a delete marker as its subject's last message: only keys with a value count.
        const entries = await Promise.all(keys.map((key) => kv.get(key)));
        return keys
          .filter((_, i) => entries[i]?.operation === 'PUT')
          .map((key) => key.slice(this.#prefix.length));
      },
      check,
    );
  }

  watch(prefix: string, onChange: (key: string, entry: KvEntry | undefined) => void): () => void {
    if (prefix !== '' && !prefix.endsWith('.'))
      throw new KeyValueError(KvErrorCode.InvalidKey, `watch prefix must be '' or end with '.': ${prefix}`);
    let stopped = false;
    let stopIterator: (() => void) | undefined;
    const full = this.#prefix + prefix;
    const run = async (): Promise<void> => {
      // The watch outlives outages: when its consumer dies, it is made again, and the current values replayed.
      while (!stopped && !this.#closed) {
        try {
          const iterator = await (await this.kv()).watch({ key: `${full}>` });
          stopIterator = () => iterator.stop();
          if (stopped) iterator.stop();
          for await (const e of iterator) {
            const key = e.key.slice(this.#prefix.length);
            onChange(key, e.operation === 'PUT' ? toEntry(e) : undefined);
          }
        } catch {
          // reopened below
        }
        if (!stopped && !this.#closed) await new Promise((r) => setTimeout(r, 500).unref());
      }
    };
    void run();
    const stop = () => {
      stopped = true;
      stopIterator?.();
      this.#watches.delete(stop);
    };
    this.#watches.add(stop);
    return stop;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const stop of [...this.#watches]) stop();
    await this.#owned?.close();
  }

  async #op<T>(
    key: string,
    what: string,
    fn: (kv: KV, key: string) => Promise<T>,
    check: (key: string) => void = assertKvKey,
  ): Promise<T> {
    if (this.#closed) throw new KeyValueError(KvErrorCode.Closed, 'the key-value store is closed');
    check(key);
    const nc = this.#current();
    if (nc?.isClosed()) throw new KeyValueError(KvErrorCode.Unavailable, 'the NATS connection is closed');
    try {
      return await withDeadline(
        this.kv().then((kv) => fn(kv, this.#prefix + key)),
        this.#timeoutMs,
        () =>
          new KeyValueError(
            KvErrorCode.Unavailable,
            `NATS KV ${what} of ${key} got no answer in ${this.#timeoutMs} ms`,
          ),
      );
    } catch (err) {
      if (err instanceof KeyValueError) throw err;
      throw new KeyValueError(
        KvErrorCode.Unavailable,
        `NATS KV ${what} of ${key} failed: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }
}

function toEntry(entry: NatsKvEntry): KvEntry {
  return { value: decoder.decode(entry.value), revision: entry.revision };
}

/**
 * A {@link KeyValueStore} in a NATS KV bucket, for state a fleet shares: the model router's breakers and
 * cooldowns, budget ledgers, response caches. Needs JetStream (`nats-server -js`).
 *
 * @example
 * const shared = await natsKeyValue({ servers: 'nats://127.0.0.1:4222', namespace: 'prod' });
 * const router = modelRouter({ groups, shared, budget: budgetLedger({ store: shared, limits }) });
 */
export async function natsKeyValue(options: NatsKeyValueOptions): Promise<KeyValueStore> {
  assertOptionsObject(options, 'options');
  const bucket = options.bucket ?? DEFAULT_SHARED_BUCKET;
  assertValidName(bucket, 'bucket');
  if (options.namespace !== undefined) assertKvKey(options.namespace);
  const replicas = options.replicas ?? 1;
  if (!Number.isInteger(replicas) || replicas < 1)
    throw new InvalidOptionsError('replicas', 'expected a positive integer');
  const timeoutMs = options.opTimeoutMs ?? DEFAULT_KV_OP_TIMEOUT_MS;
  if (!(timeoutMs > 0)) throw new InvalidOptionsError('opTimeoutMs', 'expected a positive number');
  if (options.maxAgeMs !== undefined && !(options.maxAgeMs > 0))
    throw new InvalidOptionsError('maxAgeMs', 'expected a positive number');
  const connection = await connectionSource(options, 'troupe:kv');
  const store = new NatsKeyValue(
    connection,
    bucket,
    options.namespace,
    replicas,
    timeoutMs,
    options.maxAgeMs,
  );
  if (connection.current() !== undefined) {
    try {
      await store.kv();
    } catch (err) {
      await connection.owned?.close();
      throw err;
    }
  }
  return store;
}
