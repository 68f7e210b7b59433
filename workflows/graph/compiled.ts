// A built graph: supersteps in which the active nodes run concurrently on one snapshot of the state, their partial
// updates are folded in through the reducers, then edges pick the next set. The stepping is split into pure parts
// (`begin`, `advance`: cursor.ts) around `runStep` (superstep.ts, node-runner.ts), so the in-process `run()` and
// durable runs (workflows/runs/) share it: a durable run records each node's update and each step's cursor, and
// replays them instead of re-running.

import { applyUpdate, initialState } from './channels.js';
import { type Cursor, firstCursor, type NodeOutcome, nextCursor } from './cursor.js';
import { WorkflowError, WorkflowErrorCode } from './errors.js';
import { type NodeCall, runNode } from './node-runner.js';
import { runSuperstep } from './superstep.js';
import type {
  CondEdge,
  GraphParts,
  NodeOptions,
  NodeSpec,
  PlainEdge,
  Runnable,
  RunOptions,
  StateSpec,
} from './types.js';

const DEFAULT_MAX_STEPS = 1000;

type Bag = Record<string, unknown>;

export class CompiledGraph<S> implements Runnable<S> {
  readonly #parts: GraphParts<S>;

  /** @internal Built by `GraphBuilder.build()`. */
  constructor(
    spec: StateSpec<S>,
    nodes: ReadonlyMap<string, NodeSpec<S>>,
    options: ReadonlyMap<string, NodeOptions>,
    edges: readonly PlainEdge[],
    conds: readonly CondEdge<S>[],
  ) {
    this.#parts = { spec, nodes, options, edges, conds };
  }

  /** Node names, in the order they were added. */
  get nodes(): string[] {
    return [...this.#parts.nodes.keys()];
  }

  /** Runs from the field defaults plus `input` (folded in through the reducers) to the end; resolves with the final state. */
  async run(input: Partial<S> = {}, options: RunOptions<S> = {}): Promise<S> {
    const state = this.initial(input);
    await this.#execute(state, options, undefined);
    return state as S;
  }

  /** @internal As a subgraph node: starts from the parent's state as is, returns the updates its nodes made. */
  async updates(input: Partial<S>, options: RunOptions<S>): Promise<Partial<S>[]> {
    const updates: Partial<S>[] = [];
    await this.#execute({ ...(input as Bag) }, options, updates);
    return updates;
  }

  /** @internal The field defaults with `input` folded in. */
  initial(input: Partial<S> | undefined): Bag {
    return initialState(this.#parts.spec, input);
  }

  /** @internal Folds one partial update into `state` through the reducers; throws GRAPH_INVALID on a bad one. */
  apply(state: Bag, update: unknown, from: string): void {
    applyUpdate(this.#parts.spec, state, update, from);
  }

  /** @internal The cursor before the first step: the targets of START. */
  begin(state: Bag): Cursor {
    return firstCursor(this.#parts, state);
  }

  /**
   * @internal Finishes step `cursor.step + 1`: folds each active node's updates into `state` (in the order of
   * `active`, whatever order they finished in) and returns the cursor of the next step.
   */
  advance(state: Bag, cursor: Cursor, outcomes: ReadonlyMap<string, NodeOutcome>): Cursor {
    for (const name of cursor.active)
      for (const update of outcomes.get(name)?.updates ?? []) this.apply(state, update, name);
    return nextCursor(this.#parts, state, cursor, outcomes);
  }

  /**
   * @internal Runs the active nodes of the next step concurrently on a frozen snapshot of `state`; the first
   * branch that fails (or is interrupted) cancels its siblings and is thrown. `onDone` sees each outcome as its
   * node finishes (a durable run records it there, before the step ends).
   */
  runStep(
    state: Bag,
    cursor: Cursor,
    options: RunOptions<S>,
    callOf: (name: string) => NodeCall,
    names: readonly string[] = cursor.active,
    onDone?: (name: string, outcome: NodeOutcome) => Promise<void>,
  ): Promise<Map<string, NodeOutcome>> {
    return runSuperstep(this.#parts, { state, names, options, callOf, onDone });
  }

  /**
   * @internal One node with its retry policy, timeout and error edge: resolves with its updates, or with its
   * failure when it has an error edge; rejects with GRAPH_NODE_FAILED (or the interrupt) otherwise.
   */
  runNode(
    name: string,
    state: S,
    options: RunOptions<S>,
    signal: AbortSignal,
    call: NodeCall,
  ): Promise<NodeOutcome> {
    return runNode(this.#parts, { name, state, options, signal, call });
  }

  async #execute(state: Bag, options: RunOptions<S>, record: Partial<S>[] | undefined): Promise<void> {
    const outer = options.signal;
    const maxSteps = options.maxSteps ?? DEFAULT_MAX_STEPS;
    for (let cursor = this.begin(state); cursor.active.length > 0; ) {
      if (outer?.aborted)
        throw new WorkflowError(WorkflowErrorCode.Aborted, 'graph run aborted', { cause: outer.reason });
      if (cursor.step >= maxSteps)
        throw new WorkflowError(WorkflowErrorCode.LoopLimit, `graph run exceeded maxSteps (${maxSteps})`, {
          data: { maxSteps },
        });
      const outcomes = await this.runStep(state, cursor, options, (name) => ({
        step: cursor.step + 1,
        runId: undefined,
        error: cursor.errors[name],
      }));
      if (record)
        for (const name of cursor.active)
          for (const update of outcomes.get(name)?.updates ?? []) record.push(update as Partial<S>);
      cursor = this.advance(state, cursor, outcomes);
    }
  }
}
