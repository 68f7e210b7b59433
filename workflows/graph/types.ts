// Shapes shared by the graph builder, its validator and its executor.

import type { Reducer } from './reducers.js';

/** The entry pseudo-node: `addEdge(START, first)`. */
export const START = '__start__';
/** The exit pseudo-node: `addEdge(last, END)`. */
export const END = '__end__';

/** A state field: its reducer, or a reducer with a default value. Without a reducer the last write wins. */
export type Channel<T> = Reducer<T> | { reducer?: Reducer<T>; default?: () => T };

export type StateSpec<S> = { [K in keyof S]-?: Channel<S[K]> };

/** A node's failure as a run records it (and hands it to the node its `onError` edge leads to). */
export interface NodeFailure {
  readonly node: string;
  readonly code: string;
  readonly message: string;
}

export interface NodeContext {
  /** Aborted when the run is, when a sibling branch fails, or at the node's `timeoutMs`. */
  readonly signal: AbortSignal;
  /** The node's name. */
  readonly node: string;
  /** The superstep this node runs in (1 for the first). */
  readonly step: number;
  /** The attempt (1 for the first; more under a `retry` policy). */
  readonly attempt: number;
  /** The durable run's id; undefined for an in-process `run()`. */
  readonly runId: string | undefined;
  /** For the target of an `onError` edge: the failure that led here. */
  readonly error: NodeFailure | undefined;
  /**
   * Asks for human input: in a durable run the run stops here (status `interrupted`) until `resume(value)`;
   * then the node runs again and `interrupt` returns that value. An in-process `run()` has nowhere to keep the
   * run, so it rejects with `GRAPH_INTERRUPTED` rather than lose it silently.
   */
  interrupt<T = unknown>(payload?: unknown): T;
}

/** Per node: retries, a timeout and where a failure goes. */
export interface NodeOptions {
  /** Runs the node again after a failure (not after an interrupt or an abort). */
  retry?: {
    /** Attempts in all, the first included. */
    attempts: number;
    /** Wait before the second attempt, doubled after each. @defaultValue 100 */
    backoffMs?: number;
    /** @defaultValue 10000 */
    maxBackoffMs?: number;
  };
  /** Each attempt is aborted and fails with `GRAPH_NODE_TIMEOUT` after this long. */
  timeoutMs?: number;
  /**
   * The error-recovery edge: once its attempts are spent, a failing node routes here (a node or END) instead of
   * failing the run; that node sees the failure as `ctx.error`. The node's other edges are not taken.
   */
  onError?: string;
}

/** A function node: returns a partial update, merged through the reducers. */
export type NodeFn<S> = (
  state: Readonly<S>,
  ctx: NodeContext,
) => Partial<S> | undefined | Promise<Partial<S> | undefined>;

/**
 * An agent node. In-process runs hand the state to `RunOptions.invokeAgent`; durable runs ask the agent at
 * `agent` to `run` with a run id derived from the graph run's (`<runId>.<node>.<step>`), so a journaled agent
 * resumed after a crash makes no model call twice.
 */
export interface AgentNode<S = unknown> {
  readonly agent: string;
  /** The agent's input (text or chat messages) from the state. @defaultValue the state as JSON */
  readonly input?: (state: Readonly<S>) => unknown;
  /** The update from the agent's answer. @defaultValue the answer itself, which must then be an object */
  readonly output?: (answer: unknown, state: Readonly<S>) => Partial<S> | undefined;
}

/** What `compiled.run` resolves with and what a subgraph node reports to its parent. */
export interface Runnable<S> {
  /** @internal Runs and returns the updates applied, in order (a parent folds them through its own reducers). */
  updates(input: Partial<S>, options: RunOptions<S>): Promise<Partial<S>[]>;
}

/**
 * A durable subgraph: in a durable run, the node starts a run of the registered graph run type `run` with the id
 * `<runId>:<node>:<step>` and waits for it. The child is a durable run of its own, so a crash of the parent's node
 * resumes the child where it was (not from its beginning), and an interrupt inside it stops the parent until
 * the parent is resumed. In-process `run()` cannot host it (`GRAPH_UNSUPPORTED_NODE`).
 */
export interface SubgraphRunNode<S = unknown> {
  readonly run: string;
  /** The child run's input from the state. @defaultValue the state */
  readonly input?: (state: Readonly<S>) => unknown;
  /** The update from the child's final state. @defaultValue the child's final state itself */
  readonly output?: (childState: unknown, state: Readonly<S>) => Partial<S> | undefined;
}

export type NodeSpec<S> = NodeFn<S> | AgentNode<S> | SubgraphRunNode<S> | Runnable<S>;

/** A conditional edge's router: the next node, several (fan-out), or END. */
export type Router<S> = (state: Readonly<S>) => string | readonly string[];

export interface EdgeOptions {
  /** Declares a loop bound: the edge is taken at most this many times per run. Required on some edge of every cycle. */
  maxLoops?: number;
}

export interface ConditionalEdgeOptions extends EdgeOptions {
  /** Every node the router may return; lets `build()` check targets, reachability and cycles. */
  targets?: readonly string[];
}

export interface RunOptions<S> {
  signal?: AbortSignal;
  /** Runs agent nodes: returns the partial update for the state. */
  invokeAgent?: (address: string, state: Readonly<S>, ctx: NodeContext) => Promise<Partial<S> | undefined>;
  /**
   * Most supersteps per run, a guard for routers without declared targets.
   * @defaultValue 1000
   */
  maxSteps?: number;
}

/** @internal The builder's record of one plain edge. */
export interface PlainEdge {
  readonly from: readonly string[];
  readonly to: string;
  readonly maxLoops: number | undefined;
}

/** @internal The builder's record of one conditional edge. */
export interface CondEdge<S> {
  readonly from: string;
  readonly router: Router<S>;
  readonly targets: readonly string[] | undefined;
  readonly maxLoops: number | undefined;
}

/** @internal What `build()` hands the executor: the state's channels, the nodes with their options, the edges. */
export interface GraphParts<S> {
  readonly spec: StateSpec<S>;
  readonly nodes: ReadonlyMap<string, NodeSpec<S>>;
  readonly options: ReadonlyMap<string, NodeOptions>;
  readonly edges: readonly PlainEdge[];
  readonly conds: readonly CondEdge<S>[];
}
