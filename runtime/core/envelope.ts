// The one envelope every message travels in, on every transport, and the address scheme it uses.

import { ErrorCode, InvalidOptionsError, TroupeError, type WireError } from './errors.js';

/** What an envelope carries: a user message, a control message for the runtime, or the reply to an ask. */
export const EnvelopeKind = { User: 0, System: 1, Reply: 2 } as const;
export type EnvelopeKind = (typeof EnvelopeKind)[keyof typeof EnvelopeKind];

/**
 * A message in transit. Addresses are `nodeId/path/of/actor`; the transport maps them to its own names
 * (a NATS subject per actor, for instance).
 */
export interface Envelope {
  kind: EnvelopeKind;
  /** Address of the receiving actor (or, for a reply, the asker's reply address). */
  target: string;
  /** Address of the sending actor, when the message was sent from one. */
  sender?: string | undefined;
  /** Pairs an ask with its reply. */
  correlationId?: string | undefined;
  /** Where the reply to this message goes; present on asks. */
  replyTo?: string | undefined;
  /** Epoch ms after which the message is worthless (the asker has given up); expired messages are dead-lettered. */
  deadline?: number | undefined;
  /** Free-form metadata: trace context, signatures, routing hints. */
  headers?: Record<string, string> | undefined;
  /** The message itself (for a reply: the value, or a wire error when `headers.error` is set). */
  payload: unknown;
  /**
   * Local only, never encoded: set by a durable transport. `ack` once the message is done with (handled or
   * dead-lettered), `nak` when it must be delivered again (its actor stopped before handling it).
   */
  delivery?: Delivery | undefined;
  /**
   * Local only, never encoded: the asker's pending entry when the ask was made on this node, so the reply
   * settles it directly, with no correlation id to look up. An envelope that leaves the node gets a
   * correlation id first.
   */
  waiter?: Waiter | undefined;
}

/** Settles an ask made on this node (see {@link Envelope.waiter}). */
export interface Waiter {
  /** Settles with a value, or a wire error when `isError`; false when the ask had settled already. */
  settle(value: unknown, isError: boolean): boolean;
}

/** Settles a durably delivered message with the store it came from. */
export interface Delivery {
  ack(): void;
  nak(): void;
}

/** A user message to `target`: what a tell sends. */
export function tellEnvelope(
  target: string,
  payload: unknown,
  sender?: string,
  headers?: Record<string, string>,
): Envelope {
  return {
    kind: EnvelopeKind.User,
    target,
    sender,
    correlationId: undefined,
    replyTo: undefined,
    deadline: undefined,
    headers,
    payload,
  };
}

/** Characters allowed in one segment of an actor name: safe in NATS subjects, paths and URLs. */
const SEGMENT = /^[A-Za-z0-9_\-:+=@~]{1,128}$/;

/** Checks a user-chosen actor name (one path segment) or node id, throwing a clear error when it is unusable. */
export function assertValidName(name: string, what = 'actor name'): void {
  if (typeof name !== 'string' || !SEGMENT.test(name)) {
    throw new TroupeError(
      ErrorCode.InvalidName,
      `invalid ${what} ${JSON.stringify(name)}: use 1-128 of A-Z a-z 0-9 _ - : + = @ ~ (no dots, slashes, spaces or wildcards)`,
    );
  }
}

/**
 * An address: `node/path/...` with at least two segments, each a name or a reserved `$` segment (`$v`, `$r`,
 * generated names such as `$0`), so it maps one-to-one to a NATS subject.
 */
const ADDRESS = /^[A-Za-z0-9_\-:+=@~$]{1,128}(\/[A-Za-z0-9_\-:+=@~$]{1,128})+$/;
const MAX_ADDRESS_LENGTH = 1024;

/** Checks an address given by a user (`system.ref`, `ctx.refFor`), throwing `INVALID_NAME` when unusable. */
export function assertValidAddress(address: unknown): asserts address is string {
  if (typeof address !== 'string' || address.length > MAX_ADDRESS_LENGTH || !ADDRESS.test(address)) {
    throw new TroupeError(
      ErrorCode.InvalidName,
      `invalid actor address ${JSON.stringify(address)?.slice(0, 200)}: expected node/path, each segment 1-128 of A-Z a-z 0-9 _ - : + = @ ~ $ (no dots, spaces or wildcards)`,
    );
  }
}

/** The node part of an address. */
export function nodeOf(address: string): string {
  const i = address.indexOf('/');
  return i < 0 ? address : address.slice(0, i);
}

/** The path part of an address (everything after the node id). */
export function pathOf(address: string): string {
  const i = address.indexOf('/');
  return i < 0 ? '' : address.slice(i + 1);
}

/** Reserved path segment under which a node receives replies: `node/$r` (the frame names the ask). */
export const REPLY_SEGMENT = '$r';

/** Header set on a reply whose payload is a wire error rather than a value. */
export const ERROR_HEADER = 'troupe-error';
const ERROR_HEADERS: Record<string, string> = Object.freeze({ [ERROR_HEADER]: '1' }) as Record<
  string,
  string
>;

/** Builds the reply envelope that fails the ask `correlationId` at `replyTo` with `error`. */
export function errorReply(
  replyTo: string,
  correlationId: string,
  error: WireError,
  sender?: string,
): Envelope {
  return {
    kind: EnvelopeKind.Reply,
    target: replyTo,
    sender,
    correlationId,
    replyTo: undefined,
    deadline: undefined,
    headers: ERROR_HEADERS,
    payload: error,
  };
}

/** True when a reply envelope carries an error. */
export function isErrorReply(envelope: Envelope): boolean {
  return envelope.headers?.[ERROR_HEADER] === '1';
}

/** Most headers one envelope may carry. */
export const MAX_HEADERS = 64;

/**
 * Checks headers before they are sent: a receiver refuses a frame whose headers are not a map of strings, so a
 * sender that let them through would leave its ask waiting out its timeout. Throws `INVALID_OPTIONS`.
 */
export function assertHeaders(headers: unknown, target: string): void {
  const bad = (why: string): never => {
    throw new InvalidOptionsError('headers', `${why} (message to ${target})`);
  };
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers))
    bad(`expected an object of string values, got ${headers === null ? 'null' : typeof headers}`);
  const proto = Object.getPrototypeOf(headers);
  if (proto !== Object.prototype && proto !== null) bad('expected a plain object of string values');
  let count = 0;
  for (const key of Object.keys(headers as object)) {
    if (++count > MAX_HEADERS) bad(`more than ${MAX_HEADERS} headers`);
    if (key.length === 0) bad('a header name is empty');
    const value = (headers as Record<string, unknown>)[key];
    if (typeof value !== 'string') bad(`header ${JSON.stringify(key)} is a ${typeof value}, not a string`);
  }
}
