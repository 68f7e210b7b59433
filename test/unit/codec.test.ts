// Unit tests of the msgpackr codec: round trips, limits and every kind of bad frame.

import { isNativeAccelerationEnabled, pack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { ErrorCode, TroupeError } from '../../runtime/index.js';
import { type Envelope, EnvelopeKind } from '../../runtime/internal.js';
import { BATCH_MARKER, createCodec, packBatch, WIRE_VERSION } from '../../transport/index.js';

const envelope: Envelope = {
  kind: EnvelopeKind.User,
  target: 'node/a/b',
  sender: 'other/x',
  correlationId: 'k1',
  replyTo: 'other/$r/k1',
  deadline: 1_700_000_000_000,
  headers: { traceparent: '00-abc-def-01' },
  payload: { type: 'hello', n: 1, list: [1, 'a', null], nested: { ok: true } },
};

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return TroupeError.is(err) ? err.code : `not a TroupeError: ${String(err)}`;
  }
  return undefined;
}

describe('codec', () => {
  it('round-trips every envelope field', () => {
    const codec = createCodec();
    expect(codec.decode(codec.encode(envelope))).toEqual(envelope);
    const minimal: Envelope = {
      ...envelope,
      sender: undefined,
      correlationId: undefined,
      replyTo: undefined,
      deadline: undefined,
      headers: undefined,
    };
    expect(codec.decode(codec.encode(minimal))).toEqual(minimal);
  });

  it('uses the native msgpackr extractor on this machine', () => {
    createCodec().decode(createCodec().encode(envelope));
    expect(isNativeAccelerationEnabled).toBe(true);
  });

  it('refuses to encode a frame over the limit, and to decode one', () => {
    const codec = createCodec({ maxFrameBytes: 256 });
    expect(codeOf(() => codec.encode({ ...envelope, payload: 'x'.repeat(300) }))).toBe(
      ErrorCode.PayloadTooLarge,
    );
    const big = createCodec().encode({ ...envelope, payload: 'x'.repeat(300) });
    expect(codeOf(() => codec.decode(big))).toBe(ErrorCode.PayloadTooLarge);
  });

  it.each([
    ['an empty frame', new Uint8Array()],
    ['garbage bytes', new Uint8Array([0xc1, 0xc1, 0xc1])],
    ['a truncated frame', createCodec().encode(envelope).slice(0, 20)],
    ['a map instead of an array', pack({ target: 'a/b' })],
    ['an array of the wrong length', pack([WIRE_VERSION, 0, 'a/b'])],
    ['an unknown version', pack([99, 0, 'a/b', null, null, null, null, null, {}])],
    ['an unknown kind', pack([WIRE_VERSION, 7, 'a/b', null, null, null, null, null, {}])],
    ['an empty target', pack([WIRE_VERSION, 0, '', null, null, null, null, null, {}])],
    ['a numeric sender', pack([WIRE_VERSION, 0, 'a/b', 5, null, null, null, null, {}])],
    ['a string deadline', pack([WIRE_VERSION, 0, 'a/b', null, null, null, 'soon', null, {}])],
    ['non-string header values', pack([WIRE_VERSION, 0, 'a/b', null, null, null, null, { a: 1 }, {}])],
  ])('rejects %s with MALFORMED_FRAME', (_name, frame) => {
    expect(codeOf(() => createCodec().decode(frame))).toBe(ErrorCode.MalformedFrame);
  });

  it('does not let a frame pollute prototypes', () => {
    const frame = pack([
      WIRE_VERSION,
      0,
      'a/b',
      null,
      null,
      null,
      null,
      null,
      JSON.parse('{"__proto__":{"polluted":1}}'),
    ]);
    createCodec().decode(frame);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses a payload it cannot encode with INVALID_MESSAGE', () => {
    const codec = createCodec();
    expect(codeOf(() => codec.encode({ ...envelope, payload: { f: 10n ** 30n } }))).toBe(
      ErrorCode.InvalidMessage,
    );
  });

  it('validates its options', () => {
    expect(() => createCodec({ maxFrameBytes: 10 })).toThrowError(
      expect.objectContaining({ field: 'maxFrameBytes' }),
    );
  });
});

describe('batch frames', () => {
  it('round-trips several frames and turns bad ones into errors, not exceptions', () => {
    const codec = createCodec({ maxFrameBytes: 256 });
    const frames = [1, 2, 3].map((n) => codec.encode({ ...envelope, payload: { type: 'x', n } }));
    const batch = packBatch(
      frames,
      frames.reduce((a, f) => a + f.length, 0),
    );
    expect(batch[0]).toBe(BATCH_MARKER);
    const decoded = codec.decodeBatch(batch);
    expect(decoded.map((e) => ((e as Envelope).payload as { n: number }).n)).toEqual([1, 2, 3]);
    // A frame over this side's limit is reported on its own; its neighbours still arrive.
    const notEnvelope = pack({ hello: 'world' });
    const big = createCodec().encode({ ...envelope, payload: 'x'.repeat(300) });
    const mixed = packBatch(
      [frames[0]!, big, frames[2]!],
      frames[0]!.length + big.length + frames[2]!.length,
    );
    const out = codec.decodeBatch(mixed);
    expect(out.map((e) => (e instanceof TroupeError ? e.code : 'ok'))).toEqual([
      'ok',
      ErrorCode.PayloadTooLarge,
      'ok',
    ]);
    // A value that is no envelope never comes from a sender: the batch is forged, and one error stands for
    // the rest of it, so a frame of many tiny bad entries costs one dead letter, not one per byte.
    const forged = packBatch(
      [frames[0]!, notEnvelope, frames[2]!, notEnvelope],
      frames[0]!.length + 2 * notEnvelope.length + frames[2]!.length,
    );
    expect(codec.decodeBatch(forged).map((e) => (e instanceof TroupeError ? e.code : 'ok'))).toEqual([
      'ok',
      ErrorCode.MalformedFrame,
    ]);
    // Truncated or empty: one error stands for what cannot be read.
    const cut = codec.decodeBatch(batch.slice(0, batch.length - 3));
    expect(cut.at(-1)).toBeInstanceOf(TroupeError);
    expect((codec.decodeBatch(new Uint8Array([BATCH_MARKER]))[0] as TroupeError).code).toBe(
      ErrorCode.MalformedFrame,
    );
    // A batch is never mistaken for an envelope by the single-frame decoder.
    expect(codeOf(() => createCodec().decode(batch))).toBe(ErrorCode.MalformedFrame);
  });
});
