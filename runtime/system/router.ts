// The message path of one node: tells, sends and asks go out from here, and what arrives is routed from here.

import type { ActorCell } from '../actor/cell.js';
import type { ActorMeter } from '../actor/metrics-hooks.js';
import type { AskOptions, SendOptions, TellOptions } from '../actor/ref.js';
import type { VirtualHost } from '../cluster/virtual.js';
import type { Clock } from '../core/clock.js';
import type { DeadLetter, DeadLetterOffice } from '../core/dead-letters.js';
import {
  type Envelope,
  EnvelopeKind,
  errorReply,
  isErrorReply,
  REPLY_SEGMENT,
  tellEnvelope,
} from '../core/envelope.js';
import { ErrorCode, fromNode, TroupeError, type WireError } from '../core/errors.js';
import type { Rejected, Transport } from '../ports/transport.js';
import type { Address } from './address.js';
import { Asker } from './ask.js';
import { type PendingAsk, PendingAsks } from './asks.js';
import { assertMessage, assertSendOptions } from './checks.js';
import type { TraceHooks } from './trace-hooks.js';

const textOf = (target: Address | string): string => (typeof target === 'string' ? target : target.text);

/** What the router needs from the system it routes for. */
export interface RouterOptions {
  nodeId: string;
  clock: Clock;
  transport: Transport | undefined;
  askTimeoutMs: number;
  deadLetters: DeadLetterOffice;
  /** Live local actors by path. */
  cells: ReadonlyMap<string, ActorCell>;
  virtual: () => VirtualHost;
  /** Node-wide and lifecycle commands (`System` envelopes) addressed to this node. */
  onSystemMessage: (envelope: Envelope) => void;
  /** True once the system began to close: new mail is refused. */
  closing: () => boolean;
  /** Counts messages out per actor type when the system has metrics. */
  meter?: ActorMeter | undefined;
  /** Spans and trace context when the system has tracing. */
  traces?: TraceHooks | undefined;
}

/**
 * @internal Routes one node's messages. Out: a tell to a local cell goes into its mailbox (a plain one as the
 * bare message), anything else is handed to the transport. In: envelopes from the transport (or for local
 * addresses without a cell) go to the cell, the virtual host, a pending ask, or the control plane; what
 * cannot go anywhere is a dead letter, and an ask among it is answered with the error.
 */
export class Router {
  readonly asks: PendingAsks;
  readonly #o: RouterOptions;
  /** This node's reply address: replies to its asks come to `node/$r` and are matched by correlation id. */
  readonly #replyTo: string;
  readonly #replyPrefix: string;
  readonly #asker: Asker;

  constructor(options: RouterOptions) {
    this.#o = options;
    this.asks = new PendingAsks(options.clock);
    this.#replyTo = `${options.nodeId}/${REPLY_SEGMENT}`;
    this.#replyPrefix = `${this.#replyTo}/`;
    this.#asker = new Asker({
      nodeId: options.nodeId,
      askTimeoutMs: options.askTimeoutMs,
      asks: this.asks,
      replyTo: this.#replyTo,
      closing: options.closing,
      route: (envelope, target, cell) => this.route(envelope, target, cell),
      sendRemote: (envelope) => this.sendRemote(envelope),
    });
  }

  // ---- out ----

  /**
   * A tell to `target`: a parsed address, or the address text of the live local `cell` it goes to (local
   * refs keep no parsed address).
   */
  tell(
    target: Address | string,
    cell: ActorCell | undefined,
    message: unknown,
    options: TellOptions | undefined,
  ): void {
    assertMessage(message);
    if (options !== undefined) assertSendOptions(options, textOf(target));
    if (this.#o.meter !== undefined) this.#o.meter.sent();
    // Tracing on: an envelope carrying the trace context, even for a plain local tell.
    if (this.#o.traces?.tell(this, target, cell, message, options)) return;
    // The hot path: a plain tell to a local actor goes into its mailbox as the bare message.
    if (cell !== undefined && options === undefined && !this.#o.closing()) {
      cell.enqueueTell(message);
      return;
    }
    const envelope = tellEnvelope(textOf(target), message, options?.sender?.address, options?.headers);
    if (this.#o.closing()) {
      this.undeliverable(envelope, ErrorCode.SystemClosed);
      return;
    }
    this.route(envelope, target, cell);
  }

  async send(
    target: Address | string,
    cell: ActorCell | undefined,
    message: unknown,
    options: SendOptions | undefined,
  ): Promise<void> {
    const transport = this.#o.transport;
    if (
      cell ||
      typeof target === 'string' ||
      target.node === this.#o.nodeId ||
      transport?.sendAcked === undefined ||
      this.#o.closing()
    ) {
      this.tell(target, cell, message, options);
      return;
    }
    return sendStored(this.#o, transport.sendAcked.bind(transport), target, message, options);
  }

  /** An ask to `target` (see {@link Asker.ask}). */
  ask(
    target: Address | string,
    cell: ActorCell | undefined,
    message: unknown,
    options: AskOptions | undefined,
  ): Promise<unknown> {
    if (this.#o.meter !== undefined) this.#o.meter.sent();
    const traced = this.#o.traces?.ask(this.#asker, target, cell, message, options);
    return traced ?? this.#asker.ask(target, cell, message, options);
  }

  /** Sends a system command to another node and resolves with its reply. */
  systemAsk(address: string, payload: unknown, timeout: number): Promise<unknown> {
    return this.#asker.systemAsk(address, payload, timeout);
  }

  /** Delivers to a local cell, or hands the envelope to the transport. Throws only for unsendable envelopes. */
  route(envelope: Envelope, target: Address | string, cell: ActorCell | undefined): void {
    if (cell) cell.enqueue(envelope);
    else if (typeof target === 'string' || target.node === this.#o.nodeId) this.deliver(envelope);
    else this.sendRemote(envelope);
  }

  /** Hands an envelope to the transport (or, without one, to the local virtual host). */
  sendRemote(envelope: Envelope): void {
    const transport = this.#o.transport;
    const virtual = envelope.target.startsWith('$v/');
    if (!transport || (transport.hostTypes === undefined && virtual)) {
      // Without a transport that routes virtual addresses, this node hosts every virtual actor itself.
      if (virtual) {
        this.deliver(envelope);
        return;
      }
      this.undeliverable(
        envelope,
        ErrorCode.NoResponders,
        new TroupeError(ErrorCode.NoResponders, `no transport: ${envelope.target} is on another node`),
      );
      return;
    }
    const waiter = envelope.waiter;
    if (waiter !== undefined && envelope.correlationId === undefined && envelope.replyTo !== undefined) {
      // An ask made here is leaving the node: its reply will come back by correlation id.
      const id = this.asks.correlate(waiter as PendingAsk);
      envelope.correlationId = id;
      envelope.replyTo = this.#replyTo;
    }
    try {
      transport.send(envelope);
    } catch (err) {
      const code = TroupeError.is(err) ? err.code : ErrorCode.Remote;
      // The sender learns of it by the thrown error (or its rejected ask); the dead letter keeps the record.
      this.#o.deadLetters.record(letterOf(this.#o.clock, { ...envelope, replyTo: undefined }, code, err));
      throw err;
    }
  }

  // ---- in ----

  /** An envelope for this node, from the transport or for a local address without a live cell. */
  deliver(envelope: Envelope): void {
    const target = envelope.target;
    if (envelope.kind === EnvelopeKind.User && target.startsWith('$v/')) {
      this.#o.virtual().deliver(envelope);
      return;
    }
    const nodeId = this.#o.nodeId;
    // A frame whose envelope names another node (misrouted or forged) must not reach a local actor by path.
    if (!(target.startsWith(nodeId) && target.charCodeAt(nodeId.length) === 47)) {
      this.undeliverable(
        envelope,
        ErrorCode.ActorNotFound,
        new TroupeError(ErrorCode.ActorNotFound, `${target} is not on node ${nodeId}`),
      );
      return;
    }
    switch (envelope.kind) {
      case EnvelopeKind.Reply:
        if (envelope.correlationId !== undefined) {
          this.#settle(envelope.correlationId, envelope.payload, isErrorReply(envelope), target);
        } else {
          this.#o.deadLetters.record(
            letterOf(this.#o.clock, envelope, ErrorCode.InvalidMessage, 'reply without correlation id'),
          );
        }
        return;
      case EnvelopeKind.User: {
        const cell = this.#o.cells.get(target.slice(nodeId.length + 1));
        if (cell) cell.enqueue(envelope);
        else {
          this.undeliverable(
            envelope,
            ErrorCode.ActorNotFound,
            new TroupeError(ErrorCode.ActorNotFound, `no actor at ${target}`),
          );
        }
        return;
      }
      case EnvelopeKind.System:
        this.#o.onSystemMessage(envelope);
        return;
      default:
        this.undeliverable(envelope, ErrorCode.InvalidMessage);
    }
  }

  /** A frame the transport could not turn into a deliverable envelope. */
  reject(rejected: Rejected): void {
    this.#o.deadLetters.record({
      address: rejected.address,
      reason: rejected.reason,
      message: rejected.envelope?.payload,
      sender: rejected.envelope?.sender,
      error: rejected.error,
      at: this.#o.clock.now(),
    });
  }

  #settle(correlationId: string, value: unknown, isError: boolean, address: string): void {
    const pending = this.asks.byId(correlationId);
    if (pending === undefined || !pending.settle(value, isError)) this.#lateReply(address, value);
  }

  #lateReply(address: string, value: unknown): void {
    this.#o.deadLetters.record({
      address,
      reason: ErrorCode.LateReply,
      message: value,
      at: this.#o.clock.now(),
    });
  }

  // ---- answers and hand-offs ----

  /** Sends the reply (or error) for an ask envelope; locally made asks settle directly. */
  reply(envelope: Envelope, value: unknown, isError: boolean): void {
    const replyTo = envelope.replyTo;
    if (replyTo === undefined) return;
    const waiter = envelope.waiter;
    if (waiter !== undefined && (envelope.correlationId === undefined || this.#ownReply(replyTo))) {
      if (!waiter.settle(value, isError)) this.#lateReply(replyTo, value);
      return;
    }
    const correlationId = envelope.correlationId;
    if (correlationId === undefined) return;
    if (this.#ownReply(replyTo)) {
      this.#settle(correlationId, value, isError, replyTo);
      return;
    }
    const reply: Envelope = isError
      ? errorReply(replyTo, correlationId, fromNode(value as WireError, this.#o.nodeId), envelope.target)
      : {
          kind: EnvelopeKind.Reply,
          target: replyTo,
          sender: envelope.target,
          correlationId,
          replyTo: undefined,
          deadline: undefined,
          headers: undefined,
          payload: value,
        };
    try {
      this.sendRemote(reply);
    } catch (err) {
      // The reply itself could not be sent (too large, say): tell the asker why instead of letting it time out.
      try {
        this.sendRemote(errorReply(replyTo, correlationId, TroupeError.toWire(err), envelope.target));
      } catch {
        // Already recorded as a dead letter by sendRemote.
      }
    }
  }

  /** A reply address of this node: `node/$r`, or one under it (`node/$r/local`, or an older node's `node/$r/<id>`). */
  #ownReply(replyTo: string): boolean {
    return replyTo === this.#replyTo || replyTo.startsWith(this.#replyPrefix);
  }

  /** Mail held for a virtual actor whose shard moved: a durable store offers it again, else send it on. */
  reroute(envelope: Envelope): void {
    if (envelope.delivery !== undefined) {
      envelope.delivery.nak();
      return;
    }
    try {
      this.sendRemote(envelope);
    } catch (err) {
      if (envelope.replyTo !== undefined) this.reply(envelope, TroupeError.toWire(err), true);
    }
  }

  /** Sends `envelope` on to `target`, keeping its sender and reply address. */
  forward(envelope: Envelope, target: string): void {
    const forwarded: Envelope = { ...envelope, target };
    const nodeId = this.#o.nodeId;
    const local = target.startsWith(nodeId) && target.charCodeAt(nodeId.length) === 47;
    try {
      if (!local) this.sendRemote(forwarded);
      else {
        const cell = this.#o.cells.get(target.slice(nodeId.length + 1));
        if (cell) cell.enqueue(forwarded);
        else this.deliver(forwarded);
      }
    } catch (err) {
      // sendRemote has recorded the dead letter; the asker still needs its answer.
      this.reply(forwarded, TroupeError.toWire(err), true);
    }
  }

  /** Records a message that will not be handled; answers it with the error if it was an ask. */
  undeliverable(envelope: Envelope, reason: string, error?: unknown): void {
    // Dead-lettered is done with: a durable store must not deliver it again.
    envelope.delivery?.ack();
    const letter = letterOf(this.#o.clock, envelope, reason, error);
    this.#o.deadLetters.record(letter);
    if (envelope.kind !== EnvelopeKind.Reply && envelope.replyTo !== undefined) {
      this.reply(
        envelope,
        letter.error ?? { code: reason, message: `message to ${envelope.target} was not handled: ${reason}` },
        true,
      );
    }
  }
}

/** The dead letter recording `envelope`, which will not be handled for `reason`. */
function letterOf(clock: Clock, envelope: Envelope, reason: string, error: unknown): DeadLetter {
  return {
    address: envelope.target,
    reason,
    message: envelope.payload,
    sender: envelope.sender,
    error: error === undefined ? undefined : TroupeError.toWire(error),
    at: clock.now(),
  };
}

/** A send to a durable actor on another node: resolves once the transport's store has it. */
async function sendStored(
  o: RouterOptions,
  sendAcked: (envelope: Envelope, messageId?: string) => Promise<void>,
  target: Address,
  message: unknown,
  options: SendOptions | undefined,
): Promise<void> {
  assertMessage(message);
  assertSendOptions(options, target.text);
  o.meter?.sent();
  const envelope = tellEnvelope(target.text, message, options?.sender?.address, options?.headers);
  const span = o.traces?.sendAcked(envelope, target);
  try {
    await sendAcked(envelope, options?.messageId);
    span?.end();
  } catch (err) {
    span?.fail(err);
    o.deadLetters.record(letterOf(o.clock, envelope, TroupeError.is(err) ? err.code : ErrorCode.Remote, err));
    throw err;
  }
}
