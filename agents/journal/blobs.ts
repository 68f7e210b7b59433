// Content-addressed blobs in a KeyValueStore: a value's key is the sha256 of its text, so it is written once
// however many entries, runs or compactions refer to it (the same instructions, a repeated tool result).

import { createHash } from 'node:crypto';
import { type KeyValueStore, KvErrorCode, TroupeError } from '../../runtime/index.js';
import type { BlobRef } from './entries.js';
import { JournalError, JournalErrorCode } from './errors.js';

/** Default key prefix of blobs in the key-value store: `agents.blobs.<sha256 hex>`. */
export const DEFAULT_BLOB_PREFIX = 'agents.blobs';

/** What a blob store did, for measuring a journal's growth. */
export interface BlobStats {
  /** Blobs this process wrote (a blob already there is not counted: deduplicated). */
  written: number;
  /** UTF-8 bytes of those blobs. */
  bytes: number;
  /** Writes skipped because the blob was already stored. */
  deduplicated: number;
}

/** Hashes known to be stored, per store, shared by every journal of this process (bounded: forgotten when full). */
const stored = new WeakMap<KeyValueStore, Set<string>>();
const MAX_KNOWN_HASHES = 10_000;

/** Blobs in a key-value store, with a cache of the ones this process wrote or read (their text never changes). */
export class BlobStore {
  readonly #kv: KeyValueStore;
  readonly #prefix: string;
  readonly #known = new Map<string, string>();
  readonly stats: BlobStats = { written: 0, bytes: 0, deduplicated: 0 };

  constructor(kv: KeyValueStore, prefix = DEFAULT_BLOB_PREFIX) {
    this.#kv = kv;
    this.#prefix = prefix;
  }

  /** Stores `text` (once: a blob already there is kept) and returns its reference. */
  async put(text: string): Promise<BlobRef> {
    const hash = createHash('sha256').update(text).digest('hex');
    const ref = { blob: hash, bytes: Buffer.byteLength(text) };
    let shared = stored.get(this.#kv);
    if (shared === undefined) {
      shared = new Set();
      stored.set(this.#kv, shared);
    }
    const key = `${this.#prefix}.${hash}`;
    if (this.#known.has(hash) || shared.has(key)) {
      this.stats.deduplicated++;
      return ref;
    }
    try {
      await this.#kv.create(key, text);
      this.stats.written++;
      this.stats.bytes += ref.bytes;
    } catch (err) {
      if (!(TroupeError.is(err) && err.code === KvErrorCode.Exists)) throw err;
      this.stats.deduplicated++;
    }
    this.#known.set(hash, text);
    if (shared.size >= MAX_KNOWN_HASHES) shared.clear();
    shared.add(key);
    return ref;
  }

  /** The text of `ref`; rejects with `JOURNAL_BLOB_MISSING` when the store does not have it. */
  async get(ref: BlobRef): Promise<string> {
    const cached = this.#known.get(ref.blob);
    if (cached !== undefined) return cached;
    const entry = await this.#kv.get(`${this.#prefix}.${ref.blob}`);
    if (entry === undefined)
      throw new JournalError(
        JournalErrorCode.BlobMissing,
        `blob ${ref.blob} (${ref.bytes} bytes) is not stored`,
        {
          data: { blob: ref.blob },
        },
      );
    this.#known.set(ref.blob, entry.value);
    return entry.value;
  }
}
