// One superstep's nodes run concurrently on a frozen snapshot of the state: the first branch that fails cancels
// its siblings, an interrupt lets them finish, and each outcome is reported as its node finishes.

import type { NodeOutcome } from './cursor.js';
import { WorkflowError, WorkflowErrorCode } from './errors.js';
import { GraphInterrupt } from './interrupt.js';
import { type NodeCall, runNode } from './node-runner.js';
import type { GraphParts, RunOptions } from './types.js';

type Bag = Record<string, unknown>;

/** @internal One superstep to run: which nodes, on what state, and how each is called. */
export interface Superstep<S> {
  state: Bag;
  names: readonly string[];
  options: RunOptions<S>;
  callOf: (name: string) => NodeCall;
  /** Sees each outcome as its node finishes (a durable run records it there, before the step ends). */
  onDone?: ((name: string, outcome: NodeOutcome) => Promise<void>) | undefined;
}

/**
 * @internal Runs the step's nodes concurrently on a frozen snapshot of its state; the first branch that fails
 * (or is interrupted) cancels its siblings and is thrown.
 */
export async function runSuperstep<S>(
  graph: GraphParts<S>,
  step: Superstep<S>,
): Promise<Map<string, NodeOutcome>> {
  const { state, names, options, callOf, onDone } = step;
  const outer = options.signal;
  const snapshot = Object.freeze({ ...state }) as S;
  // One controller per step: the first failing branch cancels its siblings.
  const step$ = new AbortController();
  const onAbort = () => step$.abort(outer?.reason);
  outer?.addEventListener('abort', onAbort, { once: true });
  let results: PromiseSettledResult<NodeOutcome>[];
  let first: { err: unknown } | undefined;
  try {
    results = await Promise.allSettled(
      names.map(async (name) => {
        try {
          const outcome = await runNode(graph, {
            name,
            state: snapshot,
            options,
            signal: step$.signal,
            call: callOf(name),
          });
          await onDone?.(name, outcome);
          return outcome;
        } catch (err) {
          // An interrupt waits for input: its siblings finish (and are recorded) rather than being cancelled.
          if (err instanceof GraphInterrupt) throw err;
          first ??= { err };
          step$.abort(err);
          throw err;
        }
      }),
    );
  } finally {
    outer?.removeEventListener('abort', onAbort);
  }
  if (outer?.aborted)
    throw new WorkflowError(WorkflowErrorCode.Aborted, 'graph run aborted', { cause: outer.reason });
  // An interrupt wins over the cancellations it caused in its siblings.
  const interrupt = results.find((r) => r.status === 'rejected' && r.reason instanceof GraphInterrupt);
  if (interrupt !== undefined) throw (interrupt as PromiseRejectedResult).reason;
  if (first !== undefined) throw first.err;
  const outcomes = new Map<string, NodeOutcome>();
  names.forEach((name, i) => {
    outcomes.set(name, (results[i] as PromiseFulfilledResult<NodeOutcome>).value);
  });
  return outcomes;
}
