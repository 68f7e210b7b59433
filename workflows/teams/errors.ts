// Team failures as TroupeErrors with stable codes, so a caller (or a parent team, or a remote asker) can match
// on `code`; `data` names the member and round where it happened.

import { TroupeError } from '../../runtime/index.js';

export const TeamErrorCode = {
  /** A member spent the team's budget (the router's `BUDGET_EXCEEDED`), or the run reached `budget.maxTurns`. */
  BudgetExceeded: 'TEAM_BUDGET_EXCEEDED',
  /** A member's run failed, also after `memberRetries` asks again; `cause` is its last error. */
  MemberFailed: 'TEAM_MEMBER_FAILED',
  /** A member whose answer the pattern reads (a plan, a verdict, a review) answered something else. */
  BadReply: 'TEAM_BAD_REPLY',
  /** A plan named a worker the team does not have. */
  UnknownMember: 'TEAM_UNKNOWN_MEMBER',
  /** The team actor stopped (or restarted) while the run was in progress: ask again with its runId. */
  Stopped: 'TEAM_STOPPED',
} as const;

export type TeamErrorCode = (typeof TeamErrorCode)[keyof typeof TeamErrorCode];

export class TeamError extends TroupeError {
  override readonly name = 'TeamError';
  constructor(code: TeamErrorCode, message: string, options: { cause?: unknown; data?: unknown } = {}) {
    super(code, message, options);
  }
}
