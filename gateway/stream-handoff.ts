// The local hand-off of run-stream records: what this gateway process appends to a stream log goes straight to
// the readers of that log in this process, each record chained to the one before it under its key, so a reader
// that holds the chain's previous record yields the new one without a round trip to the log. Appends are
// conditional on the key's last sequence (AppendLog.appendIf), which is what makes the chain exact: the server
// refuses the append if anyone else (another instance, a collector that moved) wrote in between.

import { type AppendLog, AppendLogErrorCode, type Logger, type LogRecord } from '../runtime/index.js';

/** A record appended by this process, with the sequence of its key's record just before it, when known. */
export interface HandedRecord {
  readonly record: LogRecord;
  /**
   * The key had no record between `prev` and `record.seq` (0: none before it at all); undefined when unknown
   * (a log without `appendIf`). A reader whose last record is at or after `prev` may yield `record` at once.
   */
  readonly prev: number | undefined;
}

/** Options of {@link StreamHandoff.append}. */
export interface HandoffAppendOptions {
  /** Giving up early: the appender closed. */
  readonly closed: () => boolean;
  readonly logger: Logger;
}

/** About 15 s of retries before an event is given up (logged). */
const APPEND_ATTEMPTS = 12;
/** Recent records kept per key, for readers that arrive after them. */
const RECENT_PER_KEY = 128;
/** Keys whose recent records are kept; the least recently appended beyond this are forgotten. */
const MAX_KEYS = 256;
/** Failures that no retry will fix. */
const FINAL = new Set<string>([
  AppendLogErrorCode.Closed,
  AppendLogErrorCode.InvalidKey,
  AppendLogErrorCode.RecordTooLarge,
  'INVALID_OPTIONS',
]);

const sleep = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms).unref();
  });

const codeOf = (err: unknown): string => {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : 'ERROR';
};

/** What this process knows of one key: its last sequence (a guess; the log checks it) and recent records. */
interface KeyState {
  last: number;
  recent: HandedRecord[];
}

/** Inserts `handed` into `list`, kept in sequence order (it almost always goes at the end). */
function insertOrdered(list: HandedRecord[], handed: HandedRecord): void {
  let i = list.length;
  while (i > 0 && (list[i - 1] as HandedRecord).record.seq > handed.record.seq) i--;
  if (list[i - 1]?.record.seq === handed.record.seq) return;
  list.splice(i, 0, handed);
}

/**
 * @internal One stream log's hand-off in this process (see {@link handoffFor}): appends with the chain, and
 * the listeners (readers) of each key.
 */
export class StreamHandoff {
  readonly #log: AppendLog;
  readonly #keys = new Map<string, KeyState>();
  readonly #listeners = new Map<string, Set<(handed: HandedRecord) => void>>();

  constructor(log: AppendLog) {
    this.#log = log;
  }

  /** Calls `listener` with each record this process appends under `key` from now on; returns the unsubscribe. */
  subscribe(key: string, listener: (handed: HandedRecord) => void): () => void {
    let set = this.#listeners.get(key);
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(key, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.#listeners.get(key) === set) this.#listeners.delete(key);
    };
  }

  /** The records of `key` this process appended lately, oldest first (at most {@link RECENT_PER_KEY}). */
  recent(key: string): readonly HandedRecord[] {
    return this.#keys.get(key)?.recent ?? [];
  }

  /**
   * Appends `data` under `key`, riding out a log outage with backoff (about 15 s), then hands the record to
   * this process's readers of the key. Resolves with its sequence, or undefined when it was given up (logged).
   */
  async append(key: string, data: string, options: HandoffAppendOptions): Promise<number | undefined> {
    // A key not seen yet is guessed to have no record (a run's first event); the log checks the guess.
    const state = this.#state(key);
    let ambiguous = false;
    for (let attempt = 1; ; attempt++) {
      try {
        const handed = await this.#appendOnce(key, data, state, ambiguous);
        this.#hand(key, state, handed);
        return handed.record.seq;
      } catch (err) {
        const code = codeOf(err);
        if (attempt >= APPEND_ATTEMPTS || FINAL.has(code) || options.closed()) {
          options.logger.error('gateway: could not store a stream event', { key, code });
          return undefined;
        }
        // A failed append may have been stored all the same (an answer lost in an outage); a refused one not.
        if (code !== AppendLogErrorCode.SequenceMismatch) ambiguous = true;
        await sleep(Math.min(100 * 2 ** (attempt - 1), 2000));
      }
    }
  }

  async #appendOnce(key: string, data: string, state: KeyState, ambiguous: boolean): Promise<HandedRecord> {
    const log = this.#log;
    if (log.appendIf === undefined) {
      // No conditional append: the chain is unknown and readers catch up from the log.
      return { record: { seq: await log.append(key, data), key, data, at: Date.now() }, prev: undefined };
    }
    let expected = state.last;
    try {
      return {
        record: { seq: await log.appendIf(key, data, expected), key, data, at: Date.now() },
        prev: expected,
      };
    } catch (err) {
      if (codeOf(err) !== AppendLogErrorCode.SequenceMismatch) throw err;
    }
    // Someone else appended (another instance, this run's collector before it moved here), or an earlier
    // attempt of ours was stored after all: read what came after our guess.
    const after = await log.read(key, { fromSeq: expected + 1 });
    const tail = after.at(-1);
    if (tail === undefined) {
      // Our guess is past the key's end (records purged): append without a chain; the next one has it again.
      const seq = await log.append(key, data);
      state.last = seq;
      return { record: { seq, key, data, at: Date.now() }, prev: undefined };
    }
    if (ambiguous && tail.data === data) {
      // The attempt that failed was stored: do not store the event twice.
      state.last = tail.seq;
      return { record: tail, prev: after.at(-2)?.seq ?? expected };
    }
    expected = tail.seq;
    state.last = expected;
    return {
      record: { seq: await log.appendIf(key, data, expected), key, data, at: Date.now() },
      prev: expected,
    };
  }

  #state(key: string): KeyState {
    let state = this.#keys.get(key);
    if (state === undefined) {
      state = { last: 0, recent: [] };
      this.#keys.set(key, state);
      if (this.#keys.size > MAX_KEYS) {
        const oldest = this.#keys.keys().next().value as string;
        this.#keys.delete(oldest);
      }
    }
    return state;
  }

  #hand(key: string, state: KeyState, handed: HandedRecord): void {
    if (handed.record.seq > state.last) state.last = handed.record.seq;
    insertOrdered(state.recent, handed);
    if (state.recent.length > RECENT_PER_KEY) state.recent.shift();
    // Most recently appended keys last, so the oldest is the one forgotten first.
    this.#keys.delete(key);
    this.#keys.set(key, state);
    for (const listener of this.#listeners.get(key) ?? []) listener(handed);
  }
}

/** The hand-off of each stream log, so every gateway of this process sharing a log shares its hand-off. */
const handoffs = new WeakMap<AppendLog, StreamHandoff>();

/** @internal The hand-off of `log` in this process. */
export function handoffFor(log: AppendLog): StreamHandoff {
  let handoff = handoffs.get(log);
  if (handoff === undefined) {
    handoff = new StreamHandoff(log);
    handoffs.set(log, handoff);
  }
  return handoff;
}
