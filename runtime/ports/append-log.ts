// The append-only log contract: records appended under a key (a run id, an agent), read back in order, purged
// from the front when compacted. Agents journal their steps in it and tools audit their calls. The runtime ships
// an in-memory log (runtime/kv/memory-log.ts); transport/ ships `natsAppendLog()` on a JetStream stream.

import { InvalidOptionsError, TroupeError } from '../core/errors.js';

/** Codes of {@link AppendLogError}. */
export const AppendLogErrorCode = {
  /** The store did not answer in time or is not reachable: the operation may or may not have happened. */
  Unavailable: 'LOG_UNAVAILABLE',
  /** The log was closed. */
  Closed: 'LOG_CLOSED',
  /** A key that is empty, too long, has control characters, or is `*` where one key is needed. */
  InvalidKey: 'LOG_INVALID_KEY',
  /** A record larger than the log's `maxRecordBytes`. */
  RecordTooLarge: 'LOG_RECORD_TOO_LARGE',
  /** `appendIf` found another record appended under the key since the expected one: someone else wrote first. */
  SequenceMismatch: 'LOG_SEQUENCE_MISMATCH',
} as const;

export type AppendLogErrorCode = (typeof AppendLogErrorCode)[keyof typeof AppendLogErrorCode];

export class AppendLogError extends TroupeError {
  override readonly name = 'AppendLogError';
  constructor(code: AppendLogErrorCode, message: string, options: { cause?: unknown; data?: unknown } = {}) {
    super(code, message, options);
  }
}

/** A stored record: its sequence (increasing per log, across keys), key, data and when it was stored (ms). */
export interface LogRecord {
  readonly seq: number;
  readonly key: string;
  readonly data: string;
  readonly at: number;
}

export interface LogReadOptions {
  /** The first sequence to return (inclusive). @defaultValue 1 */
  fromSeq?: number;
  /** At most this many records. @defaultValue all */
  limit?: number;
}

/**
 * An append-only log shared by a fleet (JetStream) or one process (memory). Keys are 1-256 characters without
 * control characters; `*` stands for every key in `read` and `purge`. Every operation settles within the
 * store's operation timeout or rejects with an {@link AppendLogError} (`LOG_UNAVAILABLE` during an outage): it
 * never hangs.
 */
export interface AppendLog {
  /** Appends `data` under `key` (e.g. a run id); resolves once stored, with the record's sequence (increasing per log). */
  append(key: string, data: string): Promise<number>;
  /**
   * Appends only if the last record of `key` has sequence `expectedSeq` (0: the key has no record), for
   * optimistic concurrency; rejects with `LOG_SEQUENCE_MISMATCH` otherwise. Optional: logs without it cannot
   * host writers that race.
   */
  appendIf?(key: string, data: string, expectedSeq: number): Promise<number>;
  /** The records of `key` (or of every key when `key` is '*'), oldest first, from `fromSeq` (inclusive). */
  read(key: string, options?: LogReadOptions): Promise<LogRecord[]>;
  /** Drops every record of `key` before `beforeSeq` (compaction), or all of them without it. */
  purge(key: string, beforeSeq?: number): Promise<void>;
  close(): Promise<void>;
}

/** Default largest record (UTF-8 bytes of `data`): well under NATS's default 1 MiB payload. */
export const DEFAULT_MAX_LOG_RECORD_BYTES = 512 * 1024;
/** The key that stands for every key in `read` and `purge`. */
export const ALL_LOG_KEYS = '*';

const MAX_KEY_LENGTH = 256;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what keys may not hold
const CONTROL = /[\u0000-\u001f\u007f]/;

/** @internal Throws `LOG_INVALID_KEY` unless `key` is a valid key (or `*`, when `all` allows it). */
export function assertLogKey(key: string, all: boolean): void {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH || CONTROL.test(key))
    throw new AppendLogError(
      AppendLogErrorCode.InvalidKey,
      `invalid log key ${JSON.stringify(typeof key === 'string' ? key.slice(0, 80) : key)}: 1-${MAX_KEY_LENGTH} characters, no control characters`,
    );
  if (key === ALL_LOG_KEYS && !all)
    throw new AppendLogError(AppendLogErrorCode.InvalidKey, `'*' names every key: append under one key`);
}

/** @internal Throws `LOG_RECORD_TOO_LARGE` (or INVALID_OPTIONS for a non-string) unless `data` fits. */
export function assertLogRecord(data: string, maxBytes: number): void {
  if (typeof data !== 'string') throw new InvalidOptionsError('data', 'expected a string');
  // Cheap bound first: a UTF-8 character is at most 3 bytes per UTF-16 unit.
  if (data.length * 3 <= maxBytes) return;
  const bytes = Buffer.byteLength(data);
  if (bytes > maxBytes)
    throw new AppendLogError(
      AppendLogErrorCode.RecordTooLarge,
      `a record of ${bytes} bytes is over the log's limit of ${maxBytes}`,
      { data: { bytes, maxBytes } },
    );
}

/** @internal Validates read options: `fromSeq` a non-negative integer, `limit` a positive one. */
export function readBounds(options: LogReadOptions | undefined): { fromSeq: number; limit: number } {
  const fromSeq = options?.fromSeq ?? 1;
  const limit = options?.limit ?? Number.POSITIVE_INFINITY;
  if (!Number.isInteger(fromSeq) || fromSeq < 0)
    throw new InvalidOptionsError('fromSeq', 'expected a non-negative integer');
  if (limit !== Number.POSITIVE_INFINITY && (!Number.isInteger(limit) || limit < 1))
    throw new InvalidOptionsError('limit', 'expected a positive integer');
  return { fromSeq: Math.max(1, fromSeq), limit };
}

/** @internal Validates `beforeSeq` of a purge. */
export function assertBeforeSeq(beforeSeq: number | undefined): void {
  if (beforeSeq !== undefined && (!Number.isInteger(beforeSeq) || beforeSeq < 1))
    throw new InvalidOptionsError('beforeSeq', 'expected a positive integer');
}

/** @internal Validates `maxRecordBytes` of a log's options. */
export function maxRecordBytesOption(value: number | undefined): number {
  if (value === undefined) return DEFAULT_MAX_LOG_RECORD_BYTES;
  if (!Number.isInteger(value) || value < 1)
    throw new InvalidOptionsError('maxRecordBytes', 'expected a positive integer');
  return value;
}
