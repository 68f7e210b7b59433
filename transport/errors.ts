// Errors raised by transports: the runtime's error class with transport-specific codes.

import { TroupeError } from '../runtime/index.js';

/** Codes of the errors transports raise (on top of the runtime's `PAYLOAD_TOO_LARGE`, `MALFORMED_FRAME`, ...). */
export const TransportErrorCode = {
  NotBound: 'TRANSPORT_NOT_BOUND',
  AlreadyBound: 'TRANSPORT_ALREADY_BOUND',
  Closed: 'TRANSPORT_CLOSED',
  Connect: 'TRANSPORT_CONNECT_FAILED',
} as const;

/** An error from a transport; `code` is one of {@link TransportErrorCode} or a runtime code. */
export class TransportError extends TroupeError {
  override readonly name = 'TransportError';
}
