// The gateway-ttft bench's stream log wrapper: it marks when each run's first token goes into the gateway's
// stream log and when a read first returns it, and changes nothing else the log does.

import { performance } from 'node:perf_hooks';
import type { AppendLog, LogRecord } from '../../runtime/index.js';

/** When the stream log first stored a token of a run, and first returned one to a read (by log key). */
export interface LogMarks {
  appendStart?: number;
  appendEnd?: number;
  readEnd?: number;
}

const TOKEN = '"kind":"token"';

/** The gateway's stream log, wrapped to mark each run's first token going in and coming out (no other change). */
export function timedLog(log: AppendLog, marks: Map<string, LogMarks>): AppendLog {
  const mark = (key: string) => {
    let m = marks.get(key);
    if (m === undefined) {
      m = {};
      marks.set(key, m);
    }
    return m;
  };
  const timed = async (key: string, data: string, append: () => Promise<number>) => {
    const m = data.includes(TOKEN) && mark(key).appendStart === undefined ? mark(key) : undefined;
    if (m !== undefined) m.appendStart = performance.now();
    const seq = await append();
    if (m !== undefined) m.appendEnd = performance.now();
    return seq;
  };
  const appendIf = log.appendIf?.bind(log);
  return {
    append: (key, data) => timed(key, data, () => log.append(key, data)),
    // The gateway chains its appends with appendIf, which lets its readers take records by hand-off.
    ...(appendIf === undefined
      ? {}
      : {
          appendIf: (key: string, data: string, expectedSeq: number) =>
            timed(key, data, () => appendIf(key, data, expectedSeq)),
        }),
    read: async (key, options) => {
      const records: LogRecord[] = await log.read(key, options);
      if (records.some((r) => r.data.includes(TOKEN))) mark(key).readEnd ??= performance.now();
      return records;
    },
    purge: log.purge.bind(log),
    close: log.close.bind(log),
  };
}
