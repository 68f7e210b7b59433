// Freshness of a signed fleet's control frames: each carries its send time and its sender's incarnation and
// sequence inside the signed bytes; a receiver refuses one sent outside its window, one no newer than the last
// heard from that incarnation, and one from an earlier incarnation (STALE_FRAME). Pure: no server, time by hand.

import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../runtime/index.js';
import {
  type ControlChannel,
  ControlRefusalCode,
  defaultFreshnessMs,
  FrameSecurity,
  type NatsSecurityOptions,
  resolveSecurityOptions,
  type SignedMessage,
} from '../../transport/nats/security.js';

const keys = { a: generateKeyPairSync('ed25519'), b: generateKeyPairSync('ed25519') };
const publicKeys = { a: keys.a.publicKey, b: keys.b.publicKey };
const options = (node: 'a' | 'b', extra: Partial<NatsSecurityOptions> = {}): NatsSecurityOptions => ({
  signing: { privateKey: keys[node].privateKey, publicKeys },
  ...extra,
});
const WINDOW = 5000;

/** A node's frame security on `clock` (a sender, or the receiver). */
const frames = (node: 'a' | 'b', clock: ManualClock) =>
  new FrameSecurity(resolveSecurityOptions(options(node))!, node, undefined, { clock, freshnessMs: WINDOW });

/** A message as the receiver gets it: the frame's bytes and headers on the members subject. */
function message(frame: { data: Uint8Array; headers: SignedMessage['headers'] }): SignedMessage {
  return { subject: 'troupe.t.$members', data: frame.data, headers: frame.headers };
}

/** True when `receiver` accepts `msg` as a control frame from `about`. */
function accepts(
  receiver: FrameSecurity,
  msg: SignedMessage,
  about = 'a',
  channel: ControlChannel = 'members',
) {
  const stamp = (JSON.parse(new TextDecoder().decode(msg.data)) as { stamp?: unknown }).stamp;
  return receiver.controlFrom(msg, about, channel, stamp);
}

describe('control frame freshness', () => {
  it('stamps each frame with its send time, incarnation and a rising sequence, inside the signed bytes', () => {
    const clock = new ManualClock(1_700_000_000_000);
    const a = frames('a', clock);
    const first = JSON.parse(new TextDecoder().decode(a.controlFrame({ v: 1, kind: 'beat' }).data));
    clock.advance(100);
    const second = JSON.parse(new TextDecoder().decode(a.controlFrame({ v: 1, kind: 'beat' }).data));
    expect(first).toMatchObject({ v: 1, kind: 'beat', stamp: { at: 1_700_000_000_000, seq: 1 } });
    expect(second.stamp).toEqual({ ...first.stamp, at: 1_700_000_000_100, seq: 2 });
    expect(first.stamp.since).toBe(1_700_000_000_000);
    expect(first.stamp.inc).toMatch(/^[0-9a-f]{16}$/);
  });

  it('accepts each frame once and in order; a replay or an older one is STALE_FRAME', () => {
    const clock = new ManualClock(1_700_000_000_000);
    const a = frames('a', clock);
    const b = frames('b', clock);
    const f1 = message(a.controlFrame({ v: 1 }));
    const f2 = message(a.controlFrame({ v: 1 }));
    expect(accepts(b, f1)).toBe(true);
    expect(accepts(b, f1)).toBe(false); // replayed
    expect(accepts(b, f2)).toBe(true);
    expect(accepts(b, f1)).toBe(false); // older
    expect(accepts(b, f2)).toBe(false);
    expect(b.controlRefused).toEqual({
      ...Object.fromEntries(Object.values(ControlRefusalCode).map((c) => [c, 0])),
      STALE_FRAME: 3,
    });
    // Channels are ordered apart: a notice's sequence says nothing about beats.
    const notice = message(a.controlFrame({ released: 'x.1', by: 'a' }));
    expect(accepts(b, notice, 'a', 'shards')).toBe(true);
    expect(accepts(b, notice, 'a', 'shards')).toBe(false);
  });

  it('refuses a frame sent outside the window by the receiver’s clock, either way', () => {
    const sender = new ManualClock(1_700_000_000_000);
    const receiver = new ManualClock(1_700_000_000_000 + WINDOW + 1);
    const a = frames('a', sender);
    const b = frames('b', receiver);
    expect(accepts(b, message(a.controlFrame({ v: 1 })))).toBe(false); // too old
    const ahead = frames('b', new ManualClock(1_700_000_000_000 - WINDOW - 1));
    expect(accepts(ahead, message(a.controlFrame({ v: 1 })))).toBe(false); // from the future
    // Skew within the window is fine.
    const skewed = frames('b', new ManualClock(1_700_000_000_000 + WINDOW - 10));
    expect(accepts(skewed, message(a.controlFrame({ v: 1 })))).toBe(true);
    expect(b.controlRefused.STALE_FRAME).toBe(1);
    expect(ahead.controlRefused.STALE_FRAME).toBe(1);
  });

  it('refuses a frame without a valid stamp, signature and signer being fine', () => {
    const clock = new ManualClock(1_700_000_000_000);
    const a = frames('a', clock);
    const b = frames('b', clock);
    const data = new TextEncoder().encode(JSON.stringify({ v: 1 }));
    const bare = { subject: 'troupe.t.$members', data, headers: a.headers(data) };
    expect(b.controlFrom(bare, 'a', 'members', undefined)).toBe(false);
    for (const stamp of [
      { at: clock.now(), since: clock.now(), inc: 'x', seq: 0 },
      { at: clock.now(), since: clock.now(), inc: '', seq: 1 },
      { at: 'now', since: clock.now(), inc: 'x', seq: 1 },
      { at: clock.now(), since: clock.now(), inc: 'x'.repeat(65), seq: 1 },
    ])
      expect(b.controlFrom(bare, 'a', 'members', stamp)).toBe(false);
    expect(b.controlRefused.STALE_FRAME).toBe(5);
    // The signer check comes first: another node's stamped frame is WRONG_SIGNER, not stale.
    expect(accepts(b, message(a.controlFrame({ v: 1 })), 'b')).toBe(false);
    expect(b.controlRefused.WRONG_SIGNER).toBe(1);
  });

  it('accepts a restarted node (a later incarnation) at once, and refuses its previous run’s frames', () => {
    const clock = new ManualClock(1_700_000_000_000);
    const b = frames('b', clock);
    const run1 = frames('a', clock);
    const old = [1, 2, 3].map(() => message(run1.controlFrame({ v: 1 })));
    for (const f of old) expect(accepts(b, f)).toBe(true);
    clock.advance(50);
    const run2 = frames('a', clock); // same id, same key, its sequence starts again
    const fresh = message(run2.controlFrame({ v: 1 }));
    expect(JSON.parse(new TextDecoder().decode(fresh.data)).stamp.seq).toBe(1);
    expect(accepts(b, fresh)).toBe(true);
    for (const f of old) expect(accepts(b, f)).toBe(false);
    expect(accepts(b, message(run2.controlFrame({ v: 1 })))).toBe(true);
    expect(b.controlRefused.STALE_FRAME).toBe(3);
  });

  it('forgets a silent sender after the window: a run restarted with its clock behind is heard again', () => {
    const clock = new ManualClock(1_700_000_000_000);
    const b = frames('b', clock);
    const run1 = frames('a', clock);
    const last = message(run1.controlFrame({ v: 1 }));
    expect(accepts(b, last)).toBe(true);
    // a restarts on a clock 2 s behind: an earlier incarnation by its start time, refused while run1 is recent.
    const behind = new ManualClock(clock.now() - 2000 + 1000);
    clock.advance(1000);
    const run2 = frames('a', behind);
    expect(accepts(b, message(run2.controlFrame({ v: 1 })))).toBe(false);
    // One window after run1's last frame, run2 is heard; run1's frames are outside the window by then.
    clock.advance(WINDOW);
    behind.advance(WINDOW);
    expect(accepts(b, last)).toBe(false);
    expect(accepts(b, message(run2.controlFrame({ v: 1 })))).toBe(true);
  });

  it('takes freshnessMs from the options, checked; defaults to five failure timeouts, at least 10 s', () => {
    expect(resolveSecurityOptions(options('a', { freshnessMs: 1234 }))!.freshnessMs).toBe(1234);
    expect(resolveSecurityOptions(options('a'))!.freshnessMs).toBeUndefined();
    for (const bad of [0, -1, 1.5, '10s'])
      expect(() => resolveSecurityOptions(options('a', { freshnessMs: bad as number }))).toThrow(
        /security\.freshnessMs/,
      );
    expect(defaultFreshnessMs(2000)).toBe(10_000);
    expect(defaultFreshnessMs(600)).toBe(10_000);
    expect(defaultFreshnessMs(5000)).toBe(25_000);
    // Given to the frame security, the option sets its window.
    const clock = new ManualClock(1_700_000_000_000);
    const a = frames('a', clock);
    const b = new FrameSecurity(resolveSecurityOptions(options('b', { freshnessMs: 100 }))!, 'b', undefined, {
      clock: new ManualClock(1_700_000_000_000 + 101),
    });
    expect(accepts(b, message(a.controlFrame({ v: 1 })))).toBe(false);
  });
});
