// Saving an actor's state after each message (the `persistence` hook), acknowledging durable mail once its
// effect is saved, and riding out an outage of the store with backoff instead of failing the message.

import type { Envelope } from '../core/envelope.js';
import { ErrorCode, TroupeError } from '../core/errors.js';
import { isPromiseLike } from './handler.js';
import type { CellState } from './state.js';

/** Backoff between tries to save the state after a durable message while the store is unavailable. */
const SAVE_RETRY_MIN_MS = 50;
const SAVE_RETRY_MAX_MS = 1000;

/** A save failure the state itself causes (rather than its store): it counts against the message. */
function causedByState(error: unknown): boolean {
  return (
    TroupeError.is(error, ErrorCode.PayloadTooLarge) ||
    TroupeError.is(error, ErrorCode.InvalidMessage) ||
    TroupeError.is(error, ErrorCode.MalformedFrame)
  );
}

/**
 * @internal Saves the state after `envelope` was handled; returns true when saving went async (it lets the
 * loop proceed itself). A durable message is acknowledged only once its effect is saved: acknowledged first,
 * a crash in between would lose it. If saving fails it is offered again (see {@link saveFailed}).
 */
export function save(cell: CellState, envelope: Envelope): boolean {
  return trySave(cell, envelope, 0);
}

/** One attempt at saving the state after `envelope`; `attempt` counts the store's failures so far. */
function trySave(cell: CellState, envelope: Envelope, attempt: number): boolean {
  const delivery = cell.stashedCurrent ? undefined : envelope.delivery;
  let result: unknown;
  try {
    result = cell.config.persistence!.save!(cell.state, cell.ctx);
  } catch (err) {
    return saveFailed(cell, envelope, err, attempt);
  }
  if (!isPromiseLike(result)) {
    delivery?.ack();
    return false;
  }
  const epoch = cell.epoch;
  cell.busy = true;
  void result.then(
    () => {
      delivery?.ack();
      if (epoch === cell.epoch) cell.proceed();
    },
    (err: unknown) => {
      if (epoch !== cell.epoch) {
        delivery?.nak();
        return;
      }
      if (!saveFailed(cell, envelope, err, attempt)) cell.proceed();
    },
  );
  return true;
}

/**
 * The state after `envelope` could not be saved; returns true when the cell stays busy retrying (it lets the
 * loop proceed itself).
 *
 * A durable message (from a store that redelivers) is never given up because of its store: an outage of
 * NATS or KV is no fault of the message, so it neither counts as an attempt nor ends as a dead letter (which
 * would acknowledge it). The actor keeps its state, the message stays current and nothing newer runs; the
 * save is tried again with backoff until the store answers, then the message is acknowledged. If the
 * actor is stopping meanwhile, the message leads the mail handed on, and the next activation loads the
 * saved state and handles it again. Only a failure the state itself causes (too large, not encodable:
 * `PAYLOAD_TOO_LARGE`, `INVALID_MESSAGE`, `MALFORMED_FRAME`) counts against the message.
 *
 * Anything else is like a crash of its handler: with supervision the actor restarts from the saved state
 * and handles the message again before anything newer (its asker already has the reply, so the retry
 * answers no one); without, it stops and the message is a dead letter.
 */
function saveFailed(cell: CellState, envelope: Envelope, error: unknown, attempt: number): boolean {
  if (cell.stashedCurrent) {
    // Stashed, so not handled: it comes back with unstash; only the failure is reported.
    cell.lastError = error;
    cell.host.failed(cell, error, undefined, 'persistence');
    return false;
  }
  const delivery = envelope.delivery;
  if (delivery !== undefined && !causedByState(error)) {
    // Reported once per outage, not once per try: a store down for a minute must not flood observers.
    if (attempt === 0) {
      cell.lastError = error;
      cell.host.failed(cell, error, undefined, 'persistence');
    }
    if (cell.stopRequested) {
      cell.mailbox.unshift(envelope);
      return false;
    }
    cell.busy = true;
    const epoch = cell.epoch;
    cell.host.clock.setTimeout(
      () => {
        if (epoch !== cell.epoch) {
          // Terminated meanwhile: the store offers it again.
          delivery.nak();
          return;
        }
        if (cell.stopRequested) {
          cell.mailbox.unshift(envelope);
          cell.proceed();
          return;
        }
        if (!trySave(cell, envelope, attempt + 1)) cell.proceed();
      },
      Math.min(SAVE_RETRY_MIN_MS * 2 ** Math.min(attempt, 10), SAVE_RETRY_MAX_MS),
    );
    return true;
  }
  const again = envelope.replyTo === undefined ? envelope : { ...envelope, replyTo: undefined };
  cell.fail(error, again, 'persistence');
  return false;
}
