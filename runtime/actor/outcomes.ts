// The cell's answers for mail it cannot take as asked: a full mailbox, and an ask its handler left unanswered.
// Off the hot path, so they live beside the loop rather than in it.

import type { Envelope } from '../core/envelope.js';
import { ErrorCode, TroupeError } from '../core/errors.js';
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
