// The run journal on both stores (memory; JetStream + NATS KV on a real nats-server): replay of every entry kind,
// blobs written once, linear growth as a conversation grows, compaction that keeps replay, the open-runs index,
// and a journal that keeps working across a nats-server restart.

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type JournalEntry, openRuns, RunJournal } from '../../agents/index.js';
import {
  type AppendLog,
  type KeyValueStore,
  memoryAppendLog,
  memoryKeyValue,
  TroupeError,
} from '../../runtime/index.js';
import { type ServerProcess, startNats } from '../../testing/index.js';
import { natsAppendLog, natsKeyValue } from '../../transport/index.js';

let nats: ServerProcess;
beforeAll(async () => {
  nats = await startNats();
});
afterAll(() => nats.stop());

const id = () => randomBytes(4).toString('hex');

type Stores = { log: AppendLog; kv: KeyValueStore; close(): Promise<void> };
const stores: [string, () => Promise<Stores>][] = [
  [
    'memory',
    async () => {
      const log = memoryAppendLog();
      const kv = memoryKeyValue();
      return { log, kv, close: async () => void (await Promise.all([log.close(), kv.close()])) };
    },
  ],
  [
    'nats',
    async () => {
      const log = await natsAppendLog({ servers: nats.url, name: `j${id()}` });
      const kv = await natsKeyValue({ servers: nats.url, bucket: `b${id()}` });
      return { log, kv, close: async () => void (await Promise.all([log.close(), kv.close()])) };
    },
  ],
];

const LONG = 'The planner must think carefully about every step. '.repeat(40); // ~2 KiB: a blob

const started = (runId: string, agent = 'planner'): JournalEntry => ({
  kind: 'started',
  runId,
  agent,
  input: 'Plan a trip to Lisbon',
  config: { model: 'smart', instructions: LONG, temperature: 0.2 },
});

/** A run with every entry kind: two parallel tool calls answered out of order, an approval, a config change. */
function script(runId: string): JournalEntry[] {
  return [
    started(runId),
    {
      kind: 'model',
      step: 0,
      message: {
        role: 'assistant',
        content: null,
        toolCalls: [
          { id: 'c1', name: 'search', arguments: '{"q":"flights"}' },
          { id: 'c2', name: 'search', arguments: '{"q":"hotels"}' },
        ],
      },
      usage: { inputTokens: 10, outputTokens: 5, cachedTokens: 0, reasoningTokens: 0, totalTokens: 15 },
      model: 'gpt-x',
    },
    // c2 finishes first: replay still puts results in call order.
    {
      kind: 'tool',
      step: 0,
      callId: 'c2',
      name: 'search',
      outcome: { ok: true, value: { hotels: 3 }, durationMs: 4 },
    },
    {
      kind: 'tool',
      step: 0,
      callId: 'c1',
      name: 'search',
      outcome: { ok: false, code: 'TOOL_TIMEOUT', message: 'slow', retryable: true, durationMs: 100 },
    },
    { kind: 'config', step: 1, changes: { temperature: 0.7 } },
    {
      kind: 'model',
      step: 1,
      message: {
        role: 'assistant',
        content: 'Booking now',
        toolCalls: [
          { id: 'c3', name: 'book', arguments: '{"what":"flight"}' },
          { id: 'c4', name: 'pay', arguments: '{"eur":400}' },
        ],
      },
      usage: { inputTokens: 20, outputTokens: 7, cachedTokens: 2, reasoningTokens: 0, totalTokens: 27 },
    },
    { kind: 'tool', step: 1, callId: 'c3', name: 'book', outcome: { ok: true, value: LONG, durationMs: 2 } },
    { kind: 'approval', step: 1, callId: 'c4', state: 'requested' },
  ];
}

describe.each(stores)('RunJournal (%s)', (_name, make) => {
  it('replays every entry kind: messages in call order, pending calls, awaiting approval, then the end', async () => {
    const s = await make();
    try {
      const runId = `run-${id()}`;
      const journal = await RunJournal.open(s.log, s.kv, runId);
      expect(journal.replay().status).toBe('new');
      for (const entry of script(runId)) await journal.append(entry);

      const reopened = await RunJournal.open(s.log, s.kv, runId);
      expect(reopened.entries()).toEqual(script(runId));
      const state = reopened.replay();
      expect(state).toEqual(journal.replay());
      expect(state.agent).toBe('planner');
      expect(state.config).toEqual({ model: 'smart', instructions: LONG, temperature: 0.7 });
      expect(state.step).toBe(1);
      expect(state.modelCalls).toBe(2);
      expect(state.usage?.totalTokens).toBe(42);
      expect(state.messages.map((m) => (m.role === 'tool' ? `tool:${m.toolCallId}` : m.role))).toEqual([
        'user',
        'assistant',
        'tool:c1',
        'tool:c2',
        'assistant',
        'tool:c3',
      ]);
      expect(state.messages[2]).toEqual({
        role: 'tool',
        toolCallId: 'c1',
        content: '{"error":{"code":"TOOL_TIMEOUT","message":"slow"}}',
      });
      expect(state.messages[3]).toEqual({ role: 'tool', toolCallId: 'c2', content: '{"hotels":3}' });
      expect(state.messages[5]).toEqual({ role: 'tool', toolCallId: 'c3', content: LONG });
      const c4 = { step: 1, callId: 'c4', name: 'pay', arguments: '{"eur":400}' };
      expect(state.pendingToolCalls).toEqual([c4]);
      expect(state.awaitingApproval).toEqual([c4]);
      expect(state.status).toBe('awaiting-approval');

      await reopened.append({ kind: 'approval', step: 1, callId: 'c4', state: 'approved', by: 'ana' });
      let next = (await RunJournal.open(s.log, s.kv, runId)).replay();
      expect(next.awaitingApproval).toEqual([]);
      expect(next.pendingToolCalls).toEqual([c4]);
      expect(next.approvals).toEqual({ c4: { state: 'approved', by: 'ana' } });
      expect(next.status).toBe('running');

      await reopened.append({
        kind: 'tool',
        step: 1,
        callId: 'c4',
        name: 'pay',
        outcome: { ok: true, value: 'paid', durationMs: 1 },
      });
      await reopened.append({ kind: 'finished', output: { booked: true } });
      next = (await RunJournal.open(s.log, s.kv, runId)).replay();
      expect(next.pendingToolCalls).toEqual([]);
      expect(next.status).toBe('finished');
      expect(next.output).toEqual({ booked: true });

      const failedRun = `run-${id()}`;
      const f = await RunJournal.open(s.log, s.kv, failedRun);
      await f.append(started(failedRun));
      await f.append({ kind: 'failed', code: 'BUDGET_EXCEEDED', message: 'over budget' });
      const failed = (await RunJournal.open(s.log, s.kv, failedRun)).replay();
      expect(failed.status).toBe('failed');
      expect(failed.error).toEqual({ code: 'BUDGET_EXCEEDED', message: 'over budget' });
    } finally {
      await s.close();
    }
  });

  it('stores large fields once as content-addressed blobs and drops a repeated append on replay', async () => {
    const s = await make();
    try {
      const a = await RunJournal.open(s.log, s.kv, `run-${id()}`);
      await a.append(started(a.runId));
      expect(a.stats.blobsWritten).toBe(1); // the config with its long instructions
      const recordBytes = a.stats.appendedBytes;
      expect(recordBytes).toBeLessThan(400); // the record holds a reference, not the 2 KiB
      // A second run with the same instructions, and a tool result equal to them: no new blob anywhere.
      const b = await RunJournal.open(s.log, s.kv, `run-${id()}`);
      await b.append(started(b.runId));
      expect(b.stats.blobsWritten).toBe(0);
      const tool: JournalEntry = {
        kind: 'tool',
        step: 0,
        callId: 'x',
        name: 't',
        outcome: { ok: true, value: LONG, durationMs: 1 },
      };
      await b.append(tool);
      await b.append(tool); // a retried append
      expect(b.stats.blobsWritten).toBe(1); // the outcome (its JSON differs from the config's)
      expect(b.stats.appendedRecords).toBe(3);
      const reopened = await RunJournal.open(s.log, s.kv, b.runId);
      expect(reopened.entries()).toEqual([started(b.runId), tool]);
      // A different value is a different blob.
      await b.append({
        ...tool,
        callId: 'y',
        outcome: { ok: true, value: `${LONG}!`, durationMs: 1 },
      } as JournalEntry);
      expect(b.stats.blobsWritten).toBe(2);
      // entries() shows what was stored, not the caller's object changed afterwards.
      (tool as { outcome: { value: unknown } }).outcome.value = 'changed';
      expect(b.entries()[1]).toEqual({ ...tool, outcome: { ok: true, value: LONG, durationMs: 1 } });
      // A blob the store lost is an error with a code, not a silently different conversation.
      await s.kv.delete(
        `agents.blobs.${(JSON.parse((await s.log.read(b.runId)).at(-1)?.data ?? '{}') as { outcome: { blob: string } }).outcome.blob}`,
      );
      const code = await RunJournal.open(s.log, s.kv, b.runId).then(
        () => 'opened',
        (e: unknown) => (TroupeError.is(e) ? e.code : String(e)),
      );
      expect(code).toBe('JOURNAL_BLOB_MISSING');
    } finally {
      await s.close();
    }
  });

  it('grows linearly: bytes appended per step stay flat over a 200-step conversation', async () => {
    const s = await make();
    try {
      const journal = await RunJournal.open(s.log, s.kv, `run-${id()}`);
      await journal.append(started(journal.runId));
      const perStep: number[] = [];
      for (let step = 0; step < 200; step++) {
        const before = journal.stats.appendedBytes + journal.stats.blobBytes;
        // Each step's answer is a little different, and every fifth result is large (a blob).
        await journal.append({
          kind: 'model',
          step,
          message: {
            role: 'assistant',
            content: `Step ${step}: looking further`,
            toolCalls: [
              { id: `call-${step}`, name: 'search', arguments: JSON.stringify({ q: `topic ${step}` }) },
            ],
          },
          usage: {
            inputTokens: 100 + step * 50,
            outputTokens: 20,
            cachedTokens: 0,
            reasoningTokens: 0,
            totalTokens: 120 + step * 50,
          },
        });
        await journal.append({
          kind: 'tool',
          step,
          callId: `call-${step}`,
          name: 'search',
          outcome: { ok: true, value: step % 5 === 0 ? `${LONG} #${step}` : `result ${step}`, durationMs: 3 },
        });
        perStep.push(journal.stats.appendedBytes + journal.stats.blobBytes - before);
      }
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      const first = mean(perStep.slice(0, 50));
      const last = mean(perStep.slice(-50));
      console.log(
        `journal bytes per step (${_name}): first 50 steps ${first.toFixed(0)} B, last 50 ${last.toFixed(0)} B, ` +
          `ratio ${(last / first).toFixed(3)}; total ${journal.stats.appendedBytes} B in ${journal.stats.records} records + ${journal.stats.blobBytes} B in ${journal.stats.blobsWritten} blobs`,
      );
      expect(last).toBeLessThan(first * 1.5);
      expect(last).toBeGreaterThan(first / 1.5);
      const state = journal.replay();
      expect(state.messages).toHaveLength(1 + 200 * 2);
      expect(state.modelCalls).toBe(200);
    } finally {
      await s.close();
    }
  });

  it('compacts into a snapshot: replay identical, fewer and smaller records, appends continue, chunks reused', async () => {
    const s = await make();
    try {
      const journal = await RunJournal.open(s.log, s.kv, `run-${id()}`);
      await journal.append(started(journal.runId));
      const add = async (step: number) => {
        await journal.append({
          kind: 'model',
          step,
          message: {
            role: 'assistant',
            content: null,
            toolCalls: [{ id: `c${step}`, name: 't', arguments: '{}' }],
          },
        });
        await journal.append({
          kind: 'tool',
          step,
          callId: `c${step}`,
          name: 't',
          outcome: { ok: true, value: step, durationMs: 1 },
        });
      };
      for (let step = 0; step < 300; step++) await add(step);
      await journal.append({
        kind: 'model',
        step: 300,
        message: {
          role: 'assistant',
          content: null,
          toolCalls: [{ id: 'open', name: 't', arguments: '{}' }],
        },
      });
      await journal.append({ kind: 'approval', step: 300, callId: 'open', state: 'requested' });
      const entries = journal.entries();
      const state = journal.replay();
      const before = await s.log.read(journal.runId);
      const beforeBytes = before.reduce((n, r) => n + r.data.length, 0);

      await journal.compact();
      const after = await s.log.read(journal.runId);
      const afterBytes = after.reduce((n, r) => n + r.data.length, 0);
      console.log(
        `compaction: ${before.length} records / ${beforeBytes} B -> ${after.length} / ${afterBytes} B`,
      );
      expect(after).toHaveLength(1);
      expect(afterBytes).toBeLessThan(beforeBytes / 50);
      expect(journal.stats.records).toBe(1);

      const reopened = await RunJournal.open(s.log, s.kv, journal.runId);
      expect(reopened.entries()).toEqual(entries);
      expect(reopened.replay()).toEqual(state);
      expect(reopened.replay().awaitingApproval.map((c) => c.callId)).toEqual(['open']);

      // The run goes on after the snapshot, and compacts again reusing the chunks that did not change.
      await reopened.append({ kind: 'approval', step: 300, callId: 'open', state: 'rejected', reason: 'no' });
      await reopened.append({
        kind: 'tool',
        step: 300,
        callId: 'open',
        name: 't',
        outcome: { ok: false, code: 'REJECTED', message: 'no', retryable: false, durationMs: 0 },
      });
      const written = reopened.stats.blobsWritten;
      await reopened.compact();
      expect(reopened.stats.blobsWritten - written).toBe(1); // only the last chunk changed
      const again = await RunJournal.open(s.log, s.kv, journal.runId);
      expect(again.entries()).toEqual(reopened.entries());
      expect(again.replay().status).toBe('running');
      expect(again.replay().messages).toHaveLength(1 + 301 * 2);
      expect(await s.log.read(journal.runId)).toHaveLength(1);

      // compactEvery: the journal keeps itself small.
      const auto = await RunJournal.open(s.log, s.kv, `run-${id()}`, { compactEvery: 50 });
      await auto.append(started(auto.runId));
      for (let step = 0; step < 60; step++)
        await auto.append({ kind: 'config', step, changes: { temperature: step / 100 } });
      expect((await s.log.read(auto.runId)).length).toBeLessThanOrEqual(12);
      expect((await RunJournal.open(s.log, s.kv, auto.runId)).replay().config?.temperature).toBe(0.59);
    } finally {
      await s.close();
    }
  });

  it('refuses a damaged journal and a non-entry with codes', async () => {
    const s = await make();
    try {
      const codeOf = (p: Promise<unknown>) =>
        p.then(
          () => 'ok',
          (e: unknown) => (TroupeError.is(e) ? e.code : String(e)),
        );
      for (const garbage of ['not json', '{"kind":"model","step":0,"$b":7}', '{"kind":"nope"}']) {
        const runId = `bad-${id()}`;
        await s.log.append(runId, garbage);
        expect(await codeOf(RunJournal.open(s.log, s.kv, runId))).toBe('JOURNAL_CORRUPT');
      }
      const j = await RunJournal.open(s.log, s.kv, `run-${id()}`);
      expect(await codeOf(j.append({ kind: 'model', step: -1 } as never))).toBe('JOURNAL_INVALID_ENTRY');
      expect(await codeOf(j.append(null as never))).toBe('JOURNAL_INVALID_ENTRY');
      expect(await codeOf(RunJournal.open(s.log, s.kv, ''))).toBe('LOG_INVALID_KEY');
    } finally {
      await s.close();
    }
  });

  it('keeps an index of open runs per agent: started adds, finished or failed removes', async () => {
    const s = await make();
    try {
      const agent = `agent.${id()} with spaces`;
      const runs = [`r1-${id()}`, `r2-${id()}`, `r3-${id()}`];
      const journals = await Promise.all(runs.map((r) => RunJournal.open(s.log, s.kv, r)));
      await Promise.all(journals.map((j) => j.append(started(j.runId, agent))));
      await Promise.all(journals.map((j) => j.flush())); // the index is written beside the records
      expect((await openRuns(s.kv, agent)).sort()).toEqual([...runs].sort());
      expect(await RunJournal.openRuns(s.kv, 'nobody')).toEqual([]);
      await journals[0]?.append({ kind: 'finished', output: 'ok' });
      await journals[1]?.append({ kind: 'failed', code: 'X', message: 'x' });
      // Out of the index after the answer, not before it: by the time close() resolves.
      await journals[0]?.close();
      await journals[1]?.close();
      expect(await openRuns(s.kv, agent)).toEqual([runs[2]]);
      expect(await s.log.read(runs[0] as string)).toHaveLength(1); // an ended run is compacted on close
    } finally {
      await s.close();
    }
  });
});

describe('RunJournal on NATS across a nats-server restart', () => {
  it('keeps its entries and appends again once the server is back', async () => {
    const server = await startNats();
    const log = await natsAppendLog({ servers: server.url, name: 'journal', opTimeoutMs: 500 });
    const kv = await natsKeyValue({ servers: server.url, bucket: 'jblobs', opTimeoutMs: 500 });
    try {
      const runId = `run-${id()}`;
      const journal = await RunJournal.open(log, kv, runId);
      const entries = script(runId);
      for (const e of entries.slice(0, 4)) await journal.append(e);
      const restarting = server.restart(1000);
      await new Promise((r) => setTimeout(r, 200));
      // Appends during the outage reject with a code within the deadline; appending the same entry again is safe
      // (an append that timed out may still have been stored once the connection is back: replay shows it once).
      const codes = new Set<string>();
      for (const e of entries.slice(4)) {
        await expect
          .poll(
            () =>
              journal.append(e).then(
                () => 'ok',
                (err: unknown) => {
                  const c = TroupeError.is(err) ? err.code : String(err);
                  codes.add(c);
                  return c;
                },
              ),
            { timeout: 15_000, interval: 300 },
          )
          .toBe('ok');
      }
      await restarting;
      expect([...codes]).toContain('LOG_UNAVAILABLE');
      const reopened = await RunJournal.open(log, kv, runId);
      expect(reopened.entries()).toEqual(entries);
      expect(reopened.replay().status).toBe('awaiting-approval');
    } finally {
      await log.close();
      await kv.close();
      await server.stop();
    }
  });
});
