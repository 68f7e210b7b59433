// Asking: an ask waits as a pending entry and travels as an envelope; a local one carries its waiter.

import type { ActorCell } from '../actor/cell.js';
import type { AskOptions } from '../actor/ref.js';
import { type Envelope, EnvelopeKind } from '../core/envelope.js';
import { ErrorCode, InvalidOptionsError, TroupeError } from '../core/errors.js';
import type { Address } from './address.js';
import type { PendingAsks } from './asks.js';
import { assertMessage, assertSendOptions, MAX_TIMEOUT_MS } from './checks.js';

const textOf = (target: Address | string): string => (typeof target === 'string' ? target : target.text);

/** What asking needs from the router. */
export interface AskerOptions {
  nodeId: string;
  askTimeoutMs: number;
  asks: PendingAsks;
  /** This node's reply address (`node/$r`): replies to its asks come there, matched by correlation id. */
  replyTo: string;
  closing: () => boolean;
  route: (envelope: Envelope, target: Address | string, cell: ActorCell | undefined) => void;
  sendRemote: (envelope: Envelope) => void;
}

/** @internal Makes asks: checks them, registers their pending entry and routes their envelope. */
export class Asker {
  readonly #o: AskerOptions;
  /** The reply address of asks made here that never leave the node (their envelope carries the waiter). */
  readonly #localReplyTo: string;

  constructor(options: AskerOptions) {
    this.#o = options;
    this.#localReplyTo = `${options.replyTo}/local`;
  }

  /**
   * An ask to `target` (a parsed address, or the address text of the live local `cell` it goes to). It
   * settles with the reply, the actor's error, `ASK_TIMEOUT`, `ASK_ABORTED`, `SYSTEM_CLOSED` or a send error.
   */
  ask(
    target: Address | string,
    cell: ActorCell | undefined,
    message: unknown,
    options: AskOptions | undefined,
  ): Promise<unknown> {
    const text = textOf(target);
    try {
      assertMessage(message);
      if (options !== undefined) assertSendOptions(options, text);
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.#o.closing()) {
      return Promise.reject(new TroupeError(ErrorCode.SystemClosed, `system ${this.#o.nodeId} is closed`));
    }
    const timeout = options?.timeout ?? this.#o.askTimeoutMs;
    if (!(typeof timeout === 'number' && timeout > 0 && timeout <= MAX_TIMEOUT_MS)) {
      return Promise.reject(
        new InvalidOptionsError(
          'timeout',
          `expected a number of ms from 1 to 2^31-1, got ${String(timeout)}`,
        ),
      );
    }
    const signal = options?.signal;
    if (signal?.aborted) {
      return Promise.reject(
        new TroupeError(ErrorCode.AskAborted, `ask to ${text} was aborted`, { cause: signal.reason }),
      );
    }
    return new Promise((resolve, reject) => {
      const pending = this.#o.asks.add(text, timeout, signal, resolve, reject);
      const envelope: Envelope = {
        kind: EnvelopeKind.User,
        target: text,
        sender: undefined,
        correlationId: undefined,
        replyTo: this.#localReplyTo,
        deadline: pending.deadline,
        headers: options?.headers,
        payload: message,
        waiter: pending,
      };
      try {
        this.#o.route(envelope, target, cell);
      } catch (err) {
        pending.fail(err);
      }
    });
  }

  /** Sends a system command to another node and resolves with its reply. */
  systemAsk(address: string, payload: unknown, timeout: number): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const pending = this.#o.asks.add(address, timeout, undefined, resolve, reject);
      const correlationId = this.#o.asks.correlate(pending);
      try {
        this.#o.sendRemote({
          kind: EnvelopeKind.System,
          target: address,
          sender: undefined,
          correlationId,
          replyTo: this.#o.replyTo,
          deadline: undefined,
          headers: undefined,
          payload,
        });
      } catch (err) {
        pending.fail(err);
      }
    });
  }
}
