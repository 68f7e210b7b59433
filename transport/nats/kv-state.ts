// A StateStore in a NATS KV bucket: the same keys and bytes natsKvPersistence writes (base64url addresses), so
// states saved by either are read by both and `troupe state migrate --from kv` sees every actor's state.

import { jetstreamManager } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import type { NatsConnection, NodeConnectionOptions } from '@nats-io/transport-node';
import { Packr } from 'msgpackr';
import {
  InvalidOptionsError,
  type StateCodec,
  StateError,
  StateErrorCode,
  type StateStore,
  type Transport,
} from '../../runtime/index.js';
import {
  assertOptionsObject,
  assertStateKey,
  assertStateValue,
  assertValidName,
  withDeadline,
} from '../../runtime/internal.js';
import { connectionSource } from './connection-source.js';
import type { NatsAuthOptions } from './options.js';
import { DEFAULT_STATE_BUCKET } from './subjects.js';

/** Options of {@link natsKvStateStore}: give exactly one of `transport`, `servers` or `connection`. */
export interface NatsKvStateStoreOptions {
  transport?: Transport | undefined;
  /** Server URL(s): opens a connection of its own, closed by `close()`. */
  servers?: string | string[];
  connectOptions?: Partial<NodeConnectionOptions>;
  /** Credentials and TLS for `servers` (see NatsAuthOptions); `connectOptions` wins over it. */
  auth?: NatsAuthOptions | undefined;
  /** A connection the caller owns and closes. */
  connection?: NatsConnection;
  /** @defaultValue `troupe-state`, natsKvPersistence's bucket (created when missing) */
  bucket?: string;
  /** @defaultValue 1 */
  replicas?: number;
  /** Deadline of each operation; past it the operation rejects with `STATE_UNAVAILABLE`. @defaultValue 3000 */
  opTimeoutMs?: number;
}

/** Room left in a message for the KV headers under the server's max_payload. */
const HEADER_ROOM = 1024;
const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

const keyOf = (key: string): string => Buffer.from(key).toString('base64url');
const keyFrom = (token: string): string => Buffer.from(token, 'base64url').toString();

class NatsKvStateStore implements StateStore {
  readonly kind = 'kv';
  readonly #current: () => NatsConnection | undefined;
  readonly #owned: NatsConnection | undefined;
  readonly #bucket: string;
  readonly #replicas: number;
  readonly #timeoutMs: number;
  #opening: Promise<KV> | undefined;
  #closed = false;

  constructor(
    connection: { current: () => NatsConnection | undefined; owned: NatsConnection | undefined },
    bucket: string,
    replicas: number,
    timeoutMs: number,
  ) {
    this.#current = connection.current;
    this.#owned = connection.owned;
    this.#bucket = bucket;
    this.#replicas = replicas;
    this.#timeoutMs = timeoutMs;
  }

  /** What one message may carry on this server, less the KV headers. */
  get maxValueBytes(): number {
    return (this.#current()?.info?.max_payload ?? DEFAULT_MAX_PAYLOAD) - HEADER_ROOM;
  }

  kv(): Promise<KV> {
    if (this.#opening !== undefined) return this.#opening;
    const nc = this.#current();
    if (nc === undefined)
      return Promise.reject(
        new StateError(StateErrorCode.Unavailable, 'the NATS transport is not connected yet'),
      );
    const open = new Kvm(nc).create(this.#bucket, { replicas: this.#replicas, history: 1 });
    this.#opening = open;
    open.catch(() => {
      if (this.#opening === open) this.#opening = undefined;
    });
    return open;
  }

  save(key: string, value: Uint8Array): Promise<void> {
    return this.#op(key, 'save', async (kv, k) => {
      assertStateValue(key, value, this.maxValueBytes);
      await kv.put(k, value);
    });
  }

  get(key: string): Promise<Uint8Array | undefined> {
    return this.#op(key, 'get', async (kv, k) => {
      const entry = await kv.get(k);
      if (entry?.operation !== 'PUT') return undefined;
      // A plain Uint8Array over the client's Buffer, as every store returns.
      const v = entry.value;
      return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    });
  }

  delete(key: string): Promise<boolean> {
    return this.#op(key, 'delete', async (kv, k) => {
      const entry = await kv.get(k);
      if (entry?.operation !== 'PUT') return false;
      await kv.delete(k);
      return true;
    });
  }

  exists(key: string): Promise<boolean> {
    return this.#op(key, 'exists', async (kv, k) => (await kv.get(k))?.operation === 'PUT');
  }

  list(prefix = ''): Promise<string[]> {
    return this.#op(
      prefix,
      'list',
      async (kv) => {
        // The stream's subjects, not kv.keys() (its consumer can hang on a key a concurrent write replaced).
        // Keys are base64url: a text prefix is no token prefix, so every key is read and filtered here.
        const nc = this.#current();
        if (nc === undefined) throw new StateError(StateErrorCode.Unavailable, 'NATS is not connected');
        const jsm = await jetstreamManager(nc, { checkAPI: false });
        const base = `$KV.${this.#bucket}.`;
        const info = await jsm.streams.info(`KV_${this.#bucket}`, { subjects_filter: `${base}>` });
        const tokens = Object.keys(info.state.subjects ?? {}).map((s) => s.slice(base.length));
        const candidates = tokens.filter((t) => keyFrom(t).startsWith(prefix));
        // A deleted key keeps a delete marker as its subject's last message: only keys with a value count.
        const entries = await Promise.all(candidates.map((t) => kv.get(t)));
        return candidates
          .filter((_, i) => entries[i]?.operation === 'PUT')
          .map(keyFrom)
          .sort();
      },
      () => {},
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#owned?.close();
  }

  async #op<T>(
    key: string,
    what: string,
    fn: (kv: KV, token: string) => Promise<T>,
    check: (key: string) => void = assertStateKey,
  ): Promise<T> {
    if (this.#closed) throw new StateError(StateErrorCode.Closed, 'the state store is closed');
    check(key);
    if (this.#current()?.isClosed())
      throw new StateError(StateErrorCode.Unavailable, 'the NATS connection is closed');
    try {
      return await withDeadline(
        this.kv().then((kv) => fn(kv, keyOf(key))),
        this.#timeoutMs,
        () =>
          new StateError(
            StateErrorCode.Unavailable,
            `NATS KV ${what} of ${key} got no answer in ${this.#timeoutMs} ms`,
          ),
      );
    } catch (err) {
      if (err instanceof StateError) throw err;
      throw new StateError(
        StateErrorCode.Unavailable,
        `NATS KV ${what} of ${key} failed: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }
}

/**
 * A {@link StateStore} in NATS KV (JetStream): the bucket and key layout of natsKvPersistence, so both read each
 * other's states. Wrap it with `persistenceFrom` (troupe/memory) for an actor's `persistence`.
 *
 * @example
 * const store = await natsKvStateStore({ servers: 'nats://127.0.0.1:4222' });
 */
export async function natsKvStateStore(options: NatsKvStateStoreOptions): Promise<StateStore> {
  assertOptionsObject(options, 'options');
  const bucket = options.bucket ?? DEFAULT_STATE_BUCKET;
  assertValidName(bucket, 'bucket');
  const replicas = options.replicas ?? 1;
  if (!Number.isInteger(replicas) || replicas < 1)
    throw new InvalidOptionsError('replicas', 'expected a positive integer');
  const timeoutMs = options.opTimeoutMs ?? 3000;
  if (!(timeoutMs > 0)) throw new InvalidOptionsError('opTimeoutMs', 'expected a positive number');
  const connection = await connectionSource(options, 'troupe:kv-state');
  const store = new NatsKvStateStore(connection, bucket, replicas, timeoutMs);
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

/**
 * The msgpack codec natsKvPersistence writes with: `persistenceFrom(store, { codec: msgpackStateCodec() })` reads
 * the states it saved, also after `troupe state migrate` moved them to another backend.
 */
export function msgpackStateCodec<S = unknown>(): StateCodec<S> {
  const packr = new Packr({ useRecords: false, mapsAsObjects: true });
  return { encode: (state) => packr.pack(state), decode: (bytes) => packr.unpack(bytes) as S };
}
