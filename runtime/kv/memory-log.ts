// The in-process AppendLog: the embedded default for run journals and audit logs when a system runs alone.
// Same semantics as the JetStream one (one sequence per log, purge by key and sequence), so tests of either hold.

import {
  ALL_LOG_KEYS,
  type AppendLog,
  AppendLogError,
  AppendLogErrorCode,
  assertBeforeSeq,
  assertLogKey,
  assertLogRecord,
  type LogReadOptions,
  type LogRecord,
  maxRecordBytesOption,
  readBounds,
} from '../ports/append-log.js';

/** Options of {@link memoryAppendLog}. */
export interface MemoryAppendLogOptions {
  /** Largest record, in UTF-8 bytes. @defaultValue 512 KiB */
  maxRecordBytes?: number;
}

/** The index of the first record with `seq >= from` in `records` (sorted by seq). */
function firstFrom(records: readonly LogRecord[], from: number): number {
  let lo = 0;
  let hi = records.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((records[mid] as LogRecord).seq < from) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

class MemoryAppendLog implements AppendLog {
  /** Every record, in order; and each key's own, so reading one key does not scan the others. */
  #all: LogRecord[] = [];
  readonly #byKey = new Map<string, LogRecord[]>();
  readonly #maxBytes: number;
  #seq = 0;
  #closed = false;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  async append(key: string, data: string): Promise<number> {
    this.#check();
    assertLogKey(key, false);
    assertLogRecord(data, this.#maxBytes);
    const record: LogRecord = { seq: ++this.#seq, key, data, at: Date.now() };
    this.#all.push(record);
    const own = this.#byKey.get(key);
    if (own === undefined) this.#byKey.set(key, [record]);
    else own.push(record);
    return record.seq;
  }

  async appendIf(key: string, data: string, expectedSeq: number): Promise<number> {
    this.#check();
    assertLogKey(key, false);
    const last = this.#byKey.get(key)?.at(-1)?.seq ?? 0;
    if (last !== expectedSeq)
      throw new AppendLogError(
        AppendLogErrorCode.SequenceMismatch,
        `the last record of ${key} is ${last}, not the expected ${expectedSeq}`,
        { data: { key, expectedSeq, last } },
      );
    return this.append(key, data);
  }

  async read(key: string, options?: LogReadOptions): Promise<LogRecord[]> {
    this.#check();
    assertLogKey(key, true);
    const { fromSeq, limit } = readBounds(options);
    const records = key === ALL_LOG_KEYS ? this.#all : (this.#byKey.get(key) ?? []);
    const start = firstFrom(records, fromSeq);
    return records.slice(start, limit === Number.POSITIVE_INFINITY ? undefined : start + limit);
  }

  async purge(key: string, beforeSeq?: number): Promise<void> {
    this.#check();
    assertLogKey(key, true);
    assertBeforeSeq(beforeSeq);
    const dropped = (r: LogRecord) =>
      (key === ALL_LOG_KEYS || r.key === key) && (beforeSeq === undefined || r.seq < beforeSeq);
    this.#all = this.#all.filter((r) => !dropped(r));
    for (const [k, records] of this.#byKey) {
      const kept = records.filter((r) => !dropped(r));
      if (kept.length === 0) this.#byKey.delete(k);
      else if (kept.length !== records.length) this.#byKey.set(k, kept);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  #check(): void {
    if (this.#closed) throw new AppendLogError(AppendLogErrorCode.Closed, 'the append log is closed');
  }
}

/** An {@link AppendLog} in this process's memory: for one system and tests; gone when the process ends. */
export function memoryAppendLog(options: MemoryAppendLogOptions = {}): AppendLog {
  return new MemoryAppendLog(maxRecordBytesOption(options.maxRecordBytes));
}
