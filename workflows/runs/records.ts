// What a durable graph run writes to its log, one record per fact, in order: deltas, never the whole state
// (except once, at the start of a fork). Replaying them rebuilds the state and the cursor without running a node.

import type { Cursor } from '../graph/cursor.js';
import type { NodeFailure } from '../graph/types.js';

/** A failure as recorded: the code and message of what a node (or the run) threw. */
export interface RunFailure {
  readonly code: string;
  readonly message: string;
  readonly node?: string;
}

export type RunRecord =
  /** The run began: its input and the cursor of step 1; a fork also carries the state it starts from. */
  | {
      k: 'start';
      graph: string;
      input: unknown;
      at: number;
      cursor: Cursor;
      state?: Record<string, unknown>;
      from?: { runId: string; step: number };
    }
  /** One node of step `step` finished: the updates it made (a delta), or the failure its error edge routes. */
  | { k: 'node'; step: number; node: string; updates: unknown[]; error?: NodeFailure }
  /**
   * Step `step` finished: the cursor of the next one (so a replay never calls a router), without the nodes run
   * so far, which a replay adds up itself (so a record does not grow with the run).
   */
  | {
      k: 'step';
      step: number;
      cursor: Omit<Cursor, 'ran'>;
      at: number;
      /** The outcomes of nodes not recorded on their own (a step of one node). */
      nodes?: { node: string; updates: unknown[]; error?: NodeFailure }[];
    }
  /** A node of step `step` asked for input. */
  | { k: 'interrupt'; step: number; node: string; payload: unknown }
  /** The input a node of step `step` asked for. */
  | { k: 'resume'; step: number; node: string; value: unknown }
  | { k: 'end'; step: number; at: number }
  | { k: 'fail'; step: number; error: RunFailure; at: number }
  | { k: 'cancel'; step: number; at: number };

/** The log key of run `runId` of graph `graph`: one key (one JetStream subject) per run. */
export const runKey = (graph: string, runId: string): string => `${graph}:${runId}`;
