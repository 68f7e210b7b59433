// The fuzz scenario's short run: forged frames at every subject a node listens on must not crash it, deafen
// it, slow it down per frame, or change what its actors answer; and dead letters must not hold memory.

import { describe, expect, it } from 'vitest';
import { runFuzz } from '../../chaos/scenarios/fuzz.js';
import { DeadLetterOffice, MAX_RETAINED_MESSAGE_BYTES } from '../../runtime/core/dead-letters.js';

/** Generous: a node decodes and dead-letters a bad frame in a few microseconds. */
const MAX_CPU_MICROS_PER_FRAME = 200;
const quiet = { short: true, minutes: 0, log: () => undefined };

describe('fuzz', () => {
  it('survives 12,000 forged frames, answering right between batches at bounded CPU per frame', async () => {
    const result = await runFuzz(quiet, { frames: 12_000 });
    const context = JSON.stringify(
      { notes: result.summary.notes, failures: result.checkFailures, deadLetters: result.deadLetters },
      null,
      1,
    );
    expect(result.summary.nodeCrashes, context).toBe(0);
    expect(result.checkFailures, context).toEqual([]);
    expect(result.framesSent, context).toBeGreaterThanOrEqual(10_000);
    expect(result.checksCorrect).toBe(result.checks);
    expect(result.summary.neverSettled, context).toBe(0);
    expect(result.cpuMicrosPerFrame, context).toBeLessThan(MAX_CPU_MICROS_PER_FRAME);
  }, 120_000);

  it('keeps memory flat under a flood of dead letters carrying binary payloads', async () => {
    // Only actor-subject frames, then 30,000 frames to a missing actor, half of them with a 16 KiB binary.
    const result = await runFuzz(quiet, {
      frames: 500,
      only: /^actor\//,
      memoryFlood: 30_000,
      floodBlobBytes: 16 * 1024,
    });
    const context = JSON.stringify(result.memory, null, 1);
    expect(result.summary.nodeCrashes, context).toBe(0);
    expect(result.checkFailures, context).toEqual([]);
    const [before, ...after] = result.memory;
    expect(after.length).toBe(3);
    for (const point of after) {
      expect(point.retainedDeadLetters).toBe(1000);
      // 1000 letters each pinning a 16 KiB view (or the read buffer behind it) would be 16 MiB and more.
      expect(point.arrayBuffersMb - before!.arrayBuffersMb, context).toBeLessThan(4);
      expect(point.heapUsedMb - before!.heapUsedMb, context).toBeLessThan(16);
    }
    // A plateau: the last 20,000 frames add little.
    expect(after[2]!.rssMb - after[0]!.rssMb, context).toBeLessThan(48);
  }, 120_000);
});

describe('DeadLetterOffice retention', () => {
  it('keeps small messages as they are and trims what would hold memory', () => {
    const office = new DeadLetterOffice(3);
    const small = { type: 'add', n: 1 };
    const backing = new Uint8Array(1 << 20);
    const view = backing.subarray(10, 110);
    const seen: unknown[] = [];
    office.subscribe((l) => seen.push(l.message));
    office.record({ address: 'n/a', reason: 'A', message: small, at: 0 });
    office.record({ address: 'n/a', reason: 'A', message: { type: 'b', view, big: backing }, at: 1 });
    office.record({ address: 'n/a', reason: 'A', message: { type: 'c', text: 'x'.repeat(10_000) }, at: 2 });
    office.record({ address: 'n/a', reason: 'B', message: 'last', at: 3 });
    const recent = office.recent();
    expect(recent.map((l) => l.at)).toEqual([1, 2, 3]);
    const kept = recent[0]!.message as { view: Uint8Array; big: unknown };
    expect(kept.view).toEqual(view);
    expect(kept.view.buffer.byteLength).toBe(100);
    expect(kept.big).toBe(`[binary: ${1 << 20} bytes]`);
    expect(recent[1]!.message).toEqual({
      type: 'c',
      $truncated: expect.stringContaining(String(MAX_RETAINED_MESSAGE_BYTES)),
    });
    expect(seen[1]).toMatchObject({ big: backing });
    expect(office.count).toBe(4);
    expect(office.byReason()).toEqual({ A: 3, B: 1 });
    office.record({ address: 'n/a', reason: 'A', message: small, at: 4 });
    expect(office.recent().at(-1)!.message).toBe(small);
  });
});
