// The contract for turning envelopes into frames and back; the msgpackr implementation lives in transport/.

import type { Envelope } from '../core/envelope.js';

/**
 * Encodes envelopes to bytes and back.
 *
 * `encode` throws a `TroupeError` with code `PAYLOAD_TOO_LARGE` when the frame would exceed `maxFrameBytes`.
 * `decode` throws a `TroupeError` with code `MALFORMED_FRAME` or `PAYLOAD_TOO_LARGE` for bad input; it never
 * returns a half-valid envelope.
 */
export interface Codec {
  readonly maxFrameBytes: number;
  encode(envelope: Envelope): Uint8Array;
  decode(frame: Uint8Array): Envelope;
}
