// How a message ends, beside the cell loop that runs it: a handler that returned (counted, acknowledged,
// answered), mail the cell cannot take (no handler, not a message, a full mailbox), and an ask its handler left
// unanswered.

import type { Envelope } from '../core/envelope.js';
import { ErrorCode, TroupeError } from '../core/errors.js';
import { LENT } from './handler.js';
import type { CellState } from './state.js';

/** A full mailbox meets one more message: true when it may go in (room was made), false when refused. */
export function makeRoom(cell: CellState, envelope: Envelope): boolean {
  const { capacity, overflow } = cell.config;
  const error = new TroupeError(
    ErrorCode.MailboxFull,
    `mailbox of ${cell.address} is full (${capacity}, ${overflow})`,
  );
  if (overflow === 'drop-oldest') {
    const oldest = cell.mailbox.shift();
    if (oldest !== undefined) cell.host.undeliverable(oldest, ErrorCode.MailboxFull, error);
    return true;
  }
  cell.host.undeliverable(envelope, ErrorCode.MailboxFull, error);
  return false;
}

/** An ask whose handler returned nothing and did not reply: the asker gets `NO_REPLY` rather than waiting. */
export function noReply(cell: CellState, envelope: Envelope): void {
  const type = (envelope.payload as { type: string }).type;
  const error = new TroupeError(
    ErrorCode.NoReply,
    `${cell.definition.type} at ${cell.address} handled "${type}" without replying`,
  );
  cell.host.reply(envelope, TroupeError.toWire(error), true);
}

/** A message no handler can take: a dead letter with the reason (and an error reply to an ask). */
export function reject(cell: CellState, envelope: Envelope, code: ErrorCode, why: string): void {
  cell.host.undeliverable(envelope, code, new TroupeError(code, why));
}

/** The handler returned: count it, acknowledge durable mail (unless a save must come first), reply. */
export function complete(cell: CellState, envelope: Envelope, value: unknown): void {
  cell.processed++;
  // With persistence the message is acknowledged once its effect is saved (see save.ts).
  if (!cell.stashedCurrent && cell.config.persistence?.save === undefined) envelope.delivery?.ack();
  if (cell.retrying === envelope) {
    cell.retrying = undefined;
    cell.retryCount = 0;
  }
  // A lent envelope may have been copied meanwhile (stash, forward): the copy is current then.
  if (cell.current === envelope || envelope === LENT) cell.current = undefined;
  if (cell.replied || cell.stashedCurrent) return;
  cell.replied = true;
  if (value !== undefined) cell.host.reply(envelope, value, false);
  else noReply(cell, envelope);
}
