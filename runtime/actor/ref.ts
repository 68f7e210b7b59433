// The handle through which an actor is reached, wherever it lives.

import type { AnyProtocol, AskableOf, MessageOf, Protocol, ReplyFor } from './protocol.js';

/** Options of {@link ActorRef.ask}. */
export interface AskOptions {
  /**
   * Milliseconds to wait for the reply before rejecting with `ASK_TIMEOUT`.
   * @defaultValue the system's `askTimeoutMs` (5000)
   */
  timeout?: number;
  /** Aborting rejects the ask with `ASK_ABORTED` and frees its slot. */
  signal?: AbortSignal;
  /** Extra envelope headers. */
  headers?: Record<string, string>;
}

/** Options of {@link ActorRef.tell}. */
export interface TellOptions {
  /** The actor replies and `ctx.sender` should point at. */
  sender?: AnyActorRef;
  headers?: Record<string, string>;
}

/** Options of {@link ActorRef.send}. */
export interface SendOptions extends TellOptions {
  /**
   * Identifies the message for deduplication by a durable store: sending twice with one id (within the
   * store's window, 2 minutes on JetStream) stores it once. Give one when you retry a send that failed.
   * @defaultValue none (no deduplication)
   */
  messageId?: string;
}

/**
 * A reference to an actor. Cheap to copy and pass in messages (as its `address`); valid across processes.
 *
 * - `tell` never blocks and never throws for a vanished receiver: undeliverable messages become dead letters.
 *   It throws only for a message that can never be sent (`PAYLOAD_TOO_LARGE`, `INVALID_MESSAGE`).
 * - Messages from one sender to one receiver are processed in the order they were told.
 */
export interface ActorRef<P extends Protocol = AnyProtocol> {
  /** `nodeId/path`: stable for the actor's life; pass it in messages and rebuild with `system.ref(address)`. */
  readonly address: string;
  tell(message: MessageOf<P>, options?: TellOptions): void;
  /**
   * Like `tell`, but resolves once the message is accepted: for a durable virtual actor, once the durable
   * store has it (from then on it is processed at least once, even if nodes die); otherwise once it is handed
   * to the mailbox or the connection. Rejects when it was refused.
   */
  send(message: MessageOf<P>, options?: SendOptions): Promise<void>;
  /** Sends `message` and resolves with the reply; rejects with `ASK_TIMEOUT`, `ASK_ABORTED`, or the error the actor replied with. */
  ask<M extends AskableOf<P>>(message: M, options?: AskOptions): Promise<ReplyFor<P, M>>;
}

/** A ref whose protocol is not known statically. */
// biome-ignore lint/suspicious/noExplicitAny: refs of any protocol must be assignable here (variance escape hatch)
export type AnyActorRef = ActorRef<any>;
