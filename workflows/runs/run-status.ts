// What a run answers about itself: its status, its failure or cancellation as an error, and the `result` asks
// that wait until it ends or stops at an interrupt.

import { WorkflowError, WorkflowErrorCode } from '../graph/errors.js';
import { type GraphRunStatus, type RunContext, runIdOf } from './protocol.js';
import type { RunView } from './view.js';

/** @internal The status of run `runId` of graph `graph`; the state is a copy. */
export function statusOf<S>(graph: string, runId: string, view: RunView): GraphRunStatus<S> {
  return {
    runId,
    graph,
    status: view.status,
    step: view.cursor.step,
    next: [...view.cursor.active],
    interrupts: [...view.interrupts].map(([node, payload]) => ({ node, payload })),
    ...(view.error === undefined ? {} : { error: view.error }),
    state: structuredClone(view.state) as S,
    ...(view.from === undefined ? {} : { forkedFrom: view.from }),
  };
}

/** @internal Why a failed or cancelled run has no result: the node's code when it is a graph's own. */
export function errorOf(view: RunView, runId: string): WorkflowError {
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
}

/** @internal Answers the waiting `result` asks if the run ended or stopped at an interrupt. */
export function settle<S>(ctx: RunContext<S>, graph: string, view: RunView): void {
  if (view.status === 'running' || ctx.state.waiters.length === 0) return;
  const waiters = ctx.state.waiters.splice(0);
  const runId = runIdOf(ctx);
  for (const w of waiters) {
    if (view.status === 'done') w.reply({ status: 'done', state: structuredClone(view.state) });
    else if (view.status === 'interrupted') {
      const { interrupts, state } = statusOf(graph, runId, view);
      w.reply({ status: 'interrupted', interrupts, state });
    } else w.fail(errorOf(view, runId));
  }
}
