// The caller's side of durable graph runs: typed asks to the run actors of one graph, from any node.

import { type ActorRef, type ActorSystem, InvalidOptionsError } from '../../runtime/index.js';
import type { GraphRunType } from './define.js';
import type { GraphRunOutcome, GraphRunProtocol, GraphRunStatus } from './protocol.js';
import type { Checkpoint } from './view.js';

const DEFAULT_TIMEOUT_MS = 30_000;

export interface GraphRunCallOptions {
  /** @defaultValue 30000 (for `result`: how long to wait for the run to end) */
  timeout?: number;
}

/** Starts, resumes, inspects and forks the runs of one graph. */
export interface GraphRuns<S> {
  /** Starts run `runId` (idempotent: a run that exists answers its status and is not started again). */
  start(runId: string, input?: Partial<S>, options?: GraphRunCallOptions): Promise<GraphRunStatus<S>>;
  /** Waits until the run ends (its final state) or stops at an interrupt; a failed run rejects with its code. */
  result(runId: string, options?: GraphRunCallOptions): Promise<GraphRunOutcome<S>>;
  /** Starts and waits for the result. */
  run(runId: string, input?: Partial<S>, options?: GraphRunCallOptions): Promise<GraphRunOutcome<S>>;
  /** Gives the interrupted node (or `node`, when several wait) its input; the run goes on. */
  resume(
    runId: string,
    value: unknown,
    options?: GraphRunCallOptions & { node?: string },
  ): Promise<GraphRunStatus<S>>;
  status(runId: string, options?: GraphRunCallOptions): Promise<GraphRunStatus<S>>;
  /** The run's checkpoints (step boundaries), oldest first; with `states`, the state at each. */
  history(
    runId: string,
    options?: GraphRunCallOptions & { states?: boolean },
  ): Promise<(Checkpoint & { state?: S })[]>;
  /** Time travel: starts run `newRunId` from `fromRunId`'s checkpoint at `step`, its state patched by `update`. */
  fork(
    fromRunId: string,
    step: number,
    newRunId: string,
    update?: Partial<S>,
    options?: GraphRunCallOptions,
  ): Promise<GraphRunStatus<S>>;
  cancel(runId: string, options?: GraphRunCallOptions): Promise<GraphRunStatus<S>>;
}

/**
 * The runs of `type` (from {@link defineGraphRun}, or its name) as seen from `system`, which needs not host them:
 * a client only asks, so the name is enough.
 */
export function graphRuns<S>(system: ActorSystem, type: GraphRunType<S> | string): GraphRuns<S> {
  if (typeof type !== 'string' && typeof type?.type !== 'string')
    throw new InvalidOptionsError('type', 'expected a type from defineGraphRun() or its name');
  const ref = (runId: string): ActorRef<GraphRunProtocol<S>> =>
    typeof type === 'string'
      ? system.virtual<GraphRunProtocol<S>>(type, runId)
      : system.virtual<GraphRunProtocol<S>>(type as never, runId);
  const timeout = (o: GraphRunCallOptions | undefined) => ({ timeout: o?.timeout ?? DEFAULT_TIMEOUT_MS });
  const runs: GraphRuns<S> = {
    start: (runId, input, o) =>
      ref(runId).ask({ type: 'start', ...(input === undefined ? {} : { input }) }, timeout(o)),
    result: (runId, o) => ref(runId).ask({ type: 'result' }, timeout(o)),
    run: async (runId, input, o) => {
      await runs.start(runId, input, o);
      return runs.result(runId, o);
    },
    resume: (runId, value, o) =>
      ref(runId).ask(
        { type: 'resume', value, ...(o?.node === undefined ? {} : { node: o.node }) },
        timeout(o),
      ),
    status: (runId, o) => ref(runId).ask({ type: 'status' }, timeout(o)),
    history: async (runId, o) =>
      (await ref(runId).ask({ type: 'history', states: o?.states === true }, timeout(o))).checkpoints,
    fork: (fromRunId, step, newRunId, update, o) =>
      ref(newRunId).ask(
        { type: 'start', fork: { from: fromRunId, step, ...(update === undefined ? {} : { update }) } },
        timeout(o),
      ),
    cancel: (runId, o) => ref(runId).ask({ type: 'cancel' }, timeout(o)),
  };
  return runs;
}
