// The Tracing port on @opentelemetry/api: spans for messages, handlers, spawns, durable mail and tasks, with W3C
// trace context in envelope headers and job data. The SDK (exporter, sampler, context manager, propagator) is the
// user's choice; with none registered every call returns early.

import {
  type Attributes,
  type Context,
  context,
  ProxyTracerProvider,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';
import type {
  ActorTrace,
  OutgoingTrace,
  ProcessTrace,
  TaskTrace,
  TraceSpan,
  Tracing,
} from '../runtime/index.js';
import {
  ErrorAttr,
  MessagingAttr,
  MessagingOperation,
  MessagingSystem,
  SpanName,
  TRACER_NAME,
  TroupeAttr,
} from './semconv.js';

/** Options of {@link otelTracing}. */
export interface OtelTracingOptions {
  /**
   * The tracer provider spans come from.
   * @defaultValue the global one (`trace.setGlobalTracerProvider`, or an SDK's `start()`/`register()`)
   */
  tracerProvider?: TracerProvider;
  /** @defaultValue `troupe` */
  tracerName?: string;
  /** @defaultValue none */
  tracerVersion?: string;
}

/** What the global provider delegates to while no SDK is registered (the API's no-op provider). */
const NOOP_PROVIDER = new ProxyTracerProvider().getDelegate();
const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/** A span and the context it is active in. */
class OtelSpan implements TraceSpan {
  readonly span: Span;
  readonly context: Context;

  constructor(span: Span, ctx: Context) {
    this.span = span;
    this.context = ctx;
  }

  inject(carrier: Record<string, string>): void {
    propagation.inject(this.context, carrier);
  }

  run<A, B, C, R>(fn: (a: A, b: B, c: C) => R, a: A, b: B, c: C): R {
    return context.with(this.context, fn, undefined, a, b, c);
  }

  end(): void {
    this.span.end();
  }

  fail(error: unknown): void {
    const code = codeOf(error);
    const message = error instanceof Error ? error.message : String(error);
    this.span.recordException(error instanceof Error ? error : { message, ...(code ? { code } : {}) });
    this.span.setStatus({ code: SpanStatusCode.ERROR, message });
    if (code !== undefined) {
      this.span.setAttribute(ErrorAttr.Type, code);
      this.span.setAttribute(TroupeAttr.ErrorCode, code);
    } else {
      this.span.setAttribute(ErrorAttr.Type, error instanceof Error ? error.name : 'Error');
    }
    this.span.end();
  }
}

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The context the trace in `headers` continues, or a fresh root when they carry none. */
function extracted(headers: Readonly<Record<string, string>> | undefined): Context {
  return propagation.extract(ROOT_CONTEXT, headers ?? NO_HEADERS);
}

class OtelTracing implements Tracing {
  readonly #fixed: TracerProvider | undefined;
  readonly #name: string;
  readonly #version: string | undefined;
  /** The global provider when last seen, if a proxy (as the API registers it). */
  #proxy: ProxyTracerProvider | undefined;
  /** The provider last seen behind the global one, and the tracer made from it. */
  #provider: TracerProvider | undefined;
  #tracer: Tracer | undefined;
  #recording = false;

  constructor(options: OtelTracingOptions) {
    this.#fixed = options.tracerProvider;
    this.#name = options.tracerName ?? TRACER_NAME;
    this.#version = options.tracerVersion;
  }

  enabled(): boolean {
    // Per check: one call for the global provider, one for what it delegates to, two comparisons.
    const global = this.#fixed ?? trace.getTracerProvider();
    const provider = global === this.#proxy ? this.#proxy.getDelegate() : this.#unwrap(global);
    return provider === this.#provider ? this.#recording : this.#switch(provider);
  }

  /** The global provider changed (registered, or disabled): what it is, or delegates to if it is a proxy. */
  #unwrap(global: TracerProvider): TracerProvider {
    const proxy = global as Partial<ProxyTracerProvider>;
    if (typeof proxy.getDelegate !== 'function') {
      this.#proxy = undefined;
      return global;
    }
    this.#proxy = global as ProxyTracerProvider;
    return proxy.getDelegate();
  }

  /** Another provider is behind the global one: make its tracer once, not per span. */
  #switch(provider: TracerProvider): boolean {
    this.#provider = provider;
    // The API may be loaded twice (CommonJS and ESM): recognize the other copy's no-op provider too.
    this.#recording = provider !== NOOP_PROVIDER && provider.constructor?.name !== 'NoopTracerProvider';
    this.#tracer = this.#recording ? provider.getTracer(this.#name, this.#version) : undefined;
    return this.#recording;
  }

  get #active(): Tracer {
    if (this.#tracer === undefined) this.enabled();
    // Not enabled: a span from the API's no-op tracer keeps callers working.
    return this.#tracer ?? trace.getTracer(this.#name, this.#version);
  }

  #start(name: string, kind: SpanKind, attributes: Attributes, parent: Context): OtelSpan {
    const span = this.#active.startSpan(name, { kind, attributes }, parent);
    return new OtelSpan(span, trace.setSpan(parent, span));
  }

  send(m: OutgoingTrace): TraceSpan {
    const local = m.via === 'local';
    const destination = m.actorType ?? m.target;
    const attributes: Attributes = {
      [MessagingAttr.System]: local ? MessagingSystem.Troupe : m.via,
      [MessagingAttr.OperationType]: MessagingOperation.Send,
      [MessagingAttr.OperationName]: m.operation,
      [MessagingAttr.DestinationName]: m.target,
      [TroupeAttr.NodeId]: m.nodeId,
    };
    if (m.actorType !== undefined) attributes[TroupeAttr.ActorType] = m.actorType;
    const kind = m.operation === 'ask' ? SpanKind.CLIENT : local ? SpanKind.INTERNAL : SpanKind.PRODUCER;
    const name = m.operation === 'ask' ? SpanName.ask(destination) : SpanName.send(destination);
    return this.#start(name, kind, attributes, context.active());
  }

  process(m: ProcessTrace): TraceSpan {
    const attributes: Attributes = {
      [MessagingAttr.System]: MessagingSystem.Troupe,
      [MessagingAttr.OperationType]: MessagingOperation.Process,
      [MessagingAttr.OperationName]: 'process',
      [MessagingAttr.DestinationName]: m.target,
      [TroupeAttr.ActorType]: m.actorType,
      [TroupeAttr.MessageType]: m.messageType,
      [TroupeAttr.NodeId]: m.nodeId,
    };
    if (m.correlationId !== undefined) {
      attributes[MessagingAttr.MessageId] = m.correlationId;
      attributes[MessagingAttr.ConversationId] = m.correlationId;
    }
    if (m.sender !== undefined) attributes[TroupeAttr.Sender] = m.sender;
    return this.#start(SpanName.process(m.actorType), SpanKind.CONSUMER, attributes, extracted(m.headers));
  }

  actor(e: ActorTrace): TraceSpan {
    const attributes: Attributes = {
      [TroupeAttr.ActorType]: e.actorType,
      [TroupeAttr.NodeId]: e.nodeId,
    };
    if (e.address !== undefined) attributes[TroupeAttr.ActorAddress] = e.address;
    const parent =
      e.parent instanceof OtelSpan
        ? e.parent.context
        : e.headers !== undefined
          ? extracted(e.headers)
          : context.active();
    if (e.operation === 'ack') {
      attributes[MessagingAttr.System] = MessagingSystem.Nats;
      attributes[MessagingAttr.OperationType] = MessagingOperation.Settle;
      attributes[MessagingAttr.OperationName] = 'ack';
      if (e.address !== undefined) attributes[MessagingAttr.DestinationName] = e.address;
      return this.#start(SpanName.ack(e.actorType), SpanKind.CLIENT, attributes, parent);
    }
    const name = e.operation === 'spawn' ? SpanName.spawn(e.actorType) : SpanName.activate(e.actorType);
    return this.#start(name, SpanKind.INTERNAL, attributes, parent);
  }

  task(t: TaskTrace): TraceSpan {
    const run = t.operation === 'run';
    const attributes: Attributes = {
      [MessagingAttr.System]: t.runner === 'bullmq' ? MessagingSystem.Bullmq : MessagingSystem.Troupe,
      [MessagingAttr.OperationType]: run ? MessagingOperation.Process : MessagingOperation.Send,
      [MessagingAttr.OperationName]: run ? 'process' : 'send',
      [MessagingAttr.DestinationName]: t.task,
      [MessagingAttr.MessageId]: t.jobId,
      [TroupeAttr.TaskName]: t.task,
      [TroupeAttr.TaskRunner]: t.runner,
    };
    if (t.attempt !== undefined) attributes[TroupeAttr.TaskAttempt] = t.attempt;
    if (run) return this.#start(SpanName.run(t.task), SpanKind.CONSUMER, attributes, extracted(t.carrier));
    return this.#start(SpanName.enqueue(t.task), SpanKind.PRODUCER, attributes, context.active());
  }
}

/**
 * Tracing through `@opentelemetry/api`: pass it to `createSystem({ tracing })` and to task runners
 * (`bullmqTaskRunner({ tracing })`). Spans are recorded once an SDK registers a tracer provider; until then each
 * message costs one check. Trace context crosses processes through the global propagator (register the W3C one:
 * `NodeSDK` does by default) and, so that handlers' sends after an `await` stay in their trace, an async context
 * manager (`AsyncLocalStorageContextManager`, also `NodeSDK`'s default).
 *
 * @example
 * const tracing = otelTracing();
 * await using system = await createSystem({ tracing, transport: natsTransport() });
 */
export function otelTracing(options: OtelTracingOptions = {}): Tracing {
  return new OtelTracing(options);
}
