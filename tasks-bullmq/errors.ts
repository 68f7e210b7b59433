// Errors of the BullMQ adapter: the runtime's error class, with the same connection code the transports use.

import { TroupeError } from '../runtime/index.js';

/** Codes the BullMQ adapter raises on top of the runtime's task codes. */
export const BullmqErrorCode = {
  /** Redis did not answer in time; the same code as a transport's, so callers check one code for both. */
  Connect: 'TRANSPORT_CONNECT_FAILED',
} as const;

/** An error from the BullMQ adapter; `code` is one of {@link BullmqErrorCode}. */
export class BullmqError extends TroupeError {
  override readonly name = 'BullmqError';
}
