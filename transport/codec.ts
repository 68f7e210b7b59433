// The msgpackr codec: envelopes as compact fixed-position arrays, checked on the way in.

import { Packr } from 'msgpackr';
import { ErrorCode, TroupeError } from '../runtime/index.js';
import {
  assertHeaders,
  type Codec,
  type Envelope,
  EnvelopeKind,
  intOption,
  type Rejected,
} from '../runtime/internal.js';

/** Version tag in every frame, so a future layout can be told apart. */
export const WIRE_VERSION = 1;

/** Largest frame by default: NATS' default `max_payload`. */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;
/** Smallest `maxFrameBytes` allowed: room for an envelope's fixed fields. */
export const MIN_FRAME_BYTES = 64;

/** Options of {@link createCodec}. */
export interface CodecOptions {
  /**
   * Frames above this size are refused when encoding and when decoding.
   * @defaultValue 1 MiB
   */
  maxFrameBytes?: number;
}

function malformed(message: string, cause?: unknown): TroupeError {
  return new TroupeError(
    ErrorCode.MalformedFrame,
    `malformed frame: ${message}`,
    cause === undefined ? undefined : { cause },
  );
}

const KINDS = new Set<number>(Object.values(EnvelopeKind));

function optionalString(value: unknown, field: string): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value !== 'string') throw malformed(`${field} must be a string`);
  return value;
}

function headersOf(value: unknown): Record<string, string> | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw malformed('headers must be a map');
  for (const v of Object.values(value))
    if (typeof v !== 'string') throw malformed('header values must be strings');
  return value as Record<string, string>;
}

/** msgpackr's hook for functions, which it would otherwise drop without a word: refuse them instead. */
function refuseFunction(): never {
  throw new Error('a function cannot be sent (functions do not cross the wire)');
}

/** The msgpackr codec: a {@link Codec} that also reads batch frames. */
export interface BatchCodec extends Codec {
  /** Decodes a batch frame ({@link packBatch}): one entry per frame, an error for each frame that is bad. */
  decodeBatch(batch: Uint8Array): (Envelope | TroupeError)[];
}

/**
 * Creates the msgpackr codec. The wire layout is
 * `[version, kind, target, sender, correlationId, replyTo, deadline, headers, payload]` (absent fields are nil).
 *
 * @example
 * const codec = createCodec({ maxFrameBytes: 64 * 1024 });
 * const frame = codec.encode(envelope);
 */
export function createCodec(options: CodecOptions = {}): BatchCodec {
  const maxFrameBytes = intOption(
    options.maxFrameBytes,
    'maxFrameBytes',
    DEFAULT_MAX_FRAME_BYTES,
    MIN_FRAME_BYTES,
  );
  // Plain maps, not records: frames stay self-describing for any process (or language) that reads them.
  // `writeFunction` is only called for functions, so refusing them costs the hot path nothing.
  const packr = new Packr({ useRecords: false, mapsAsObjects: true, writeFunction: refuseFunction });
  return {
    maxFrameBytes,
    encode(envelope: Envelope): Uint8Array {
      if (envelope.headers !== undefined) assertHeaders(envelope.headers, envelope.target);
      let frame: Uint8Array;
      try {
        frame = packr.pack([
          WIRE_VERSION,
          envelope.kind,
          envelope.target,
          envelope.sender ?? null,
          envelope.correlationId ?? null,
          envelope.replyTo ?? null,
          envelope.deadline ?? null,
          envelope.headers ?? null,
          envelope.payload,
        ]);
      } catch (err) {
        throw new TroupeError(
          ErrorCode.InvalidMessage,
          `message to ${envelope.target} cannot be encoded: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      }
      if (frame.length > maxFrameBytes) {
        throw new TroupeError(
          ErrorCode.PayloadTooLarge,
          `message to ${envelope.target} is ${frame.length} bytes encoded; the limit is ${maxFrameBytes}`,
          { data: { size: frame.length, limit: maxFrameBytes } },
        );
      }
      return frame;
    },
    decode(frame: Uint8Array): Envelope {
      if (frame.length > maxFrameBytes) {
        throw new TroupeError(
          ErrorCode.PayloadTooLarge,
          `frame of ${frame.length} bytes exceeds the limit of ${maxFrameBytes}`,
          {
            data: { size: frame.length, limit: maxFrameBytes },
          },
        );
      }
      if (frame.length === 0) throw malformed('empty frame');
      let value: unknown;
      try {
        value = packr.unpack(frame);
      } catch (err) {
        throw malformed((err as Error).message, err);
      }
      return toEnvelope(value);
    },
    decodeBatch(batch: Uint8Array): (Envelope | TroupeError)[] {
      const out: (Envelope | TroupeError)[] = [];
      if (batch[0] !== BATCH_MARKER || batch.length < 2) return [malformed('empty or unmarked batch')];
      try {
        // One unpack over the whole batch: msgpackr's native string extraction then runs once per batch.
        packr.unpackMultiple(batch.subarray(1), (value: unknown, start = 0, end = 0) => {
          if (end - start > maxFrameBytes) {
            out.push(
              new TroupeError(
                ErrorCode.PayloadTooLarge,
                `frame of ${end - start} bytes exceeds the limit of ${maxFrameBytes}`,
                {
                  data: { size: end - start, limit: maxFrameBytes },
                },
              ),
            );
            // Each such entry is over the limit, so their number is bounded by the batch's size: the
            // neighbours (a sender with a larger limit) still arrive.
            return undefined;
          }
          try {
            out.push(toEnvelope(value));
          } catch (err) {
            // Senders never batch a bad frame: the batch is forged or corrupt, and one dead letter stands
            // for the rest of it (a frame of N one-byte entries must not cost N letters).
            out.push(err as TroupeError);
            return false;
          }
          return undefined;
        });
      } catch (err) {
        // The rest of the batch cannot be read: one dead letter stands for it.
        out.push(malformed((err as Error).message, err));
      }
      return out;
    },
  };
}

/** A decoded wire value as an envelope, every field checked; throws `MALFORMED_FRAME`. */
function toEnvelope(value: unknown): Envelope {
  if (!Array.isArray(value) || value.length !== 9) throw malformed('not an envelope');
  if (value[0] !== WIRE_VERSION) throw malformed(`unsupported wire version ${String(value[0])}`);
  const kind = value[1];
  if (typeof kind !== 'number' || !KINDS.has(kind)) throw malformed(`unknown envelope kind ${String(kind)}`);
  const target = value[2];
  if (typeof target !== 'string' || target.length === 0) throw malformed('target must be a non-empty string');
  const deadline = value[6];
  if (deadline !== null && deadline !== undefined && typeof deadline !== 'number') {
    throw malformed('deadline must be a number');
  }
  return {
    kind: kind as EnvelopeKind,
    target,
    sender: optionalString(value[3], 'sender'),
    correlationId: optionalString(value[4], 'correlationId'),
    replyTo: optionalString(value[5], 'replyTo'),
    deadline: deadline ?? undefined,
    headers: headersOf(value[7]),
    payload: value[8],
  };
}

/**
 * One frame, decoded; never throws: a frame that is malformed or too large gives its error (`MALFORMED_FRAME`,
 * `PAYLOAD_TOO_LARGE`) instead.
 */
export function decodeFrame(codec: Codec, frame: Uint8Array): Envelope | TroupeError {
  try {
    return codec.decode(frame);
  } catch (err) {
    return TroupeError.is(err) ? err : malformed((err as Error).message, err);
  }
}

/**
 * The entries of one frame or of a batch frame, in order: an envelope, or the error of an entry that does not
 * decode (see {@link BatchCodec.decodeBatch}). Never throws.
 */
export function decodeFrames(codec: BatchCodec, data: Uint8Array): (Envelope | TroupeError)[] {
  return data[0] === BATCH_MARKER ? codec.decodeBatch(data) : [decodeFrame(codec, data)];
}

/** The dead letter of what arrived for `address` and does not decode: its code and error as they travel. */
export function undecodable(address: string, error: TroupeError): Rejected {
  return { address, reason: error.code, error: TroupeError.toWire(error) };
}

/**
 * First byte of a batch frame. 0xc1 is the one byte msgpack never uses, so a batch can never be mistaken for
 * a single envelope (and a reader that knows no batches rejects it as malformed rather than misreading it).
 */
export const BATCH_MARKER = 0xc1;

/**
 * Joins encoded frames into one batch frame: the marker, then the frames back to back (msgpack values are
 * self-delimiting, so no lengths are needed).
 */
export function packBatch(frames: readonly Uint8Array[], totalBytes: number): Uint8Array {
  const out = new Uint8Array(1 + totalBytes);
  out[0] = BATCH_MARKER;
  let at = 1;
  for (const frame of frames) {
    out.set(frame, at);
    at += frame.length;
  }
  return out;
}
