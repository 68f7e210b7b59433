// Calling user code from the loop: the envelope lent to plain tells, a handler's throw as a marker instead of
// an exception, and the thenable test.

import { type Envelope, tellEnvelope } from '../core/envelope.js';
import type { CellState } from './state.js';

/**
 * @internal The one envelope the loops of all cells lend to plain tells (no sender, headers or reply) while
 * their handler runs synchronously; see `Mailbox.shiftInto`. Loops never nest (they run from microtasks,
 * setImmediate and promise callbacks only), so one is enough. Whatever may keep the current envelope past the
 * handler's synchronous turn (an async handler, a failure, stash, forward, a dead letter, a save) takes
 * {@link keep} first.
 */
export const LENT: Envelope = tellEnvelope('', undefined);

/** @internal `envelope`, or a copy of it when it is the lent one (then also the cell's current message). */
export function keep(cell: CellState, envelope: Envelope): Envelope {
  if (envelope !== LENT) return envelope;
  const own = tellEnvelope(LENT.target, LENT.payload);
  if (cell.current === LENT) cell.current = own;
  return own;
}

export { isPromiseLike } from '../core/thenable.js';

/** @internal What {@link callHandler} returns when the handler threw; the error waits in {@link thrown}. */
export const THREW: unique symbol = Symbol('threw');
/** @internal The error behind the last {@link THREW}; the caller takes it out (and clears it) at once. */
export const thrown: { error: unknown } = { error: undefined };

/**
 * @internal Calls a handler, turning a throw into the `THREW` marker: for the metrics and trace hooks. The cell's
 * loop, when it has neither, calls the handler itself with the same try/catch (one frame less under it).
 */
export function callHandler(handler: Function, message: unknown, ctx: unknown): unknown {
  try {
    return handler(message, ctx);
  } catch (err) {
    thrown.error = err;
    return THREW;
  }
}
