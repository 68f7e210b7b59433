// The agent's own failures, as TroupeErrors with stable codes an asker (or a supervisor's decider) can match.

import { TroupeError } from '../../runtime/index.js';

export const AgentErrorCode = {
  /** The model's final answer did not match the `output` schema after `maxRepairs` attempts to repair it. */
  OutputInvalid: 'AGENT_OUTPUT_INVALID',
  /** Tool calls kept failing (invalid arguments, tool errors) more than `maxRepairs` times in one run. */
  RepairsExhausted: 'AGENT_REPAIRS_EXHAUSTED',
  /** `approve` named a call that is not waiting for approval. */
  ApprovalNotPending: 'AGENT_APPROVAL_NOT_PENDING',
  /** `approve`/`status` named a run this agent does not know. */
  UnknownRun: 'AGENT_UNKNOWN_RUN',
  /** The agent stopped (or was terminated) while the run was in progress: ask again with its runId to resume. */
  Stopped: 'AGENT_STOPPED',
  /** The model refused to answer (structured outputs' `refusal`). */
  Refused: 'AGENT_REFUSED',
  /** A delegated agent or a handoff target failed. */
  DelegationFailed: 'AGENT_DELEGATION_FAILED',
} as const;

export type AgentErrorCode = (typeof AgentErrorCode)[keyof typeof AgentErrorCode];

export class AgentError extends TroupeError {
  override readonly name = 'AgentError';
  constructor(code: AgentErrorCode, message: string, options: { cause?: unknown; data?: unknown } = {}) {
    super(code, message, options);
  }
}
