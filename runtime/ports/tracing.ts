// The tracing contract: what a system (and a task runner) calls around messages, spawns, durable mail and tasks, so
// an adapter such as `otelTracing()` (troupe/telemetry) can record spans. The runtime imports no tracing library:
// spans and their contexts are opaque objects it only hands back.

import { InvalidOptionsError } from '../core/errors.js';

/**
 * A started span, opaque to the runtime. Ended exactly once, by {@link end} or {@link fail}.
 */
export interface TraceSpan {
  /** Writes this span's context into `carrier` (W3C `traceparent` and `tracestate`, with the usual propagator). */
  inject(carrier: Record<string, string>): void;
  /**
   * Calls `fn(a, b, c)` with this span as the active context: spans started inside, also after an `await`
   * (given an async context manager), are its children.
   */
  run<A, B, C, R>(fn: (a: A, b: B, c: C) => R, a: A, b: B, c: C): R;
  /** Ends the span as a success. */
  end(): void;
  /** Ends the span as a failure: status error with the error's `code`, and an exception event. */
  fail(error: unknown): void;
}

/**
 * A message leaving an actor or a caller: a tell, an ask (its span lasts until the ask settles), or a `send`
 * (its span lasts until the transport accepted it: for a durable virtual actor, until JetStream stored it).
 */
export interface OutgoingTrace {
  readonly operation: 'tell' | 'ask' | 'send';
  /** The sending node's id. */
  readonly nodeId: string;
  /** The receiver's address. */
  readonly target: string;
  /** The receiver's actor type, when known here (a live local actor, a virtual address). */
  readonly actorType: string | undefined;
  /** `local` when the message stays on this node, else the transport carrying it (`nats`). */
  readonly via: string;
}

/** A message an actor handles. */
export interface ProcessTrace {
  readonly nodeId: string;
  /** The actor's address. */
  readonly target: string;
  readonly actorType: string;
  /** The message's `type`. */
  readonly messageType: string;
  readonly sender: string | undefined;
  /** Pairs an ask with its reply (absent for tells and for asks that stayed on their node). */
  readonly correlationId: string | undefined;
  /** The envelope's headers: the span continues the trace they carry, or starts one. */
  readonly headers: Readonly<Record<string, string>> | undefined;
}

/** A moment in an actor's life: spawned, activated (a virtual actor's first message), or durable mail acknowledged. */
export interface ActorTrace {
  readonly operation: 'spawn' | 'activate' | 'ack';
  readonly nodeId: string;
  /** The actor's address (not known yet when a spawn begins). */
  readonly address?: string | undefined;
  readonly actorType: string;
  /** The span this one belongs under (the handling of the acknowledged message). */
  readonly parent?: TraceSpan | undefined;
  /** Or the headers of the message that caused it (an activation); else the active context is the parent. */
  readonly headers?: Readonly<Record<string, string>> | undefined;
}

/** A task queued by a caller (`enqueue`) or run by a worker (`run`). */
export interface TaskTrace {
  readonly operation: 'enqueue' | 'run';
  /** The runner's kind: `bullmq`, `pool`. */
  readonly runner: string;
  readonly task: string;
  readonly jobId: string;
  /** 1-based attempt (`run` only). */
  readonly attempt?: number | undefined;
  /** For `run`: the carrier the job brought from its caller (see {@link TraceSpan.inject}). */
  readonly carrier?: Readonly<Record<string, string>> | undefined;
}

/**
 * Records spans for a system (`createSystem({ tracing })`) and task runners (`bullmqTaskRunner({ tracing })`).
 * `otelTracing()` from troupe/telemetry implements it with `@opentelemetry/api`.
 *
 * The system calls {@link enabled} once per message and, when it is false, nothing else: no span, no header,
 * no envelope where a plain tell needs none. Without a `tracing` option, not even that.
 */
export interface Tracing {
  /** True while spans are recorded (for OpenTelemetry: a tracer provider is registered). Cheap: called per message. */
  enabled(): boolean;
  /** Starts the span of a message sent, as a child of the active context. */
  send(message: OutgoingTrace): TraceSpan;
  /** Starts the span of a handler run; its parent is the context in the message's headers (none: a new trace). */
  process(message: ProcessTrace): TraceSpan;
  /** Starts the span of a spawn, an activation or an acknowledgement. */
  actor(event: ActorTrace): TraceSpan;
  /** Starts the span of a task enqueued (child of the active context) or run (child of the job's carrier). */
  task(task: TaskTrace): TraceSpan;
}

/**
 * @internal Checks a `tracing` option (systems, task runners): absent, or an object with the methods of a
 * {@link Tracing}. Throws `INVALID_OPTIONS` naming the field.
 */
export function tracingOption(tracing: unknown, field = 'tracing'): Tracing | undefined {
  if (tracing === undefined) return undefined;
  const t = tracing as Partial<Record<keyof Tracing, unknown>> | null;
  if (
    typeof t !== 'object' ||
    t === null ||
    typeof t.enabled !== 'function' ||
    typeof t.send !== 'function' ||
    typeof t.process !== 'function' ||
    typeof t.actor !== 'function' ||
    typeof t.task !== 'function'
  )
    throw new InvalidOptionsError(field, 'expected a Tracing, such as otelTracing() from troupe/telemetry');
  return tracing as Tracing;
}
