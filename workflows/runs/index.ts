// Durable graph runs: a run is a virtual actor, checkpointed per node and per step in an AppendLog.

export { type GraphRunCallOptions, type GraphRuns, graphRuns } from './client.js';
export { defineGraphRun, type GraphRunOptions, type GraphRunType } from './define.js';
export type {
  GraphRunOutcome,
  GraphRunProtocol,
  GraphRunStatus,
} from './protocol.js';
export { type RunFailure, type RunRecord, runKey } from './records.js';
export type { Checkpoint, RunStatusName } from './view.js';
