// The typed graph builder: `graph<S>({ state }).addNode(..).addEdge(..).addConditionalEdge(..).build()`.

import { CompiledGraph } from './compiled.js';
import { WorkflowError, WorkflowErrorCode } from './errors.js';
import type {
  CondEdge,
  ConditionalEdgeOptions,
  EdgeOptions,
  NodeOptions,
  NodeSpec,
  PlainEdge,
  Router,
  StateSpec,
} from './types.js';
import { validateGraph } from './validate.js';

export class GraphBuilder<S> {
  readonly #state: StateSpec<S>;
  readonly #nodes: [string, NodeSpec<S>][] = [];
  readonly #options = new Map<string, NodeOptions>();
  readonly #edges: PlainEdge[] = [];
  readonly #conds: CondEdge<S>[] = [];

  constructor(state: StateSpec<S>) {
    this.#state = state;
  }

  /** A node: a function returning a partial update, `{ agent: address }`, or a built subgraph over the same state. */
  addNode(name: string, node: NodeSpec<S>, options?: NodeOptions): this {
    this.#nodes.push([name, node]);
    if (options !== undefined) this.#options.set(name, options);
    return this;
  }

  /**
   * A plain edge. Several targets fan out (they run concurrently); several sources join: `to` runs once
   * all of them have finished.
   */
  addEdge(from: string | readonly string[], to: string | readonly string[], options: EdgeOptions = {}): this {
    const sources = typeof from === 'string' ? [from] : [...from];
    for (const t of typeof to === 'string' ? [to] : to)
      this.#edges.push({ from: sources, to: t, maxLoops: options.maxLoops });
    return this;
  }

  /** An edge whose router picks the next node (or nodes, to fan out, or END) from the state. */
  addConditionalEdge(from: string, router: Router<S>, options: ConditionalEdgeOptions = {}): this {
    this.#conds.push({
      from,
      router,
      targets: options.targets === undefined ? undefined : [...options.targets],
      maxLoops: options.maxLoops,
    });
    return this;
  }

  /** Validates and freezes the graph; throws a coded {@link WorkflowError} on the first problem. */
  build(): CompiledGraph<S> {
    if (typeof this.#state !== 'object' || this.#state === null)
      throw new WorkflowError(WorkflowErrorCode.Invalid, 'graph({ state }) needs a state object');
    for (const [name, node] of this.#nodes) {
      const ok =
        typeof node === 'function' ||
        (typeof node === 'object' &&
          node !== null &&
          (typeof (node as { agent?: unknown }).agent === 'string' ||
            typeof (node as { run?: unknown }).run === 'string' ||
            typeof (node as { updates?: unknown }).updates === 'function'));
      if (!ok)
        throw new WorkflowError(
          WorkflowErrorCode.Invalid,
          `node "${name}" is not a function, agent, subgraph or { run }`,
          {
            data: { node: name },
          },
        );
    }
    for (const [name, options] of this.#options) checkNodeOptions(name, options);
    // Error edges count as plain edges for reachability and cycles.
    const errorEdges: PlainEdge[] = [...this.#options]
      .filter(([, o]) => o.onError !== undefined)
      .map(([name, o]) => ({ from: [name], to: o.onError as string, maxLoops: undefined }));
    validateGraph(
      this.#nodes.map(([n]) => n),
      [...this.#edges, ...errorEdges],
      this.#conds as CondEdge<unknown>[],
    );
    return new CompiledGraph<S>(
      this.#state,
      new Map(this.#nodes),
      new Map(this.#options),
      [...this.#edges],
      [...this.#conds],
    );
  }
}

function checkNodeOptions(name: string, options: NodeOptions): void {
  const bad = (what: string) =>
    new WorkflowError(WorkflowErrorCode.Invalid, `node "${name}": ${what}`, { data: { node: name } });
  if (typeof options !== 'object' || options === null) throw bad('options must be an object');
  const { retry, timeoutMs, onError } = options;
  const positive = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v > 0;
  if (retry !== undefined) {
    if (
      typeof retry !== 'object' ||
      retry === null ||
      !Number.isInteger(retry.attempts) ||
      retry.attempts < 1
    )
      throw bad('retry.attempts must be a positive integer');
    if (retry.backoffMs !== undefined && !(positive(retry.backoffMs) || retry.backoffMs === 0))
      throw bad('retry.backoffMs must be a non-negative number');
    if (retry.maxBackoffMs !== undefined && !positive(retry.maxBackoffMs))
      throw bad('retry.maxBackoffMs must be a positive number');
  }
  if (timeoutMs !== undefined && !positive(timeoutMs)) throw bad('timeoutMs must be a positive number');
  if (onError !== undefined && typeof onError !== 'string') throw bad('onError must name a node or END');
}

/** Starts a graph over state `S`, one reducer (or `{ reducer, default }`) per field. */
export function graph<S>(options: { state: StateSpec<S> }): GraphBuilder<S> {
  return new GraphBuilder<S>(options.state);
}
