// The actor of one durable graph run. Each step is one durable `$step` message to itself: the step's nodes run,
// each node's update is appended to the log as it finishes, then the step's cursor, then the next `$step` is
// stored. A node that dies mid-step leaves its `$step` unacknowledged; the next owner of the shard gets it again,
// replays the log and runs only the nodes whose records are missing. Completed nodes never run again.

import { createHash } from 'node:crypto';
import {
  type ActorContext,
  type ActorDefinition,
  AppendLogError,
  AppendLogErrorCode,
  defineActor,
  type Replier,
  type Reply,
  silentLogger,
  TroupeError,
} from '../../runtime/index.js';
import {
  type CompiledGraph,
  type Cursor,
  GraphInterrupt,
  type NodeCall,
  type NodeOutcome,
} from '../graph/compiled.js';
import { WorkflowError, WorkflowErrorCode } from '../graph/errors.js';
import type { AgentNode, NodeContext, SubgraphRunNode } from '../graph/types.js';
import type { GraphRunOptions } from './options.js';
import { type RunFailure, type RunRecord, runKey } from './records.js';
import { type Checkpoint, parseRecord, type RunStatusName, RunView } from './view.js';

const DEFAULT_AGENT_TIMEOUT_MS = 300_000;
const DEFAULT_MAX_STEPS = 1000;
const RETRY_FIRST_MS = 100;
const DEFAULT_STEP_SLICE_MS = 100;

const recorded = (outcome: NodeOutcome) => ({
  updates: outcome.updates,
  ...(outcome.error === undefined ? {} : { error: outcome.error }),
});
const RETRY_MAX_MS = 5_000;

type Bag = Record<string, unknown>;

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

type Ctx<S> = ActorContext<GraphRunProtocol<S>, RunCell>;

/** A child run's id: `<runId>:<node>:<step>`, hashed when over the 128 characters an actor id may have. */
function childRunId(runId: string, node: string, step: number): string {
  const id = `${runId}:${node}:${step}`;
  return id.length <= 128 && /^[-\w:+=@~]+$/.test(id)
    ? id
    : `sub-${createHash('sha256')
        .update(id)
        .digest('base64url')
        .slice(0, 43)
        .replace(/[^-\w]/g, '_')}`;
}

const idOf = (address: string): string => address.slice(address.lastIndexOf('/') + 1);
const unavailable = (err: unknown): boolean =>
  err instanceof AppendLogError && err.code === AppendLogErrorCode.Unavailable;

/** @internal The actor definition behind {@link defineGraphRun}. */
export function graphRunActor<S>(
  name: string,
  graph: CompiledGraph<S>,
  options: GraphRunOptions<S>,
): ActorDefinition<GraphRunProtocol<S>, RunCell> {
  const { log } = options;
  const compiled = graph as unknown as CompiledGraph<unknown>;
  const maxSteps = options.maxSteps ?? DEFAULT_MAX_STEPS;
  const agentTimeoutMs = options.agentTimeoutMs ?? DEFAULT_AGENT_TIMEOUT_MS;
  const logger = options.logger ?? silentLogger;
  const sliceMs = options.stepSliceMs ?? DEFAULT_STEP_SLICE_MS;

  const read = async (runId: string, keepStates = false): Promise<RunView | undefined> => {
    const records = await log.read(runKey(name, runId));
    if (records.length === 0) return undefined;
    const first = parseRecord((records[0] as { data: string }).data);
    if (first.k !== 'start')
      throw new WorkflowError(WorkflowErrorCode.Invalid, `run ${runId}: its log does not begin with a start`);
    if (first.graph !== name)
      throw new WorkflowError(WorkflowErrorCode.RunState, `run ${runId} belongs to graph ${first.graph}`);
    const view = new RunView(compiled, first, keepStates);
    for (const r of records.slice(1)) view.fold(parseRecord(r.data));
    return view;
  };

  const load = async (ctx: Ctx<S>): Promise<RunView | undefined> => {
    ctx.state.view ??= await read(idOf(ctx.self.address));
    return ctx.state.view;
  };

  const write = async (ctx: Ctx<S>, view: RunView, record: RunRecord): Promise<void> => {
    await log.append(runKey(name, idOf(ctx.self.address)), JSON.stringify(record));
    view.fold(record);
  };

  const statusOf = (runId: string, view: RunView): GraphRunStatus<S> => ({
    runId,
    graph: name,
    status: view.status,
    step: view.cursor.step,
    next: [...view.cursor.active],
    interrupts: [...view.interrupts].map(([node, payload]) => ({ node, payload })),
    ...(view.error === undefined ? {} : { error: view.error }),
    state: structuredClone(view.state) as S,
    ...(view.from === undefined ? {} : { forkedFrom: view.from }),
  });

  const errorOf = (view: RunView, runId: string): WorkflowError => {
    if (view.status === 'cancelled')
      return new WorkflowError(WorkflowErrorCode.Cancelled, `run ${runId} was cancelled`, {
        data: { runId },
      });
    const e = view.error ?? { code: WorkflowErrorCode.NodeFailed, message: 'failed' };
    return new WorkflowError(
      (e.code.startsWith('GRAPH_') ? e.code : WorkflowErrorCode.NodeFailed) as WorkflowErrorCode,
      `run ${runId} failed: ${e.message}`,
      { data: { runId, ...e } },
    );
  };

  /** Answers the waiting `result` asks if the run ended or stopped at an interrupt. */
  const settle = (ctx: Ctx<S>, view: RunView): void => {
    if (view.status === 'running' || ctx.state.waiters.length === 0) return;
    const waiters = ctx.state.waiters.splice(0);
    const runId = idOf(ctx.self.address);
    for (const w of waiters) {
      if (view.status === 'done') w.reply({ status: 'done', state: structuredClone(view.state) });
      else if (view.status === 'interrupted') {
        const { interrupts, state } = statusOf(runId, view);
        w.reply({ status: 'interrupted', interrupts, state });
      } else w.fail(errorOf(view, runId));
    }
  };

  const schedule = (ctx: Ctx<S>, step: number): Promise<void> => {
    // The id makes a repeated schedule from one point of the log (a redelivery, a retry) one stored message,
    // while a step scheduled again after more records (a resume re-runs the interrupted step) is a new one.
    const records = ctx.state.view?.records ?? 0;
    return ctx.self.send(
      { type: '$step', step },
      { messageId: `${name}:${idOf(ctx.self.address)}:${step}:${records}` },
    );
  };

  const invokeAgentOf =
    (ctx: Ctx<S>, runId: string, node: string, step: number) =>
    async (agent: AgentNode<unknown>, state: Readonly<Bag>, nodeCtx: NodeContext): Promise<unknown> => {
      if (options.invokeAgent !== undefined)
        return options.invokeAgent(agent as AgentNode<S>, state as S, nodeCtx);
      const input = agent.input !== undefined ? agent.input(state) : JSON.stringify(state);
      return ctx
        .refFor(agent.agent)
        .ask({ type: 'run', input, runId: `${runId}.${node}.${step}` } as never, { timeout: agentTimeoutMs });
    };

  /**
   * A durable subgraph node: starts (idempotently) the child run `<runId>:<node>:<step>` and waits for its end. An
   * interrupt in the child stops this run too (its payload names the child); once this run is resumed, the value
   * goes to the child. The child runs on by itself meanwhile, crashes included, so it never starts over.
   */
  const invokeRunOf =
    (ctx: Ctx<S>, runId: string, node: string, step: number) =>
    async (sub: SubgraphRunNode<unknown>, state: Readonly<Bag>, nodeCtx: NodeContext): Promise<unknown> => {
      const childId = childRunId(runId, node, step);
      const child = ctx.refFor(`$v/${sub.run}/${childId}`);
      const input = sub.input !== undefined ? sub.input(state) : state;
      await child.ask({ type: 'start', input } as never, { timeout: agentTimeoutMs });
      let resumed = false;
      for (;;) {
        const out = (await child.ask({ type: 'result' } as never, {
          timeout: agentTimeoutMs,
        })) as GraphRunOutcome<unknown>;
        if (out.status === 'done') return out.state;
        const payload = { subgraph: sub.run, runId: childId, interrupts: out.interrupts };
        // Resumed once already in this attempt: the child asks again, so this run waits again.
        if (resumed) throw new GraphInterrupt(node, payload);
        const value = nodeCtx.interrupt(payload);
        await child.ask({ type: 'resume', value } as never, { timeout: agentTimeoutMs });
        resumed = true;
      }
    };

  /**
   * Runs step `cursor.step + 1`: the nodes not yet recorded, then the step's cursor. Resolves true when the run
   * goes on (the caller runs the next step or schedules it). A step of one node records its update in the step's
   * record (one append per step); the branches of a wider step are recorded each as it finishes, so a crash
   * repeats only the ones cut short.
   */
  const runStep = async (ctx: Ctx<S>, view: RunView): Promise<boolean> => {
    const runId = idOf(ctx.self.address);
    const cursor: Cursor = view.cursor;
    const step = cursor.step + 1;
    const todo = cursor.active.filter((n) => !view.outcomes.has(n));
    const call = (node: string): NodeCall => ({
      step,
      runId,
      error: cursor.errors[node],
      ...(view.resumes.has(node) ? { resume: { value: view.resumes.get(node) } } : {}),
      invokeAgent: invokeAgentOf(ctx, runId, node, step),
      invokeRun: invokeRunOf(ctx, runId, node, step),
    });
    const single = todo.length === 1;
    const record = async (node: string, outcome: NodeOutcome) => {
      if (single) return;
      await write(ctx, view, { k: 'node', step, node, ...recorded(outcome) });
    };
    let fresh = new Map<string, NodeOutcome>();
    try {
      if (todo.length > 0)
        fresh = await compiled.runStep(view.state, cursor, { signal: ctx.signal }, call, todo, record);
    } catch (err) {
      if (err instanceof GraphInterrupt) {
        await write(ctx, view, { k: 'interrupt', step, node: err.node, payload: err.payload ?? null });
        logger.info('graph run interrupted', { graph: name, runId, node: err.node, step });
        settle(ctx, view);
        return false;
      }
      if (unavailable(err) || ctx.signal.aborted) throw err;
      await fail(ctx, view, step, err);
      return false;
    }
    let next: Cursor;
    try {
      next = compiled.advance(structuredClone(view.state), cursor, new Map([...view.outcomes, ...fresh]));
    } catch (err) {
      await fail(ctx, view, step, err);
      return false;
    }
    const { ran: _ran, ...nextCursor } = next;
    await write(ctx, view, {
      k: 'step',
      step,
      cursor: nextCursor,
      at: ctx.clock.now(),
      ...(single ? { nodes: [...fresh].map(([node, outcome]) => ({ node, ...recorded(outcome) })) } : {}),
    });
    if (next.active.length === 0) {
      await write(ctx, view, { k: 'end', step, at: ctx.clock.now() });
      logger.info('graph run done', { graph: name, runId, steps: step });
      settle(ctx, view);
      return false;
    }
    if (next.step >= maxSteps) {
      await fail(
        ctx,
        view,
        step,
        new WorkflowError(WorkflowErrorCode.LoopLimit, `graph run exceeded maxSteps (${maxSteps})`),
      );
      return false;
    }
    return true;
  };

  const fail = async (ctx: Ctx<S>, view: RunView, step: number, err: unknown): Promise<void> => {
    const e = err as { code?: unknown; message?: unknown; data?: { node?: unknown } };
    const error: RunFailure = {
      code: typeof e?.code === 'string' ? e.code : WorkflowErrorCode.NodeFailed,
      message: String(e?.message ?? err),
      ...(typeof e?.data?.node === 'string' ? { node: e.data.node } : {}),
    };
    await write(ctx, view, { k: 'fail', step, error, at: ctx.clock.now() });
    logger.warn('graph run failed', { graph: name, runId: idOf(ctx.self.address), step, code: error.code });
    settle(ctx, view);
  };

  /** Retries `work` while the log is unreachable (an outage): the step's message stays unacknowledged meanwhile. */
  const whileUnavailable = async (ctx: Ctx<S>, work: () => Promise<void>): Promise<void> => {
    for (let wait = RETRY_FIRST_MS; ; wait = Math.min(wait * 2, RETRY_MAX_MS)) {
      try {
        return await work();
      } catch (err) {
        if (!unavailable(err) || ctx.signal.aborted) throw err;
        // What was appended is unknown: read the log again before going on.
        ctx.state.view = undefined;
        logger.warn('graph run: log unavailable, retrying', { graph: name, runId: idOf(ctx.self.address) });
        await new Promise((r) => setTimeout(r, wait).unref?.());
      }
    }
  };

  const guard = async <T>(ctx: Ctx<S>, work: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await work();
    } catch (err) {
      ctx.fail(TroupeError.is(err) ? err : new WorkflowError(WorkflowErrorCode.Invalid, String(err)));
      return undefined;
    }
  };

  const notFound = (runId: string) =>
    new WorkflowError(WorkflowErrorCode.RunNotFound, `no run ${runId} of graph ${name}`, { data: { runId } });

  return defineActor<GraphRunProtocol<S>, RunCell>({
    type: name,
    init: () => ({ view: undefined, waiters: [] }),
    onStop: (ctx) => {
      const err = new WorkflowError(
        WorkflowErrorCode.Aborted,
        `run ${idOf(ctx.self.address)} left this node; ask again for its result`,
      );
      for (const w of ctx.state?.waiters.splice(0) ?? []) w.fail(err);
    },
    handlers: {
      start: (msg, ctx) =>
        guard(ctx, async () => {
          const runId = idOf(ctx.self.address);
          const existing = await load(ctx);
          if (existing !== undefined) return statusOf(runId, existing);
          let start: Extract<RunRecord, { k: 'start' }>;
          if (msg.fork !== undefined) {
            const { from, step, update } = msg.fork;
            const source = await read(from, true);
            const at = source?.checkpoints.findIndex((c) => c.step === step) ?? -1;
            if (source === undefined || at < 0 || source.states === undefined)
              throw new WorkflowError(
                WorkflowErrorCode.RunNotFound,
                `run ${from} has no checkpoint at step ${step}`,
                {
                  data: { runId: from, step },
                },
              );
            const state = structuredClone(source.states[at]) as Bag;
            if (update !== undefined) compiled.apply(state, update, 'fork update');
            const cursor = source.cursors?.[at];
            start = {
              k: 'start',
              graph: name,
              input: null,
              at: ctx.clock.now(),
              cursor: cursor ?? compiled.begin(state),
              state,
              from: { runId: from, step },
            };
          } else {
            const state = compiled.initial(msg.input as Bag | undefined);
            start = {
              k: 'start',
              graph: name,
              input: msg.input ?? {},
              at: ctx.clock.now(),
              cursor: compiled.begin(state),
            };
          }
          await log.append(runKey(name, runId), JSON.stringify(start));
          const view = new RunView(compiled, start, false);
          ctx.state.view = view;
          logger.info('graph run started', {
            graph: name,
            runId,
            ...(start.from ? { from: start.from.runId } : {}),
          });
          if (view.status === 'running') await schedule(ctx, view.cursor.step + 1);
          else await write(ctx, view, { k: 'end', step: 0, at: ctx.clock.now() });
          return statusOf(runId, view);
        }),
      $step: async (msg, ctx) => {
        await whileUnavailable(ctx, async () => {
          const view = await load(ctx);
          if (view === undefined || view.status !== 'running') return;
          const current = view.cursor.step + 1;
          // A step already done (a redelivery after its successor was stored, maybe not): make sure the run goes on.
          if (msg.step < current) return schedule(ctx, current);
          if (msg.step > current) return;
          // Steps go on under this message (still unacknowledged, so a crash brings the run back) for a slice of
          // time; then the next step is a message of its own, so asks to the run (status, cancel) get a turn.
          const until = ctx.clock.now() + sliceMs;
          while (await runStep(ctx, view)) {
            if (ctx.clock.now() >= until || ctx.signal.aborted) return schedule(ctx, view.cursor.step + 1);
          }
        });
      },
      resume: (msg, ctx) =>
        guard(ctx, async () => {
          const runId = idOf(ctx.self.address);
          const view = await load(ctx);
          if (view === undefined) throw notFound(runId);
          if (view.status !== 'interrupted')
            throw new WorkflowError(
              WorkflowErrorCode.RunState,
              `run ${runId} is ${view.status}, not interrupted`,
              {
                data: { runId, status: view.status },
              },
            );
          const node = msg.node ?? (view.interrupts.keys().next().value as string);
          if (!view.interrupts.has(node))
            throw new WorkflowError(
              WorkflowErrorCode.RunState,
              `node "${node}" of run ${runId} is not waiting`,
              {
                data: { runId, node },
              },
            );
          await write(ctx, view, { k: 'resume', step: view.cursor.step + 1, node, value: msg.value ?? null });
          // The fold may have set it running (no interrupt left); TypeScript keeps the narrowing from above.
          if ((view.status as RunStatusName) === 'running') await schedule(ctx, view.cursor.step + 1);
          return statusOf(runId, view);
        }),
      status: (_msg, ctx) =>
        guard(ctx, async () => {
          const view = await load(ctx);
          if (view === undefined) throw notFound(idOf(ctx.self.address));
          return statusOf(idOf(ctx.self.address), view);
        }),
      result: async (_msg, ctx) => {
        const replier = ctx.deferReply();
        try {
          const view = await load(ctx);
          if (view === undefined) return replier?.fail(notFound(idOf(ctx.self.address)));
          if (replier !== undefined) ctx.state.waiters.push(replier as Replier<unknown>);
          settle(ctx, view);
        } catch (err) {
          replier?.fail(err);
        }
      },
      history: (msg, ctx) =>
        guard(ctx, async () => {
          const runId = idOf(ctx.self.address);
          const view = await read(runId, msg.states === true);
          if (view === undefined) throw notFound(runId);
          return {
            checkpoints: view.checkpoints.map((c, i) =>
              msg.states === true ? { ...c, state: view.states?.[i] as S } : { ...c },
            ),
          };
        }),
      cancel: (_msg, ctx) =>
        guard(ctx, async () => {
          const runId = idOf(ctx.self.address);
          const view = await load(ctx);
          if (view === undefined) throw notFound(runId);
          if (view.status === 'running' || view.status === 'interrupted') {
            await write(ctx, view, { k: 'cancel', step: view.cursor.step, at: ctx.clock.now() });
            settle(ctx, view);
          }
          return statusOf(runId, view);
        }),
    },
  });
}
