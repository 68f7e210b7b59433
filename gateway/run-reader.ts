// One SSE client's view of a run's stream: the records of its log key after the client's last id, in order,
// none twice, until the run's end. Records this process appended come by hand-off (StreamHandoff) and are
// yielded at once when they continue the chain from the last one yielded; the log is read only to catch up: at
// the start, when a handed record leaves a gap (someone else appended before it), and after `pollMs` without
// news (records another instance appended).

import type { AppendLog, Logger, LogRecord } from '../runtime/index.js';
import type { HandedRecord, StreamHandoff } from './stream-handoff.js';

/** Options of {@link readRunStream}. */
export interface RunReaderOptions {
  readonly log: AppendLog;
  readonly handoff: StreamHandoff;
  readonly key: string;
  /** The client's last id: records after it are yielded. */
  readonly afterSeq: number;
  /** Ends the reading (the client left, the gateway closes). */
  readonly signal: AbortSignal;
  /** Longest quiet time before the log is read for records other instances appended. */
  readonly pollMs: number;
  /**
   * Skips the read at the start (the first read is a poll): for a run this process just started, whose log key
   * is all but surely empty yet, so its first records come by hand-off and the start costs the log nothing.
   * @defaultValue false
   */
  readonly fresh?: boolean;
  readonly logger: Logger;
  /** Whether a record ends the stream. */
  readonly isTerminal: (record: LogRecord) => boolean;
}

/** Shortest pause after a failed read (the log is out: a NATS restart). */
const MIN_RETRY_MS = 250;

/**
 * The records of `key` after `afterSeq`, then new ones as they come, until a terminal record or `signal`.
 *
 * @example
 * for await (const record of readRunStream({ log, handoff, key, afterSeq: 0, signal, pollMs: 100, logger, isTerminal }))
 *   write(record);
 */
export async function* readRunStream(o: RunReaderOptions): AsyncGenerator<LogRecord> {
  let last = o.afterSeq;
  /** Handed records not yielded yet, in sequence order. */
  const inbox: HandedRecord[] = [];
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const resolve = wake;
    wake = undefined;
    resolve?.();
  };
  const unsubscribe = o.handoff.subscribe(o.key, (handed) => {
    // Usually in order; a racing append of another writer of this process can land before its predecessor.
    let i = inbox.length;
    while (i > 0 && (inbox[i - 1] as HandedRecord).record.seq > handed.record.seq) i--;
    inbox.splice(i, 0, handed);
    notify();
  });
  // What this process appended before this reader came, which may spare it the first read entirely.
  inbox.push(...o.handoff.recent(o.key));
  o.signal.addEventListener('abort', notify);

  let reading: Promise<void> | undefined;
  let readResult: LogRecord[] | undefined;
  let readFailed = false;
  /** When the log is next read if nothing else asks for it; the start reads at once unless the run is fresh. */
  let readDue = o.fresh === true ? Date.now() + o.pollMs : 0;
  /** The handed record whose gap the last read was for: one read per gap, then polling. */
  let gapReadFor = -1;

  const startRead = (): void => {
    const fromSeq = last + 1;
    reading = o.log.read(o.key, { fromSeq }).then(
      (records) => {
        readResult = records;
      },
      (err: unknown) => {
        readFailed = true;
        o.logger.debug('gateway: stream read failed, retrying', {
          key: o.key,
          code: (err as { code?: string }).code ?? 'ERROR',
        });
      },
    );
    void reading.finally(() => {
      reading = undefined;
      notify();
    });
  };

  try {
    while (!o.signal.aborted) {
      // Handed records that continue the chain from the last one yielded.
      let gap: HandedRecord | undefined;
      while (inbox.length > 0) {
        const handed = inbox[0] as HandedRecord;
        if (handed.record.seq <= last) {
          inbox.shift();
          continue;
        }
        if (handed.prev === undefined || handed.prev > last) {
          gap = handed;
          break;
        }
        inbox.shift();
        last = handed.record.seq;
        readDue = Date.now() + o.pollMs;
        yield handed.record;
        if (o.isTerminal(handed.record)) return;
      }
      // A finished read: everything after `last` it found, which continues from `last` (it started at or
      // before `last + 1`).
      if (readResult !== undefined) {
        const records = readResult;
        readResult = undefined;
        for (const record of records) {
          if (record.seq <= last) continue;
          last = record.seq;
          yield record;
          if (o.isTerminal(record)) return;
        }
        readDue = Date.now() + o.pollMs;
        continue;
      }
      if (readFailed) {
        readFailed = false;
        readDue = Date.now() + Math.max(o.pollMs, MIN_RETRY_MS);
      }
      if (reading === undefined) {
        const gapRead = gap !== undefined && gap.record.seq !== gapReadFor;
        if (gapRead || Date.now() >= readDue) {
          if (gap !== undefined) gapReadFor = gap.record.seq;
          startRead();
        }
      }
      if (o.signal.aborted) return;
      await new Promise<void>((resolve) => {
        // A read in flight wakes the loop when it ends; else the poll is due at `readDue`.
        const timer =
          reading === undefined ? setTimeout(notify, Math.max(0, readDue - Date.now())) : undefined;
        timer?.unref();
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  } finally {
    unsubscribe();
    o.signal.removeEventListener('abort', notify);
  }
}
