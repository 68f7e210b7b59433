// The contract for actor and agent state stores: opaque bytes under string keys, on any backend (NATS KV,
// Redis, PostgreSQL). The runtime's Persistence hook is built from one (memory/state.ts `persistenceFrom`),
// and `troupe state migrate` copies one into another.

import { TroupeError } from '../core/errors.js';

/** Codes of {@link StateError}. */
export const StateErrorCode = {
  /** The backend did not answer or is not reachable (a restart, an outage): the operation may not have happened. */
  Unavailable: 'STATE_UNAVAILABLE',
  /** A value over the store's `maxValueBytes`. */
  TooLarge: 'STATE_TOO_LARGE',
  /** An empty key, or one with a NUL character. */
  InvalidKey: 'STATE_INVALID_KEY',
  /** The store was closed. */
  Closed: 'STATE_CLOSED',
  /** A stored value the codec cannot decode, or a state it cannot encode. */
  Codec: 'STATE_CODEC',
  /** A migration whose target does not hold what the source does (counts or checksums differ). */
  MigrationMismatch: 'STATE_MIGRATION_MISMATCH',
} as const;

export type StateErrorCode = (typeof StateErrorCode)[keyof typeof StateErrorCode];

export class StateError extends TroupeError {
  override readonly name = 'StateError';
  constructor(code: StateErrorCode, message: string, options: { cause?: unknown; data?: unknown } = {}) {
    super(code, message, options);
  }
}

/**
 * A store of states: binary-safe values under non-empty string keys. A save replaces the whole value (last
 * writer wins: concurrent saves to one key end with one of them). Every operation settles or rejects with a
 * {@link StateError} (`STATE_UNAVAILABLE` during an outage): it never hangs, and the store recovers on its own
 * when the backend is back.
 */
export interface StateStore {
  /** Which backend, for reports: 'kv', 'redis', 'postgres', 'memory'. */
  readonly kind: string;
  /** The largest value a save takes; larger ones reject with `STATE_TOO_LARGE`. */
  readonly maxValueBytes: number;
  save(key: string, value: Uint8Array): Promise<void>;
  get(key: string): Promise<Uint8Array | undefined>;
  /** Resolves true when it removed a value, false when there was none. */
  delete(key: string): Promise<boolean>;
  exists(key: string): Promise<boolean>;
  /** The keys starting with `prefix` (all keys by default), sorted. */
  list(prefix?: string): Promise<string[]>;
  /** Releases what the store opened itself (a client given by the caller stays open). */
  close(): Promise<void>;
}

/** Turns a state into bytes and back (JSON in troupe/memory, msgpack in troupe/transport). */
export interface StateCodec<S> {
  encode(state: S): Uint8Array;
  decode(bytes: Uint8Array): S;
}

/** @internal Throws `STATE_INVALID_KEY` unless `key` is a non-empty string. */
export function assertStateKey(key: string): void {
  // NUL is refused everywhere because PostgreSQL's text cannot hold it: a key valid on one backend is valid on all.
  if (typeof key !== 'string' || key.length === 0 || key.includes('\u0000'))
    throw new StateError(
      StateErrorCode.InvalidKey,
      `invalid state key ${JSON.stringify(key)}: a non-empty string without NUL`,
    );
}

/** @internal Throws `STATE_TOO_LARGE` unless `value` fits in `max` bytes. */
export function assertStateValue(key: string, value: Uint8Array, max: number): void {
  if (!(value instanceof Uint8Array))
    throw new StateError(StateErrorCode.Codec, `state ${key}: the value must be a Uint8Array`);
  if (value.length > max)
    throw new StateError(
      StateErrorCode.TooLarge,
      `state ${key} is ${value.length} bytes; this store takes at most ${max}`,
      { data: { bytes: value.length, max } },
    );
}
