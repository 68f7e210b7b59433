// The key-value contract for state a fleet shares (model breakers and cooldowns, budgets, response caches): a
// small subset of NATS KV with revisions, so every update can be a compare-and-set. The runtime ships an
// in-memory store (runtime/kv/memory.ts); transport/ ships `natsKeyValue()`.

import { TroupeError } from '../core/errors.js';

/** Codes of {@link KeyValueError}. */
export const KvErrorCode = {
  /** `create` found the key already there. */
  Exists: 'KV_EXISTS',
  /** `update` was given a revision that is no longer the key's latest: someone else wrote first. */
  RevisionMismatch: 'REVISION_MISMATCH',
  /** The store did not answer in time or is not reachable (a NATS outage): the operation may not have happened. */
  Unavailable: 'KV_UNAVAILABLE',
  /** The store was closed. */
  Closed: 'KV_CLOSED',
  /** A key with characters the store does not allow. */
  InvalidKey: 'KV_INVALID_KEY',
} as const;

export type KvErrorCode = (typeof KvErrorCode)[keyof typeof KvErrorCode];

export class KeyValueError extends TroupeError {
  override readonly name = 'KeyValueError';
  constructor(code: KvErrorCode, message: string, options: { cause?: unknown; data?: unknown } = {}) {
    super(code, message, options);
  }
}

/** A stored value and the revision that wrote it (revisions only grow, per store). */
export interface KvEntry {
  readonly value: string;
  readonly revision: number;
}

/**
 * A fleet-shared key-value store. Keys are dot-separated tokens of `[-_=/a-zA-Z0-9]` (what NATS KV takes);
 * values are strings (JSON, typically). There is no per-key TTL (NATS servers before 2.11 have none): values
 * that expire carry their own deadline.
 *
 * Every operation either settles within the store's operation timeout or rejects with a {@link KeyValueError}
 * (`KV_UNAVAILABLE` during an outage): it never hangs.
 */
export interface KeyValueStore {
  get(key: string): Promise<KvEntry | undefined>;
  /** Writes `key` only if it does not exist (or was deleted); rejects with `KV_EXISTS` otherwise. */
  create(key: string, value: string): Promise<number>;
  /** Compare-and-set: writes only if `revision` is the key's latest; rejects with `REVISION_MISMATCH` otherwise. */
  update(key: string, value: string, revision: number): Promise<number>;
  /** Writes unconditionally. */
  put(key: string, value: string): Promise<number>;
  delete(key: string): Promise<void>;
  /**
   * Calls `onChange` for every later write or delete of a key under `prefix` (keys starting with it; `value`
   * undefined for a delete), and once for each key already there. Returns the function that stops watching.
   * Optional: stores that cannot watch leave it out, and callers read instead.
   */
  watch?(prefix: string, onChange: (key: string, entry: KvEntry | undefined) => void): () => void;
  /**
   * The keys under `prefix` ('' or ending with '.') that hold a value now, in no particular order. Optional,
   * like `watch`: what lists a set of entries (the agent registry's cards) uses when the store has it.
   */
  keys?(prefix: string): Promise<string[]>;
  /** Releases what the store opened (a connection it owns); operations after it reject with `KV_CLOSED`. */
  close(): Promise<void>;
}

const KEY = /^[-_=/a-zA-Z0-9]+(\.[-_=/a-zA-Z0-9]+)*$/;

/** @internal Throws `KV_INVALID_KEY` unless `key` is a valid store key. */
export function assertKvKey(key: string): void {
  if (typeof key !== 'string' || !KEY.test(key))
    throw new KeyValueError(
      KvErrorCode.InvalidKey,
      `invalid key ${JSON.stringify(key)}: dot-separated [-_=/a-zA-Z0-9] tokens`,
    );
}

/** A token safe in a key for any text (an agent id, a deployment id): base64url, `_` for ''. */
export function kvToken(text: string): string {
  return text === '' ? '_' : Buffer.from(text).toString('base64url');
}
