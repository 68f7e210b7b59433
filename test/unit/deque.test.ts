// Unit tests of the mailbox ring buffer.

import { describe, expect, it } from 'vitest';
import { DeadLetterOffice } from '../../runtime/core/dead-letters.js';
import { Deque } from '../../runtime/internal.js';

describe('Deque', () => {
  it('keeps FIFO order through growth and wrap-around', () => {
    const d = new Deque<number>(4);
    const out: number[] = [];
    let next = 0;
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 7; i++) d.push(next++);
      for (let i = 0; i < 5; i++) out.push(d.shift()!);
    }
    out.push(...d.drainAll());
    expect(out).toEqual(Array.from({ length: next }, (_, i) => i));
    expect(d.length).toBe(0);
    expect(d.shift()).toBeUndefined();
  });

  it('unshifts to the front, ahead of queued items', () => {
    const d = new Deque<string>();
    d.push('c');
    d.push('d');
    d.unshift('b');
    d.unshift('a');
    expect(d.peek()).toBe('a');
    expect(d.drainAll()).toEqual(['a', 'b', 'c', 'd']);
  });

  it('pops the newest item, also across wrap-around', () => {
    const d = new Deque<number>(4);
    expect(d.pop()).toBeUndefined();
    for (let i = 0; i < 3; i++) d.push(i);
    d.shift();
    d.shift();
    for (let i = 3; i < 6; i++) d.push(i);
    expect(d.pop()).toBe(5);
    d.push(6);
    d.unshift(1);
    expect(d.pop()).toBe(6);
    expect(d.length).toBe(4);
    expect(d.drainAll()).toEqual([1, 2, 3, 4]);
    expect(d.pop()).toBeUndefined();
  });
});

describe('DeadLetterOffice', () => {
  it('counts by reason, keeps a bounded recent buffer, and survives a throwing listener', () => {
    const office = new DeadLetterOffice(2);
    const seen: string[] = [];
    office.subscribe(() => {
      throw new Error('bad observer');
    });
    const unsubscribe = office.subscribe((l) => seen.push(l.reason));
    for (const reason of ['A', 'B', 'A']) office.record({ address: 'n/x', reason, at: 0 });
    unsubscribe();
    office.record({ address: 'n/x', reason: 'C', at: 0 });
    expect(office.count).toBe(4);
    expect(office.byReason()).toEqual({ A: 2, B: 1, C: 1 });
    expect(office.recent().map((l) => l.reason)).toEqual(['A', 'C']);
    expect(seen).toEqual(['A', 'B', 'A']);
  });
});
