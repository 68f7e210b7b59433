// A built graph: supersteps in which the active nodes run concurrently on one snapshot of the state, their partial
// updates are folded in through the reducers, then edges pick the next set. The stepping is split into pure parts
// (`begin`, `advance`) around `runNode`, so the in-process `run()` and durable runs (workflows/runs/) share it:
// a durable run records each node's update and each step's cursor, and replays them instead of re-running.

import { WorkflowError, WorkflowErrorCode } from './errors.js';
import type { Reducer } from './reducers.js';
import {
  type AgentNode,
  type CondEdge,
  END,
  type NodeContext,
  type NodeFailure,
  type NodeOptions,
  type NodeSpec,
  type PlainEdge,
  type Runnable,
  type RunOptions,
  START,
  type StateSpec,
  type SubgraphRunNode,
} from './types.js';

const DEFAULT_MAX_STEPS = 1000;
const DEFAULT_BACKOFF_MS = 100;
const DEFAULT_MAX_BACKOFF_MS = 10_000;

type Bag = Record<string, unknown>;

/**
 * @internal Where a run stands between supersteps; plain JSON, so a durable run can record it. `step` counts
 * the supersteps done; `active` runs next.
 */
export interface Cursor {
  step: number;
  active: string[];
  /** Traversals of bounded edges, by edge id. */
  loops: Record<string, number>;
  /** Join edges: the sources finished so far, by edge id. */
  waiting: Record<string, string[]>;
  /** Nodes that ran at least once (a bound counts returns to them). */
  ran: string[];
  /** Failures handed to the targets of error edges in the next step. */
  errors: Record<string, NodeFailure>;
}

/** @internal What one node produced in a step: its updates, or the failure its error edge routes. */
export interface NodeOutcome {
  updates: Bag[];
  error?: NodeFailure;
}

/** @internal The interrupt a node raised: not a failure, the run waits for a value. */
export class GraphInterrupt extends Error {
  constructor(
    readonly node: string,
    readonly payload: unknown,
  ) {
    super(`node "${node}" is waiting for input`);
  }
}

/** @internal How a node is invoked beyond the run options: where it stands and what it was given. */
export interface NodeCall {
  step: number;
  runId: string | undefined;
  error: NodeFailure | undefined;
  /** The value `ctx.interrupt()` returns, when the run was resumed at this node. */
  resume?: { value: unknown };
  /** Calls an agent node (a durable run asks the agent actor). */
  invokeAgent?: (node: AgentNode<unknown>, state: Readonly<Bag>, ctx: NodeContext) => Promise<unknown>;
  /** Runs a durable subgraph node to its end; resolves with the child's final state. */
  invokeRun?: (node: SubgraphRunNode<unknown>, state: Readonly<Bag>, ctx: NodeContext) => Promise<unknown>;
}

const failureOf = (node: string, err: unknown): NodeFailure => {
  const e = err as { code?: unknown; message?: unknown; cause?: { code?: unknown; message?: unknown } };
  // A node failure wraps what the node threw: report the node's own error.
  const inner = WorkflowError.is(err, WorkflowErrorCode.NodeFailed) && e.cause !== undefined ? e.cause : e;
  return {
    node,
    code: typeof inner?.code === 'string' ? inner.code : 'GRAPH_NODE_FAILED',
    message: String(inner?.message ?? err),
  };
};

export class CompiledGraph<S> implements Runnable<S> {
  readonly #spec: StateSpec<S>;
  readonly #nodes: ReadonlyMap<string, NodeSpec<S>>;
  readonly #options: ReadonlyMap<string, NodeOptions>;
  readonly #edges: readonly PlainEdge[];
  readonly #conds: readonly CondEdge<S>[];

  /** @internal Built by `GraphBuilder.build()`. */
  constructor(
    spec: StateSpec<S>,
    nodes: ReadonlyMap<string, NodeSpec<S>>,
    options: ReadonlyMap<string, NodeOptions>,
    edges: readonly PlainEdge[],
    conds: readonly CondEdge<S>[],
  ) {
    this.#spec = spec;
    this.#nodes = nodes;
    this.#options = options;
    this.#edges = edges;
    this.#conds = conds;
  }

  /** Node names, in the order they were added. */
  get nodes(): string[] {
    return [...this.#nodes.keys()];
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
    const state: Bag = {};
    for (const [key, channel] of Object.entries(this.#spec) as [string, unknown][])
      if (typeof channel === 'object' && channel !== null && typeof (channel as Bag).default === 'function')
        state[key] = ((channel as Bag).default as () => unknown)();
    this.apply(state, input, 'input');
    return state;
  }

  /** @internal Folds one partial update into `state` through the reducers; throws GRAPH_INVALID on a bad one. */
  apply(state: Bag, update: unknown, from: string): void {
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
          { data: { node: from, field: key } },
        );
      const channel = (this.#spec as Bag)[key];
      const reducer = (
        typeof channel === 'function' ? channel : (channel as { reducer?: unknown }).reducer
      ) as Reducer<unknown> | undefined;
      // A field never set (and without a default) takes the first update as is.
      state[key] = reducer === undefined || !Object.hasOwn(state, key) ? value : reducer(state[key], value);
    }
  }

  /** @internal The cursor before the first step: the targets of START. */
  begin(state: Bag): Cursor {
    const cursor: Cursor = { step: 0, active: [], loops: {}, waiting: {}, ran: [], errors: {} };
    return this.#follow(state, cursor, [START], new Map());
  }

  /**
   * @internal Finishes step `cursor.step + 1`: folds each active node's updates into `state` (in the order of
   * `active`, whatever order they finished in) and returns the cursor of the next step.
   */
  advance(state: Bag, cursor: Cursor, outcomes: ReadonlyMap<string, NodeOutcome>): Cursor {
    const names = cursor.active;
    for (const name of names)
      for (const update of outcomes.get(name)?.updates ?? []) this.apply(state, update, name);
    const ran = new Set(cursor.ran);
    for (const n of names) ran.add(n);
    const next: Cursor = {
      step: cursor.step + 1,
      active: [],
      loops: { ...cursor.loops },
      waiting: Object.fromEntries(Object.entries(cursor.waiting).map(([k, v]) => [k, [...v]])),
      ran: [...ran],
      errors: {},
    };
    return this.#follow(state, next, names, outcomes);
  }

  /** Where finished nodes lead: plain edges (joins wait for all their sources), routers, error edges. */
  #follow(
    state: Bag,
    cursor: Cursor,
    finished: readonly string[],
    outcomes: ReadonlyMap<string, NodeOutcome>,
  ): Cursor {
    const next = new Set<string>();
    const ran = new Set(cursor.ran);
    const take = (id: string, maxLoops: number | undefined, to: string, from: string) => {
      // A bound counts loops: traversals back to a node this run already ran (END and first visits are free).
      if (maxLoops !== undefined && ran.has(to)) {
        const n = (cursor.loops[id] ?? 0) + 1;
        if (n > maxLoops)
          throw new WorkflowError(
            WorkflowErrorCode.LoopLimit,
            `edge ${from} -> ${to} taken more than its maxLoops (${maxLoops})`,
            { data: { from, to, maxLoops } },
          );
        cursor.loops[id] = n;
      }
      if (to !== END) next.add(to);
    };
    for (const n of finished) {
      const failure = outcomes.get(n)?.error;
      if (failure !== undefined) {
        // The error edge replaces the node's other edges.
        const target = this.#options.get(n)?.onError as string;
        if (target !== END) cursor.errors[target] = failure;
        take(`x:${n}`, undefined, target, n);
        continue;
      }
      this.#edges.forEach((e, i) => {
        if (!e.from.includes(n)) return;
        if (e.from.length === 1) {
          take(`e${i}`, e.maxLoops, e.to, n);
          return;
        }
        const done = new Set(cursor.waiting[`e${i}`] ?? []);
        done.add(n);
        if (done.size === e.from.length) {
          delete cursor.waiting[`e${i}`];
          take(`e${i}`, e.maxLoops, e.to, e.from.join('+'));
        } else cursor.waiting[`e${i}`] = [...done];
      });
      this.#conds.forEach((c, i) => {
        if (c.from !== n) return;
        const picked = c.router(state as S);
        for (const t of typeof picked === 'string' ? [picked] : picked) {
          if ((t !== END && !this.#nodes.has(t)) || (c.targets !== undefined && !c.targets.includes(t)))
            throw new WorkflowError(
              WorkflowErrorCode.MissingTarget,
              `router of "${n}" returned unknown "${t}"`,
              { data: { node: n, target: t } },
            );
          take(`c${i}`, c.maxLoops, t, n);
        }
      });
    }
    cursor.active = [...next];
    return cursor;
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

  /**
   * @internal Runs the active nodes of the next step concurrently on a frozen snapshot of `state`; the first
   * branch that fails (or is interrupted) cancels its siblings and is thrown. `onDone` sees each outcome as its
   * node finishes (a durable run records it there, before the step ends).
   */
  async runStep(
    state: Bag,
    cursor: Cursor,
    options: RunOptions<S>,
    callOf: (name: string) => NodeCall,
    names: readonly string[] = cursor.active,
    onDone?: (name: string, outcome: NodeOutcome) => Promise<void>,
  ): Promise<Map<string, NodeOutcome>> {
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
            const outcome = await this.runNode(name, snapshot, options, step$.signal, callOf(name));
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

  /**
   * @internal One node with its retry policy, timeout and error edge: resolves with its updates, or with its
   * failure when it has an error edge; rejects with GRAPH_NODE_FAILED (or the interrupt) otherwise.
   */
  async runNode(
    name: string,
    state: S,
    options: RunOptions<S>,
    signal: AbortSignal,
    call: NodeCall,
  ): Promise<NodeOutcome> {
    const policy = this.#options.get(name) ?? {};
    const attempts = policy.retry?.attempts ?? 1;
    let backoff = policy.retry?.backoffMs ?? DEFAULT_BACKOFF_MS;
    for (let attempt = 1; ; attempt++) {
      try {
        const updates = await this.#attempt(name, state, options, signal, call, attempt, policy.timeoutMs);
        return { updates: updates as Bag[] };
      } catch (err) {
        if (
          err instanceof GraphInterrupt ||
          signal.aborted ||
          WorkflowError.is(err, WorkflowErrorCode.Interrupted)
        )
          throw err;
        if (attempt < attempts) {
          await sleep(backoff, signal);
          backoff = Math.min(backoff * 2, policy.retry?.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS);
          continue;
        }
        if (policy.onError !== undefined) return { updates: [], error: failureOf(name, err) };
        throw err;
      }
    }
  }

  async #attempt(
    name: string,
    state: S,
    options: RunOptions<S>,
    step: AbortSignal,
    call: NodeCall,
    attempt: number,
    timeoutMs: number | undefined,
  ): Promise<Partial<S>[]> {
    const node = this.#nodes.get(name) as NodeSpec<S>;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let signal = step;
    let timedOut: Promise<never> | undefined;
    if (timeoutMs !== undefined) {
      const own = new AbortController();
      const onStep = () => own.abort(step.reason);
      step.addEventListener('abort', onStep, { once: true });
      signal = own.signal;
      timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const err = new WorkflowError(
            WorkflowErrorCode.NodeTimeout,
            `node "${name}" took longer than ${timeoutMs} ms`,
            { data: { node: name, timeoutMs } },
          );
          own.abort(err);
          reject(err);
        }, timeoutMs);
        timer.unref?.();
      });
      timedOut.catch(() => undefined);
    }
    const ctx: NodeContext = {
      signal,
      node: name,
      step: call.step,
      attempt,
      runId: call.runId,
      error: call.error,
      interrupt: <T>(payload?: unknown): T => {
        if (call.resume !== undefined) return call.resume.value as T;
        if (call.runId === undefined)
          throw new WorkflowError(
            WorkflowErrorCode.Interrupted,
            `node "${name}" asked for input, but an in-process run() cannot wait for it: start a durable run (graphRuns) to interrupt and resume`,
            { data: { node: name, payload } },
          );
        throw new GraphInterrupt(name, payload);
      },
    };
    const work = (async (): Promise<Partial<S>[]> => {
      if (typeof node === 'function') {
        const update = await node(state, ctx);
        return update === undefined ? [] : [update];
      }
      if (typeof (node as SubgraphRunNode<S>).run === 'string') {
        const sub = node as SubgraphRunNode<S>;
        if (call.invokeRun === undefined)
          throw new WorkflowError(
            WorkflowErrorCode.Unsupported,
            `node "${name}" runs the durable graph "${sub.run}": only a durable run (defineGraphRun) can host it`,
            { data: { node: name } },
          );
        const child = await call.invokeRun(sub as SubgraphRunNode<unknown>, state as Bag, ctx);
        const update = sub.output ? sub.output(child, state) : (child as Partial<S>);
        return update === undefined ? [] : [update];
      }
      if (typeof (node as AgentNode<S>).agent === 'string') {
        const agent = node as AgentNode<S>;
        if (call.invokeAgent !== undefined) {
          const answer = await call.invokeAgent(agent as AgentNode<unknown>, state as Bag, ctx);
          const update = agent.output ? agent.output(answer, state) : (answer as Partial<S>);
          return update === undefined ? [] : [update];
        }
        if (!options.invokeAgent)
          throw new WorkflowError(
            WorkflowErrorCode.Unsupported,
            `node "${name}" is an agent node: pass run(input, { invokeAgent }) to call agents`,
            { data: { node: name } },
          );
        const update = await options.invokeAgent(agent.agent, state, ctx);
        return update === undefined ? [] : [update];
      }
      return await (node as Runnable<S>).updates(state, { ...options, signal });
    })();
    try {
      return await (timedOut === undefined ? work : Promise.race([work, timedOut]));
    } catch (err) {
      if (
        err instanceof GraphInterrupt ||
        WorkflowError.is(err, WorkflowErrorCode.Unsupported) ||
        WorkflowError.is(err, WorkflowErrorCode.Interrupted) ||
        WorkflowError.is(err, WorkflowErrorCode.NodeTimeout)
      )
        throw err;
      throw new WorkflowError(
        WorkflowErrorCode.NodeFailed,
        `node "${name}" failed: ${(err as Error)?.message ?? err}`,
        { cause: err, data: { node: name } },
      );
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
