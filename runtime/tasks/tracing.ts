// Trace context for task runners: the caller's queuing span, whose context rides with the job (in BullMQ's job
// data, or the pool's job), and the run span of each attempt that continues it, in another process too.

import type { TraceSpan, Tracing } from '../ports/tracing.js';

/** A job's queuing span and the carrier of its context (undefined when no propagator wrote any). */
export interface QueuedTrace {
  readonly span: TraceSpan;
  readonly carrier: Record<string, string> | undefined;
}

/**
 * @internal Starts the span of a job being queued, a child of the caller's active context; undefined when the
 * runner does not trace (no `tracing`, or nothing recording).
 */
export function traceEnqueue(
  tracing: Tracing | undefined,
  runner: string,
  task: string,
  jobId: string,
): QueuedTrace | undefined {
  if (tracing === undefined || !tracing.enabled()) return undefined;
  const span = tracing.task({ operation: 'enqueue', runner, task, jobId });
  const carrier: Record<string, string> = {};
  span.inject(carrier);
  // No propagator registered: nothing to carry, and the job stays as small as untraced.
  for (const _ in carrier) return { span, carrier };
  return { span, carrier: undefined };
}

/** What a run span says of its job. */
export interface RunTrace {
  readonly runner: string;
  readonly task: string;
  readonly id: string;
  readonly attempt: number;
  /** The carrier the job brought from its caller. */
  readonly carrier: Readonly<Record<string, string>> | undefined;
}

/**
 * @internal `fn(a, b, c)` (an attempt) inside the job's run span, so what the handler starts is its child; plain
 * `fn(a, b, c)` when the runner does not trace.
 */
export function traceRun<A, B, C, R>(
  tracing: Tracing | undefined,
  job: RunTrace,
  fn: (a: A, b: B, c: C) => Promise<R>,
  a: A,
  b: B,
  c: C,
): Promise<R> {
  if (tracing === undefined || !tracing.enabled()) return fn(a, b, c);
  const span = tracing.task({
    operation: 'run',
    runner: job.runner,
    task: job.task,
    jobId: job.id,
    attempt: job.attempt,
    carrier: job.carrier,
  });
  return span.run(fn, a, b, c).then(
    (output) => {
      span.end();
      return output;
    },
    (err: unknown) => {
      span.fail(err);
      throw err;
    },
  );
}
