// What a durable graph run answers to: its messages, the status and outcome it replies with, and its actor state.

import type { ActorContext, Replier, Reply } from '../../runtime/index.js';
import type { RunFailure } from './records.js';
import type { Checkpoint, RunStatusName, RunView } from './view.js';

/** Where a run is, as `status`, `start` and `resume` answer. */
export interface GraphRunStatus<S> {
  runId: string;
  graph: string;
  status: RunStatusName;
  /** Steps done. */
  step: number;
  /** The nodes of the next step. */
  next: string[];
  /** Nodes waiting for `resume`, with what they asked. */
  interrupts: { node: string; payload: unknown }[];
  error?: RunFailure;
  state: S;
  forkedFrom?: { runId: string; step: number };
}

/** What `result` answers: the final state, or the interrupts the run waits at. A failed run rejects. */
export type GraphRunOutcome<S> =
  | { status: 'done'; state: S }
  | { status: 'interrupted'; interrupts: { node: string; payload: unknown }[]; state: S };

export type GraphRunProtocol<S> = {
  /** Starts the run (idempotent: an existing run answers its status). `fork`: start from another run's checkpoint. */
  start: {
    input?: Partial<S>;
    fork?: { from: string; step: number; update?: Partial<S> };
  } & Reply<GraphRunStatus<S>>;
  /** Gives an interrupted node its input (`node`: which one, when several wait). */
  resume: { value: unknown; node?: string } & Reply<GraphRunStatus<S>>;
  status: Reply<GraphRunStatus<S>>;
  /** Answers once the run ends or stops at an interrupt. */
  result: Reply<GraphRunOutcome<S>>;
  /** The run's checkpoints, oldest first; `states` adds the state at each. */
  history: { states?: boolean } & Reply<{ checkpoints: (Checkpoint & { state?: S })[] }>;
  cancel: Reply<GraphRunStatus<S>>;
  /** The run's own step message (never send it yourself). */
  $step: { step: number };
};

/** @internal The actor's state: the run as replayed, and the asks waiting for its result. */
export interface RunCell {
  view: RunView | undefined;
  waiters: Replier<unknown>[];
}

/** @internal The context a run's handlers get. */
export type RunContext<S> = ActorContext<GraphRunProtocol<S>, RunCell>;

/** @internal A run's id: the last segment of its actor's address. */
export const runIdOf = (ctx: { self: { address: string } }): string =>
  ctx.self.address.slice(ctx.self.address.lastIndexOf('/') + 1);
