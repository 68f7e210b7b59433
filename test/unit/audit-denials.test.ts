// auditDenials without a network: which dead letters become security records, what a record keeps (never the
// message), how a flood is summed up instead of written one by one, and close().

import { describe, expect, it } from 'vitest';
import { auditDenials, auditLog, denialRecord } from '../../agents/index.js';
import {
  type AppendLog,
  type DeadLetter,
  type DeadLetters,
  memoryAppendLog,
  silentLogger,
} from '../../runtime/index.js';

/** A node whose dead letters the test emits by hand. */
function fakeNode(nodeId = 'n1') {
  const listeners = new Set<(letter: DeadLetter) => void>();
  const deadLetters: DeadLetters = {
    count: 0,
    byReason: () => ({}),
    recent: () => [],
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
  return {
    nodeId,
    deadLetters,
    listeners,
    emit(letter: Partial<DeadLetter> & { reason: string }) {
      for (const l of listeners) l({ address: 'n1/rec', at: 1000, ...letter });
    },
  };
}

/** A memory log whose appends wait until released, to hold records in flight. */
function gatedLog(): { log: AppendLog; appends: () => number; release: () => void } {
  const inner = memoryAppendLog();
  let open: (() => void) | undefined;
  let gate = new Promise<void>((r) => {
    open = r;
  });
  let appends = 0;
  const log: AppendLog = {
    append: async (key, data) => {
      appends++;
      await gate;
      return inner.append(key, data);
    },
    read: (key, options) => inner.read(key, options),
    purge: (key, before) => inner.purge(key, before),
    close: () => inner.close(),
  };
  return {
    log,
    appends: () => appends,
    release: () => {
      open?.();
      gate = Promise.resolve();
    },
  };
}

describe('auditDenials', () => {
  it('records the security dead letters only, without their message', async () => {
    const node = fakeNode();
    const audit = auditLog(memoryAppendLog(), { logger: silentLogger });
    const denials = auditDenials(node, audit);
    node.emit({
      reason: 'ACL_DENIED',
      message: { type: 'note', secret: 'S3CRET' },
      sender: 'gamma/x',
      error: { code: 'ACL_DENIED', message: 'gamma may not send this', data: { signer: 'gamma' } },
    });
    node.emit({ reason: 'ACTOR_NOT_FOUND', message: { type: 'note' } });
    node.emit({
      reason: 'UNSIGNED_FRAME',
      error: { code: 'UNSIGNED_FRAME', message: 'unsigned', data: { subject: 'troupe.x.n1.rec' } },
    });
    await denials.close();
    const records = await audit.query({ kind: 'security' });
    expect(records.map((r) => r.code)).toEqual(['ACL_DENIED', 'UNSIGNED_FRAME']);
    expect(records[0]).toEqual({
      kind: 'security',
      at: 1000,
      node: 'n1',
      code: 'ACL_DENIED',
      target: 'n1/rec',
      signer: 'gamma',
      sender: 'gamma/x',
      detail: 'gamma may not send this',
      seq: records[0]?.seq,
    });
    expect(records[1]).toMatchObject({ subject: 'troupe.x.n1.rec' });
    expect(JSON.stringify(records)).not.toContain('S3CRET');
    expect(denials.audited).toBe(2);
    // Agents' queries do not see them; security queries see nothing else.
    expect(await audit.query()).toEqual([]);
    expect(await audit.query({ kind: 'security', since: 2000 })).toEqual([]);
    // After close, nothing more is recorded; closing again is harmless.
    node.emit({ reason: 'BAD_SIGNATURE' });
    await denials.close();
    await denials[Symbol.asyncDispose]();
    expect(node.listeners.size).toBe(0);
    expect(await audit.query({ kind: 'security' })).toHaveLength(2);
  });

  it('sums up a flood beyond maxPending into one record per code', async () => {
    const node = fakeNode();
    const gated = gatedLog();
    const audit = auditLog(gated.log, { logger: silentLogger });
    const denials = auditDenials(node, audit, { maxPending: 2 });
    for (let i = 0; i < 50; i++) node.emit({ reason: i % 2 === 0 ? 'BAD_SIGNATURE' : 'UNKNOWN_SIGNER' });
    // Two in flight, the other 48 held as two sums.
    expect(gated.appends()).toBe(2);
    gated.release();
    await denials.close();
    const records = await audit.query({ kind: 'security', limit: 1000 });
    expect(records).toHaveLength(4);
    expect(records.reduce((n, r) => n + (r.count ?? 1), 0)).toBe(50);
    expect(denials.audited).toBe(50);
  });

  it('takes other codes, and refuses bad options with INVALID_OPTIONS', async () => {
    const node = fakeNode();
    const audit = auditLog(memoryAppendLog(), { logger: silentLogger });
    const denials = auditDenials(node, audit, { codes: ['MALFORMED_FRAME'] });
    node.emit({ reason: 'MALFORMED_FRAME' });
    node.emit({ reason: 'ACL_DENIED' });
    await denials.close();
    expect((await audit.query({ kind: 'security' })).map((r) => r.code)).toEqual(['MALFORMED_FRAME']);
    expect(() => auditDenials(node, audit, { maxPending: 0 })).toThrow(/maxPending/);
    expect(() => auditDenials(node, audit, { codes: [''] })).toThrow(/codes/);
  });

  it('clips what came off the wire', () => {
    const record = denialRecord('n1', {
      address: 'a'.repeat(1000),
      reason: 'UNKNOWN_SIGNER',
      at: 5,
      error: { code: 'UNKNOWN_SIGNER', message: 'm', data: { signer: 's'.repeat(1000), subject: 7 } },
    });
    expect(record.target).toHaveLength(300);
    expect(record.signer).toHaveLength(100);
    expect(record.subject).toBeUndefined();
  });
});
