// The in-process executor of a built graph: supersteps in which the active nodes run concurrently on one
// snapshot of the state, their partial updates are folded in through the reducers, then edges pick the next set.

import { WorkflowError, WorkflowErrorCode } from './errors.js';
import type { Reducer } from './reducers.js';
import {
  type AgentNode,
  type CondEdge,
  END,
  type NodeContext,
  type NodeSpec,
  type PlainEdge,
  type Runnable,
  type RunOptions,
  START,
  type StateSpec,
} from './types.js';

const DEFAULT_MAX_STEPS = 1000;

type Bag = Record<string, unknown>;

export class CompiledGraph<S> implements Runnable<S> {
  readonly #spec: StateSpec<S>;
  readonly #nodes: ReadonlyMap<string, NodeSpec<S>>;
  readonly #edges: readonly PlainEdge[];
  readonly #conds: readonly CondEdge<S>[];

  /** @internal Built by `GraphBuilder.build()`. */
  constructor(
    spec: StateSpec<S>,
    nodes: ReadonlyMap<string, NodeSpec<S>>,
    edges: readonly PlainEdge[],
    conds: readonly CondEdge<S>[],
  ) {
    this.#spec = spec;
    this.#nodes = nodes;
    this.#edges = edges;
    this.#conds = conds;
  }

  /** Node names, in the order they were added. */
  get nodes(): string[] {
    return [...this.#nodes.keys()];
  }

  /** Runs from the field defaults plus `input` (folded in through the reducers) to the end; resolves with the final state. */
  async run(input: Partial<S> = {}, options: RunOptions<S> = {}): Promise<S> {
    const state: Bag = {};
    for (const [key, channel] of Object.entries(this.#spec) as [string, unknown][])
      if (typeof channel === 'object' && channel !== null && typeof (channel as Bag).default === 'function')
        state[key] = ((channel as Bag).default as () => unknown)();
    this.#apply(state, input, 'input');
    await this.#execute(state, options, undefined);
    return state as S;
  }

  /** @internal As a subgraph node: starts from the parent's state as is, returns the updates its nodes made. */
  async updates(input: Partial<S>, options: RunOptions<S>): Promise<Partial<S>[]> {
    const updates: Partial<S>[] = [];
    await this.#execute({ ...(input as Bag) }, options, updates);
    return updates;
  }

  #apply(state: Bag, update: unknown, from: string): void {
    if (update === undefined || update === null) return;
    if (typeof update !== 'object' || Array.isArray(update))
      throw new WorkflowError(
        WorkflowErrorCode.Invalid,
        `${from} returned ${typeof update}, not a partial state`,
      );
    for (const [key, value] of Object.entries(update as Bag)) {
      if (value === undefined) continue;
      if (!Object.hasOwn(this.#spec, key))
        throw new WorkflowError(
          WorkflowErrorCode.Invalid,
          `${from} updated "${key}", which is not a state field`,
          {
            data: { node: from, field: key },
          },
        );
      const channel = (this.#spec as Bag)[key];
      const reducer = (
        typeof channel === 'function' ? channel : (channel as { reducer?: unknown }).reducer
      ) as Reducer<unknown> | undefined;
      // A field never set (and without a default) takes the first update as is.
      state[key] = reducer === undefined || !Object.hasOwn(state, key) ? value : reducer(state[key], value);
    }
  }

  async #execute(state: Bag, options: RunOptions<S>, record: Partial<S>[] | undefined): Promise<void> {
    const outer = options.signal;
    const maxSteps = options.maxSteps ?? DEFAULT_MAX_STEPS;
    const loops = new Map<object, number>();
    const waiting = new Map<PlainEdge, Set<string>>(); // joins: sources finished so far
    let active = new Set<string>();
    const ran = new Set<string>();
    const take = (
      edge: object,
      maxLoops: number | undefined,
      to: string,
      next: Set<string>,
      from: string,
    ) => {
      // A bound counts loops: traversals back to a node this run already ran (END and first visits are free).
      if (maxLoops !== undefined && ran.has(to)) {
        const n = (loops.get(edge) ?? 0) + 1;
        if (n > maxLoops)
          throw new WorkflowError(
            WorkflowErrorCode.LoopLimit,
            `edge ${from} -> ${to} taken more than its maxLoops (${maxLoops})`,
            { data: { from, to, maxLoops } },
          );
        loops.set(edge, n);
      }
      if (to !== END) next.add(to);
    };
    const follow = (finished: Iterable<string>): Set<string> => {
      const next = new Set<string>();
      for (const n of finished) {
        for (const e of this.#edges) {
          if (!e.from.includes(n)) continue;
          if (e.from.length === 1) {
            take(e, e.maxLoops, e.to, next, n);
            continue;
          }
          const done = waiting.get(e) ?? new Set<string>();
          waiting.set(e, done);
          done.add(n);
          if (done.size === e.from.length) {
            done.clear();
            take(e, e.maxLoops, e.to, next, e.from.join('+'));
          }
        }
        for (const c of this.#conds) {
          if (c.from !== n) continue;
          const picked = c.router(state as S);
          for (const t of typeof picked === 'string' ? [picked] : picked) {
            if ((t !== END && !this.#nodes.has(t)) || (c.targets !== undefined && !c.targets.includes(t)))
              throw new WorkflowError(
                WorkflowErrorCode.MissingTarget,
                `router of "${n}" returned unknown "${t}"`,
                {
                  data: { node: n, target: t },
                },
              );
            take(c, c.maxLoops, t, next, n);
          }
        }
      }
      return next;
    };
    active = follow([START]);
    for (let step = 1; active.size > 0; step++) {
      if (outer?.aborted)
        throw new WorkflowError(WorkflowErrorCode.Aborted, 'graph run aborted', { cause: outer.reason });
      if (step > maxSteps)
        throw new WorkflowError(WorkflowErrorCode.LoopLimit, `graph run exceeded maxSteps (${maxSteps})`, {
          data: { maxSteps },
        });
      const names = [...active];
      for (const n of names) ran.add(n);
      const snapshot = Object.freeze({ ...state }) as S;
      // One controller per step: the first failing branch cancels its siblings.
      const step$ = new AbortController();
      const onAbort = () => step$.abort(outer?.reason);
      outer?.addEventListener('abort', onAbort, { once: true });
      let results: PromiseSettledResult<Partial<S>[]>[];
      try {
        results = await Promise.allSettled(
          names.map((name) =>
            this.#runNode(name, snapshot, options, step$.signal).catch((err: unknown) => {
              step$.abort(err);
              throw err;
            }),
          ),
        );
      } finally {
        outer?.removeEventListener('abort', onAbort);
      }
      if (outer?.aborted)
        throw new WorkflowError(WorkflowErrorCode.Aborted, 'graph run aborted', { cause: outer.reason });
      for (const r of results) if (r.status === 'rejected') throw r.reason;
      for (let i = 0; i < names.length; i++)
        for (const update of (results[i] as PromiseFulfilledResult<Partial<S>[]>).value) {
          this.#apply(state, update, names[i] as string);
          if (record && update !== undefined && update !== null) record.push(update);
        }
      active = follow(names);
    }
  }

  async #runNode(name: string, state: S, options: RunOptions<S>, signal: AbortSignal): Promise<Partial<S>[]> {
    const node = this.#nodes.get(name) as NodeSpec<S>;
    const ctx: NodeContext = { signal, node: name };
    try {
      if (typeof node === 'function') {
        const update = await node(state, ctx);
        return update === undefined ? [] : [update];
      }
      if (typeof (node as AgentNode).agent === 'string') {
        if (!options.invokeAgent)
          throw new WorkflowError(
            WorkflowErrorCode.Unsupported,
            `node "${name}" is an agent node: pass run(input, { invokeAgent }) to call agents`,
            { data: { node: name } },
          );
        const update = await options.invokeAgent((node as AgentNode).agent, state, ctx);
        return update === undefined ? [] : [update];
      }
      return await (node as Runnable<S>).updates(state, { ...options, signal });
    } catch (err) {
      if (WorkflowError.is(err, WorkflowErrorCode.Unsupported)) throw err;
      throw new WorkflowError(
        WorkflowErrorCode.NodeFailed,
        `node "${name}" failed: ${(err as Error)?.message ?? err}`,
        {
          cause: err,
          data: { node: name },
        },
      );
    }
  }
}
