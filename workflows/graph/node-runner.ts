// One node of a superstep, run to an outcome: its retry policy with backoff, its timeout, the context it sees,
// the call by kind (function, agent, durable subgraph, nested graph) and the failure its error edge routes.

import type { NodeOutcome } from './cursor.js';
import { WorkflowError, WorkflowErrorCode } from './errors.js';
import { GraphInterrupt } from './interrupt.js';
import type {
  AgentNode,
  GraphParts,
  NodeContext,
  NodeFailure,
  NodeSpec,
  Runnable,
  RunOptions,
  SubgraphRunNode,
} from './types.js';

const DEFAULT_BACKOFF_MS = 100;
const DEFAULT_MAX_BACKOFF_MS = 10_000;

type Bag = Record<string, unknown>;

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

/** @internal One node to run: on which snapshot, under which signal, called how. */
export interface NodeRun<S> {
  name: string;
  state: S;
  options: RunOptions<S>;
  /** The step's signal: aborted when the run is or a sibling fails. */
  signal: AbortSignal;
  call: NodeCall;
}

/**
 * @internal One node with its retry policy, timeout and error edge: resolves with its updates, or with its
 * failure when it has an error edge; rejects with GRAPH_NODE_FAILED (or the interrupt) otherwise.
 */
export async function runNode<S>(graph: GraphParts<S>, run: NodeRun<S>): Promise<NodeOutcome> {
  const { name, signal } = run;
  const policy = graph.options.get(name) ?? {};
  const attempts = policy.retry?.attempts ?? 1;
  let backoff = policy.retry?.backoffMs ?? DEFAULT_BACKOFF_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      const node = graph.nodes.get(name) as NodeSpec<S>;
      const updates = await attemptNode(node, run, attempt, policy.timeoutMs);
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

/** One attempt under its own timeout; what the node threw comes out wrapped as GRAPH_NODE_FAILED. */
async function attemptNode<S>(
  node: NodeSpec<S>,
  run: NodeRun<S>,
  attempt: number,
  timeoutMs: number | undefined,
): Promise<Partial<S>[]> {
  const { name, signal: step } = run;
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
  const ctx = nodeContext(name, signal, run.call, attempt);
  const work = invokeNode(node, run, ctx);
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
      {
        cause: err,
        data: { node: name },
      },
    );
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

function nodeContext(name: string, signal: AbortSignal, call: NodeCall, attempt: number): NodeContext {
  return {
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
}

/** Calls the node by its kind and returns the updates it made. */
async function invokeNode<S>(node: NodeSpec<S>, run: NodeRun<S>, ctx: NodeContext): Promise<Partial<S>[]> {
  const { name, state, options, call } = run;
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
  return await (node as Runnable<S>).updates(state, { ...options, signal: ctx.signal });
}

function failureOf(node: string, err: unknown): NodeFailure {
  const e = err as { code?: unknown; message?: unknown; cause?: { code?: unknown; message?: unknown } };
  // A node failure wraps what the node threw: report the node's own error.
  const inner = WorkflowError.is(err, WorkflowErrorCode.NodeFailed) && e.cause !== undefined ? e.cause : e;
  return {
    node,
    code: typeof inner?.code === 'string' ? inner.code : 'GRAPH_NODE_FAILED',
    message: String(inner?.message ?? err),
  };
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
