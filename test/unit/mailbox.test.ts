// Unit tests of the mailbox: order across bare tells and envelopes, front insertion, growth.

import { describe, expect, it } from 'vitest';
import { Mailbox } from '../../runtime/actor/mailbox.js';
import { type Envelope, EnvelopeKind } from '../../runtime/internal.js';

const env = (n: number): Envelope => ({
  kind: EnvelopeKind.User,
  target: 'n/a',
  sender: 'n/s',
  correlationId: undefined,
  replyTo: undefined,
  deadline: undefined,
  headers: undefined,
  payload: { type: 'e', n },
});

describe('Mailbox', () => {
  it('keeps FIFO order across bare tells and envelopes, through growth and wrap-around', () => {
    const box = new Mailbox('n/a');
    const out: number[] = [];
    let next = 0;
    for (let round = 0; round < 40; round++) {
      for (let i = 0; i < 7; i++) {
        const n = next++;
        if (n % 3 === 0) box.push(env(n));
        else box.pushTell({ type: 't', n });
      }
      for (let i = 0; i < 5; i++) out.push((box.shift()!.payload as { n: number }).n);
    }
    for (let e = box.shift(); e !== undefined; e = box.shift()) out.push((e.payload as { n: number }).n);
    expect(out).toEqual(Array.from({ length: next }, (_, i) => i));
    expect(box.length).toBe(0);
  });

  it('gives a bare tell a full envelope addressed to the mailbox owner when taken out', () => {
    const box = new Mailbox('n/a');
    box.pushTell({ type: 't' });
    expect(box.shift()).toEqual({
      kind: EnvelopeKind.User,
      target: 'n/a',
      sender: undefined,
      correlationId: undefined,
      replyTo: undefined,
      deadline: undefined,
      headers: undefined,
      payload: { type: 't' },
    });
    expect(box.shift()).toBeUndefined();
  });

  it('puts mail back at the front, ahead of queued tells', () => {
    const box = new Mailbox('n/a');
    box.pushTell({ type: 't', n: 2 });
    box.unshift(env(1));
    box.unshift(env(0));
    expect([0, 1, 2].map(() => (box.shift()!.payload as { n: number }).n)).toEqual([0, 1, 2]);
  });
});
