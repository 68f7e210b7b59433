// The durable stepping of one graph run. Each step is one durable `$step` message to itself: the step's nodes
// run, each node's update is appended to the log as it finishes, then the step's cursor, then the next `$step` is
// stored. A node that dies mid-step leaves its `$step` unacknowledged; the next owner of the shard gets it again,
// replays the log and runs only the nodes whose records are missing. Completed nodes never run again.

import { AppendLogError, AppendLogErrorCode } from '../../runtime/index.js';
import type { CompiledGraph } from '../graph/compiled.js';
import type { Cursor, NodeOutcome } from '../graph/cursor.js';
import { WorkflowError, WorkflowErrorCode } from '../graph/errors.js';
import { GraphInterrupt } from '../graph/interrupt.js';
import type { NodeCall } from '../graph/node-runner.js';
import { durableNodeCalls } from './node-calls.js';
import type { ResolvedGraphRunOptions } from './options.js';
import { type RunContext, runIdOf } from './protocol.js';
import type { RunFailure } from './records.js';
import type { RunLog } from './run-log.js';
import { settle } from './run-status.js';
import type { RunView } from './view.js';

const RETRY_FIRST_MS = 100;
const RETRY_MAX_MS = 5_000;

const recorded = (outcome: NodeOutcome) => ({
  updates: outcome.updates,
  ...(outcome.error === undefined ? {} : { error: outcome.error }),
});
const unavailable = (err: unknown): boolean =>
  err instanceof AppendLogError && err.code === AppendLogErrorCode.Unavailable;

/** @internal Runs a graph run's steps under its `$step` messages, and schedules the next. */
export class StepRunner<S> {
  readonly #graph: string;
  readonly #compiled: CompiledGraph<unknown>;
  readonly #runs: RunLog;
  readonly #options: ResolvedGraphRunOptions<S>;

  constructor(runs: RunLog, options: ResolvedGraphRunOptions<S>) {
    this.#graph = runs.graph;
    this.#compiled = runs.compiled;
    this.#runs = runs;
    this.#options = options;
  }

  /** Stores the `$step` message of step `step`. */
  schedule(ctx: RunContext<S>, step: number): Promise<void> {
    // The id makes a repeated schedule from one point of the log (a redelivery, a retry) one stored message,
    // while a step scheduled again after more records (a resume re-runs the interrupted step) is a new one.
    const records = ctx.state.view?.records ?? 0;
    return ctx.self.send(
      { type: '$step', step },
      { messageId: `${this.#graph}:${runIdOf(ctx)}:${step}:${records}` },
    );
  }

  /** Handles `$step` message `step`: runs steps from there for a slice of time, then schedules the next. */
  async onStep(ctx: RunContext<S>, step: number): Promise<void> {
    await this.#whileUnavailable(ctx, async () => {
      const view = await this.#runs.load(ctx);
      if (view === undefined || view.status !== 'running') return;
      const current = view.cursor.step + 1;
      // A step already done (a redelivery after its successor was stored, maybe not): make sure the run goes on.
      if (step < current) return this.schedule(ctx, current);
      if (step > current) return;
      // Steps go on under this message (still unacknowledged, so a crash brings the run back) for a slice of
      // time; then the next step is a message of its own, so asks to the run (status, cancel) get a turn.
      const until = ctx.clock.now() + this.#options.stepSliceMs;
      while (await this.#runStep(ctx, view)) {
        if (ctx.clock.now() >= until || ctx.signal.aborted) return this.schedule(ctx, view.cursor.step + 1);
      }
    });
  }

  /**
   * Runs step `cursor.step + 1`: the nodes not yet recorded, then the step's cursor. Resolves true when the run
   * goes on (the caller runs the next step or schedules it). A step of one node records its update in the step's
   * record (one append per step); the branches of a wider step are recorded each as it finishes, so a crash
   * repeats only the ones cut short.
   */
  async #runStep(ctx: RunContext<S>, view: RunView): Promise<boolean> {
    const { logger, maxSteps } = this.#options;
    const runId = runIdOf(ctx);
    const cursor: Cursor = view.cursor;
    const step = cursor.step + 1;
    const todo = cursor.active.filter((n) => !view.outcomes.has(n));
    const call = (node: string): NodeCall => ({
      step,
      runId,
      error: cursor.errors[node],
      ...(view.resumes.has(node) ? { resume: { value: view.resumes.get(node) } } : {}),
      ...durableNodeCalls(ctx, this.#options, runId, node, step),
    });
    const single = todo.length === 1;
    const record = async (node: string, outcome: NodeOutcome) => {
      if (single) return;
      await this.#runs.write(ctx, view, { k: 'node', step, node, ...recorded(outcome) });
    };
    let fresh = new Map<string, NodeOutcome>();
    try {
      if (todo.length > 0)
        fresh = await this.#compiled.runStep(view.state, cursor, { signal: ctx.signal }, call, todo, record);
    } catch (err) {
      if (err instanceof GraphInterrupt) {
        await this.#runs.write(ctx, view, {
          k: 'interrupt',
          step,
          node: err.node,
          payload: err.payload ?? null,
        });
        logger.info('graph run interrupted', { graph: this.#graph, runId, node: err.node, step });
        settle(ctx, this.#graph, view);
        return false;
      }
      if (unavailable(err) || ctx.signal.aborted) throw err;
      await this.#fail(ctx, view, step, err);
      return false;
    }
    let next: Cursor;
    try {
      next = this.#compiled.advance(
        structuredClone(view.state),
        cursor,
        new Map([...view.outcomes, ...fresh]),
      );
    } catch (err) {
      await this.#fail(ctx, view, step, err);
      return false;
    }
    const { ran: _ran, ...nextCursor } = next;
    await this.#runs.write(ctx, view, {
      k: 'step',
      step,
      cursor: nextCursor,
      at: ctx.clock.now(),
      ...(single ? { nodes: [...fresh].map(([node, outcome]) => ({ node, ...recorded(outcome) })) } : {}),
    });
    if (next.active.length === 0) {
      await this.#runs.write(ctx, view, { k: 'end', step, at: ctx.clock.now() });
      logger.info('graph run done', { graph: this.#graph, runId, steps: step });
      settle(ctx, this.#graph, view);
      return false;
    }
    if (next.step >= maxSteps) {
      const err = new WorkflowError(WorkflowErrorCode.LoopLimit, `graph run exceeded maxSteps (${maxSteps})`);
      await this.#fail(ctx, view, step, err);
      return false;
    }
    return true;
  }

  async #fail(ctx: RunContext<S>, view: RunView, step: number, err: unknown): Promise<void> {
    const e = err as { code?: unknown; message?: unknown; data?: { node?: unknown } };
    const error: RunFailure = {
      code: typeof e?.code === 'string' ? e.code : WorkflowErrorCode.NodeFailed,
      message: String(e?.message ?? err),
      ...(typeof e?.data?.node === 'string' ? { node: e.data.node } : {}),
    };
    await this.#runs.write(ctx, view, { k: 'fail', step, error, at: ctx.clock.now() });
    this.#options.logger.warn('graph run failed', {
      graph: this.#graph,
      runId: runIdOf(ctx),
      step,
      code: error.code,
    });
    settle(ctx, this.#graph, view);
  }

  /** Retries `work` while the log is unreachable (an outage): the step's message stays unacknowledged meanwhile. */
  async #whileUnavailable(ctx: RunContext<S>, work: () => Promise<void>): Promise<void> {
    for (let wait = RETRY_FIRST_MS; ; wait = Math.min(wait * 2, RETRY_MAX_MS)) {
      try {
        return await work();
      } catch (err) {
        if (!unavailable(err) || ctx.signal.aborted) throw err;
        // What was appended is unknown: read the log again before going on.
        ctx.state.view = undefined;
        this.#options.logger.warn('graph run: log unavailable, retrying', {
          graph: this.#graph,
          runId: runIdOf(ctx),
        });
        await new Promise((r) => setTimeout(r, wait).unref?.());
      }
    }
  }
}
