// Teams: supervised actor trees of agents that work by a pattern (sequential, parallel, orchestrator and
// workers, debate with a judge, peer review), within a budget.

export type {
  DebateArgument,
  DebateStep,
  DebateTeamOptions,
} from './debate.js';
export { debatePrompt, debateTeam, judgePrompt } from './debate.js';
export type { DefineTeamOptions, TeamDefinition } from './define.js';
export { defineTeam } from './define.js';
export { TeamError, TeamErrorCode } from './errors.js';
export type { TeamBudget, TeamMember, TeamOptions } from './options.js';
export { DEFAULT_MEMBER_RETRIES, DEFAULT_MEMBER_TIMEOUT_MS } from './options.js';
export type {
  OrchestratorResult,
  OrchestratorStep,
  OrchestratorTeamOptions,
} from './orchestrator.js';
export { orchestratorPrompt, orchestratorTeam } from './orchestrator.js';
export type { ParallelAnswers, ParallelTeamOptions } from './parallel.js';
export { aggregatePrompt, parallelTeam } from './parallel.js';
export type { PeerReviewTeamOptions } from './peer-review.js';
export { peerReviewTeam, reviewPrompt, revisePrompt } from './peer-review.js';
export type {
  TeamFinishReason,
  TeamMemberStatus,
  TeamProtocol,
  TeamResult,
  TeamStatus,
  TeamTurn,
} from './protocol.js';
export type { TeamPlan, TeamReview, TeamVerdict } from './replies.js';
export { readPlan, readReview, readVerdict, TEAM_REPLY_SCHEMAS, textOf } from './replies.js';
export type { AskMemberOptions, TeamOutcome, TeamPattern } from './run.js';
export { memberRunId, TeamRun } from './run.js';
export type { SequentialStep, SequentialTeamOptions } from './sequential.js';
export { sequentialPrompt, sequentialTeam } from './sequential.js';
export type { TeamState } from './state.js';
