// Checks at the edge of the message path: a bad message or option fails at once, with a code.

import type { AskOptions, TellOptions } from '../actor/ref.js';
import { assertHeaders } from '../core/envelope.js';
import { ErrorCode, InvalidOptionsError, TroupeError } from '../core/errors.js';
import { assertOptionsObject } from '../core/options.js';

/** Longest timer Node can arm (2^31 - 1 ms); a longer one fires at once. */
export const MAX_TIMEOUT_MS = 2_147_483_647;

/** A message is an object with a string `type`; anything else is `INVALID_MESSAGE`. */
export function assertMessage(message: unknown): void {
  if (
    typeof message !== 'object' ||
    message === null ||
    typeof (message as { type?: unknown }).type !== 'string'
  ) {
    throw new TroupeError(ErrorCode.InvalidMessage, 'a message must be an object with a string `type`');
  }
}

/** Checks the options of tell/send/ask at the edge, so a bad one fails at once with a code. */
export function assertSendOptions(options: TellOptions | AskOptions | undefined, target: string): void {
  if (options === undefined) return;
  assertOptionsObject(options, 'options');
  const sender = (options as TellOptions).sender;
  if (sender !== undefined && typeof sender?.address !== 'string')
    throw new InvalidOptionsError('sender', 'expected an actor ref');
  if (options.headers !== undefined) assertHeaders(options.headers, target);
  const signal = (options as AskOptions).signal;
  if (signal !== undefined && !(signal instanceof AbortSignal))
    throw new InvalidOptionsError('signal', 'expected an AbortSignal');
}
