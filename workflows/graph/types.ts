// Shapes shared by the graph builder, its validator and its executor.

import type { Reducer } from './reducers.js';

/** The entry pseudo-node: `addEdge(START, first)`. */
export const START = '__start__';
/** The exit pseudo-node: `addEdge(last, END)`. */
export const END = '__end__';

/** A state field: its reducer, or a reducer with a default value. Without a reducer the last write wins. */
export type Channel<T> = Reducer<T> | { reducer?: Reducer<T>; default?: () => T };

export type StateSpec<S> = { [K in keyof S]-?: Channel<S[K]> };

export interface NodeContext {
  readonly signal: AbortSignal;
  /** The node's name. */
  readonly node: string;
}

/** A function node: returns a partial update, merged through the reducers. */
export type NodeFn<S> = (
  state: Readonly<S>,
  ctx: NodeContext,
) => Partial<S> | undefined | Promise<Partial<S> | undefined>;

/** An agent node: the executor hands the state to `RunOptions.invokeAgent(address, ...)`. */
export interface AgentNode {
  readonly agent: string;
}

/** What `compiled.run` resolves with and what a subgraph node reports to its parent. */
export interface Runnable<S> {
  /** @internal Runs and returns the updates applied, in order (a parent folds them through its own reducers). */
  updates(input: Partial<S>, options: RunOptions<S>): Promise<Partial<S>[]>;
}

export type NodeSpec<S> = NodeFn<S> | AgentNode | Runnable<S>;

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
