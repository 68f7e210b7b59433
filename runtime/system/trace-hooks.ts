// Tracing on the message path, for a system with a `tracing` option: the spans of tells, asks, durable sends,
// handlers, spawns, activations and acknowledgements, and the trace context their envelopes carry. Without the
// option none of this runs (the router and the cell take one branch past it); with it but nothing recording,
// the plain path after one `enabled()` check per burst of messages.

import type { ActorCell } from '../actor/cell.js';
import { callHandler, isPromiseLike, THREW, thrown } from '../actor/handler.js';
import type { AskOptions, TellOptions } from '../actor/ref.js';
import type { CellState, HandlerTracer } from '../actor/state.js';
import { parseVirtualAddress } from '../cluster/virtual.js';
import { type Delivery, type Envelope, tellEnvelope } from '../core/envelope.js';
import { ErrorCode } from '../core/errors.js';
import type { TraceSpan, Tracing } from '../ports/tracing.js';
import type { Transport } from '../ports/transport.js';
import type { Address } from './address.js';
import type { Asker } from './ask.js';
import { assertMessage, assertSendOptions } from './checks.js';

const textOf = (target: Address | string): string => (typeof target === 'string' ? target : target.text);

/** What the hooks need from their system. */
export interface TraceHooksOptions {
  tracing: Tracing;
  nodeId: string;
  transport: Transport | undefined;
  /** True once the system began to close. */
  closing: () => boolean;
}

/** What a traced tell hands back to the router. */
export interface TellRoute {
  route(envelope: Envelope, target: Address | string, cell: ActorCell | undefined): void;
  undeliverable(envelope: Envelope, reason: string, error?: unknown): void;
}

/** `base` plus the span's trace context (a copy: the caller's headers are left alone). */
function withContext(
  span: TraceSpan,
  base: Record<string, string> | undefined,
): Record<string, string> | undefined {
  const headers: Record<string, string> = base === undefined ? {} : { ...base };
  span.inject(headers);
  // No propagator registered: nothing was written, and a plain tell stays without headers.
  for (const _ in headers) return headers;
  return base;
}

/** The handler call the cell would make, metrics included (they wrap it when the system has them). */
function callInner(cell: CellState, handler: Function, message: unknown): unknown {
  const meter = cell.host.meter;
  return meter === undefined ? callHandler(handler, message, cell.ctx) : meter.call(cell, handler, message);
}

/** A virtual actor goes by its virtual type (`$v/<type>/<id>`), any other by its definition's. */
function typeOf(cell: CellState): string {
  return parseVirtualAddress(cell.address)?.type ?? cell.definition.type;
}

function startCell(cell: CellState & { start(): void }): void {
  cell.start();
}

/** Durable mail handled under a span: its acknowledgement gets a span of its own, under the handling. */
class TracedDelivery implements Delivery {
  readonly #inner: Delivery;
  readonly #hooks: TraceHooks;
  readonly #cell: CellState;
  span: TraceSpan;

  constructor(inner: Delivery, hooks: TraceHooks, cell: CellState, span: TraceSpan) {
    this.#inner = inner;
    this.#hooks = hooks;
    this.#cell = cell;
    this.span = span;
  }

  ack(): void {
    const cell = this.#cell;
    const span = this.#hooks.tracing.actor({
      operation: 'ack',
      nodeId: this.#hooks.nodeId,
      address: cell.address,
      actorType: typeOf(cell),
      parent: this.span,
    });
    try {
      this.#inner.ack();
      span.end();
    } catch (err) {
      span.fail(err);
      throw err;
    }
  }

  nak(): void {
    this.#inner.nak();
  }
}

/** @internal A system's tracing: one per system with a `tracing` option. */
export class TraceHooks implements HandlerTracer {
  readonly tracing: Tracing;
  readonly nodeId: string;
  /** How a message to another node travels (`nats`), and one to a virtual actor. */
  readonly #wire: string;
  readonly #virtualWire: string;
  readonly #closing: () => boolean;
  /** Spawn and activation spans that end when their actor's init has run. */
  readonly #starting = new WeakMap<CellState, TraceSpan>();
  /** `tracing.enabled()` as last asked, until the microtask queue drains. */
  #enabled: boolean | undefined = undefined;
  readonly #forget = (): void => {
    this.#enabled = undefined;
  };

  constructor(options: TraceHooksOptions) {
    this.tracing = options.tracing;
    this.nodeId = options.nodeId;
    const transport = options.transport;
    this.#wire = transport?.kind ?? 'local';
    // Without a transport that routes them, virtual actors are all hosted here.
    this.#virtualWire = transport?.hostTypes === undefined ? 'local' : transport.kind;
    this.#closing = options.closing;
  }

  /**
   * True while spans are recorded: checked before anything else here. The answer is kept until the microtask
   * queue drains, so a burst of messages (a send loop, a turn of a cell's loop) asks the tracer once.
   */
  enabled(): boolean {
    let on = this.#enabled;
    if (on === undefined) {
      on = this.#enabled = this.tracing.enabled();
      queueMicrotask(this.#forget);
    }
    return on;
  }

  #outgoing(
    operation: 'tell' | 'ask' | 'send',
    target: Address | string,
    cell: CellState | undefined,
  ): TraceSpan {
    let via = 'local';
    let actorType: string | undefined;
    if (cell !== undefined) actorType = typeOf(cell);
    else if (typeof target !== 'string') {
      if (target.virtual !== undefined) {
        via = this.#virtualWire;
        actorType = target.virtual.type;
      } else if (target.node !== this.nodeId) via = this.#wire;
    }
    return this.tracing.send({ operation, nodeId: this.nodeId, target: textOf(target), actorType, via });
  }

  /**
   * A checked tell: while tracing, sends it in an envelope carrying its span's context (even a plain local
   * tell) and returns true; returns false, having done nothing, when nothing is recorded.
   */
  tell(
    router: TellRoute,
    target: Address | string,
    cell: ActorCell | undefined,
    message: unknown,
    options: TellOptions | undefined,
  ): boolean {
    if (!this.enabled()) return false;
    const span = this.#outgoing('tell', target, cell);
    const envelope = tellEnvelope(
      textOf(target),
      message,
      options?.sender?.address,
      withContext(span, options?.headers),
    );
    try {
      if (this.#closing()) router.undeliverable(envelope, ErrorCode.SystemClosed);
      else router.route(envelope, target, cell);
      span.end();
    } catch (err) {
      span.fail(err);
      throw err;
    }
    return true;
  }

  /**
   * An ask while tracing: its span carries the trace to the handler and ends when the ask settles. Undefined
   * when nothing is recorded (the router asks the plain way).
   */
  ask(
    asker: Asker,
    target: Address | string,
    cell: ActorCell | undefined,
    message: unknown,
    options: AskOptions | undefined,
  ): Promise<unknown> | undefined {
    if (!this.enabled()) return undefined;
    try {
      // Checked before the headers are copied, so bad ones fail as they would untraced.
      assertMessage(message);
      if (options !== undefined) assertSendOptions(options, textOf(target));
    } catch (err) {
      return Promise.reject(err);
    }
    const span = this.#outgoing('ask', target, cell);
    const headers = withContext(span, options?.headers);
    const traced: AskOptions = headers === undefined ? { ...options } : { ...options, headers };
    return asker.ask(target, cell, message, traced).then(
      (value) => {
        span.end();
        return value;
      },
      (err: unknown) => {
        span.fail(err);
        throw err;
      },
    );
  }

  /**
   * A send that resolves once the transport accepted it (for a durable virtual actor: once JetStream stored
   * it). Adds the span's context to `envelope` and returns the span for the caller to end; undefined when
   * nothing is recorded.
   */
  sendAcked(envelope: Envelope, target: Address): TraceSpan | undefined {
    if (!this.enabled()) return undefined;
    const span = this.#outgoing('send', target, undefined);
    envelope.headers = withContext(span, envelope.headers);
    return span;
  }

  /** Runs a handler inside its process span (the cell calls this instead of the handler when tracing is on). */
  invoke(cell: CellState, envelope: Envelope, handler: Function, message: unknown): unknown {
    if (!this.enabled()) return callInner(cell, handler, message);
    const span = this.tracing.process({
      nodeId: this.nodeId,
      target: cell.address,
      actorType: typeOf(cell),
      messageType: (message as { type: string }).type,
      sender: envelope.sender,
      correlationId: envelope.correlationId,
      headers: envelope.headers,
    });
    const delivery = envelope.delivery;
    if (delivery instanceof TracedDelivery) delivery.span = span;
    else if (delivery !== undefined) envelope.delivery = new TracedDelivery(delivery, this, cell, span);
    const result = span.run(callInner, cell, handler, message);
    if (result === THREW) span.fail(thrown.error);
    else if (isPromiseLike(result)) {
      result.then(
        () => span.end(),
        (err: unknown) => span.fail(err),
      );
    } else span.end();
    return result;
  }

  /** A spawn while tracing: its span lasts until the actor's init has run, which runs inside it. */
  spawn<R extends { readonly address: string }>(
    actorType: string,
    spawn: () => R,
    cellOf: (ref: R) => CellState | undefined,
  ): R {
    const span = this.tracing.actor({ operation: 'spawn', nodeId: this.nodeId, actorType });
    let ref: R;
    try {
      ref = span.run(spawn, undefined, undefined, undefined);
    } catch (err) {
      span.fail(err);
      throw err;
    }
    this.#untilStarted(cellOf(ref), span);
    return ref;
  }

  /** Starts a virtual actor's cell, inside an activation span when tracing (the first message's trace). */
  activate(cell: CellState & { start(): void }, envelope: Envelope | undefined): void {
    if (!this.enabled()) {
      cell.start();
      return;
    }
    const span = this.tracing.actor({
      operation: 'activate',
      nodeId: this.nodeId,
      address: cell.address,
      actorType: typeOf(cell),
      headers: envelope?.headers,
    });
    span.run(startCell, cell, undefined, undefined);
    this.#untilStarted(cell, span);
  }

  #untilStarted(cell: CellState | undefined, span: TraceSpan): void {
    if (cell === undefined || cell.status !== 'starting') span.end();
    else this.#starting.set(cell, span);
  }

  /** The cell's init has run: its spawn or activation span ends. */
  started(cell: CellState): void {
    const span = this.#starting.get(cell);
    if (span === undefined) return;
    this.#starting.delete(cell);
    span.end();
  }

  /** The cell failed: if it was starting, its init failed, and so did its spawn or activation. */
  failed(cell: CellState, error: unknown): void {
    const span = this.#starting.get(cell);
    if (span === undefined) return;
    this.#starting.delete(cell);
    span.fail(error);
  }
}
