// The gateway's local hand-off of run-stream records, on an in-memory log: records this process appends reach its
// readers without a log read when they continue the chain; a record someone else appended in between (another
// instance, a moved collector) makes a gap that one read fills; a late reader is served from the recent records;
// an append whose answer was lost is not stored twice; a log without appendIf still works, by reads.

import { describe, expect, it } from 'vitest';
import { readRunStream } from '../../gateway/run-reader.js';
import { eventKind, isTerminal as storedEnd } from '../../gateway/run-streams.js';
import { StreamHandoff } from '../../gateway/stream-handoff.js';
import {
  type AppendLog,
  AppendLogError,
  AppendLogErrorCode,
  type LogRecord,
  memoryAppendLog,
  silentLogger,
} from '../../runtime/index.js';

const KEY = 'stream:a:r1';
const isTerminal = (r: LogRecord) => (JSON.parse(r.data) as { kind: string }).kind === 'finished';
const ev = (kind: string, n = 0) => JSON.stringify({ kind, n });

/** A memory log that counts reads and can lose the answer of the next conditional append. */
function countingLog(options: { appendIf?: boolean } = {}) {
  const inner = memoryAppendLog();
  const stats = { reads: 0, loseNextAnswer: false };
  const log: AppendLog = {
    append: (key, data) => inner.append(key, data),
    read: (key, o) => {
      stats.reads++;
      return inner.read(key, o);
    },
    purge: (key, before) => inner.purge(key, before),
    close: () => inner.close(),
    ...(options.appendIf === false
      ? {}
      : {
          appendIf: async (key: string, data: string, expected: number) => {
            const seq = await inner.appendIf!(key, data, expected);
            if (stats.loseNextAnswer) {
              stats.loseNextAnswer = false;
              throw new AppendLogError(AppendLogErrorCode.Unavailable, 'the answer was lost');
            }
            return seq;
          },
        }),
  };
  return { log, stats };
}

function reader(log: AppendLog, handoff: StreamHandoff, afterSeq = 0, pollMs = 60_000, fresh = false) {
  const ac = new AbortController();
  const out: LogRecord[] = [];
  const done = (async () => {
    for await (const r of readRunStream({
      log,
      handoff,
      key: KEY,
      afterSeq,
      signal: ac.signal,
      pollMs,
      fresh,
      logger: silentLogger,
      isTerminal,
    }))
      out.push(r);
  })();
  return { out, done, ac };
}

const opts = { closed: () => false, logger: silentLogger };
const kinds = (records: LogRecord[]) => records.map((r) => JSON.parse(r.data).kind + JSON.parse(r.data).n);

describe('run stream hand-off', () => {
  it('hands this process’s records to its readers without reading the log', async () => {
    const { log, stats } = countingLog();
    const handoff = new StreamHandoff(log);
    const r = reader(log, handoff);
    // Let the reader's first read (the key is empty) finish.
    await new Promise((resolve) => setTimeout(resolve, 10));
    const readsAtStart = stats.reads;
    for (let i = 1; i <= 5; i++) await handoff.append(KEY, ev('token', i), opts);
    await handoff.append(KEY, ev('finished'), opts);
    await r.done;
    expect(kinds(r.out)).toEqual(['token1', 'token2', 'token3', 'token4', 'token5', 'finished0']);
    expect(stats.reads).toBe(readsAtStart);
    expect(readsAtStart).toBe(1);
  });

  it('reads nothing at all for a fresh run whose records all come by hand-off', async () => {
    const { log, stats } = countingLog();
    const handoff = new StreamHandoff(log);
    const r = reader(log, handoff, 0, 60_000, true);
    await handoff.append(KEY, ev('started'), opts);
    await handoff.append(KEY, ev('finished'), opts);
    await r.done;
    expect(kinds(r.out)).toEqual(['started0', 'finished0']);
    expect(stats.reads).toBe(0);
  });

  it('fills the gap another writer left with one read: in order, none twice', async () => {
    const { log, stats } = countingLog();
    const handoff = new StreamHandoff(log);
    const r = reader(log, handoff);
    await handoff.append(KEY, ev('token', 1), opts);
    // Another instance appends straight to the log.
    await log.append(KEY, ev('token', 2));
    await log.append('other-key', ev('token', 99));
    await handoff.append(KEY, ev('token', 3), opts);
    await handoff.append(KEY, ev('finished'), opts);
    await r.done;
    expect(kinds(r.out)).toEqual(['token1', 'token2', 'token3', 'finished0']);
    expect(r.out.map((x) => x.seq)).toEqual((await log.read(KEY)).map((x) => x.seq));
    expect(stats.reads).toBeGreaterThan(1);
  });

  it('serves a late reader, or one resuming after an id, from the recent records', async () => {
    const { log, stats } = countingLog();
    const handoff = new StreamHandoff(log);
    for (let i = 1; i <= 3; i++) await handoff.append(KEY, ev('token', i), opts);
    await handoff.append(KEY, ev('finished'), opts);
    const late = reader(log, handoff);
    await late.done;
    expect(kinds(late.out)).toEqual(['token1', 'token2', 'token3', 'finished0']);
    const resumed = reader(log, handoff, late.out[1]!.seq);
    await resumed.done;
    expect(kinds(resumed.out)).toEqual(['token3', 'finished0']);
    expect(stats.reads).toBe(0);
  });

  it('does not store an event twice when an append’s answer was lost', async () => {
    const { log, stats } = countingLog();
    const handoff = new StreamHandoff(log);
    await handoff.append(KEY, ev('token', 1), opts);
    stats.loseNextAnswer = true;
    await handoff.append(KEY, ev('token', 2), opts);
    await handoff.append(KEY, ev('finished'), opts);
    expect(kinds(await log.read(KEY))).toEqual(['token1', 'token2', 'finished0']);
    const r = reader(log, handoff);
    await r.done;
    expect(kinds(r.out)).toEqual(['token1', 'token2', 'finished0']);
  });

  it('works by reads on a log without appendIf', async () => {
    const { log, stats } = countingLog({ appendIf: false });
    const handoff = new StreamHandoff(log);
    const r = reader(log, handoff, 0, 20);
    for (let i = 1; i <= 3; i++) await handoff.append(KEY, ev('token', i), opts);
    await handoff.append(KEY, ev('finished'), opts);
    await r.done;
    expect(kinds(r.out)).toEqual(['token1', 'token2', 'token3', 'finished0']);
    expect(stats.reads).toBeGreaterThan(0);
  });

  it('polls for records only another instance appended, and ends on abort', async () => {
    const { log } = countingLog();
    const handoff = new StreamHandoff(log);
    const r = reader(log, handoff, 0, 5);
    await log.append(KEY, ev('token', 1));
    for (let i = 0; i < 200 && r.out.length === 0; i++) await new Promise((res) => setTimeout(res, 5));
    expect(kinds(r.out)).toEqual(['token1']);
    r.ac.abort();
    await r.done;
  });
});

describe('eventKind', () => {
  it('reads the kind off the front of a stored event, and parses any other shape', () => {
    expect(eventKind(JSON.stringify({ kind: 'token', runId: 'r', text: '"kind":"x"' }))).toBe('token');
    expect(eventKind(JSON.stringify({ kind: 'finished' }))).toBe('finished');
    expect(eventKind(JSON.stringify({ runId: 'r', kind: 'failed' }))).toBe('failed');
    // Not a plain name: it would be an SSE `event:` line, and a line break there forges another field.
    expect(eventKind(JSON.stringify({ kind: 'a\\"b', n: 1 }))).toBeUndefined();
    expect(eventKind(JSON.stringify({ kind: 'token\ndata: forged', n: 1 }))).toBeUndefined();
    expect(eventKind(JSON.stringify({ kind: 'tool_call.done' }))).toBe('tool_call.done');
    expect(eventKind(JSON.stringify({ kind: 3 }))).toBeUndefined();
    expect(eventKind('{"kind":"tok')).toBeUndefined();
    expect(eventKind('not json')).toBeUndefined();
    expect(storedEnd({ seq: 1, key: KEY, data: ev('finished'), at: 0 })).toBe(true);
    expect(storedEnd({ seq: 1, key: KEY, data: ev('token'), at: 0 })).toBe(false);
  });
});
