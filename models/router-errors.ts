// The router's own failures: no deployment of a group can take the call now, and a budget that would be
// overspent. Both are TroupeErrors with stable codes, so a supervisor's decider can match them.

import { TroupeError } from '../runtime/index.js';

export const RouterErrorCode = {
  /** No deployment of the group (nor of its fallbacks) can take the call now: circuits open, cooling down. */
  Unavailable: 'MODEL_UNAVAILABLE',
  /** A call was refused because it would take a budget over its limit. */
  BudgetExceeded: 'BUDGET_EXCEEDED',
  /** `chat`/`stream`/`embed` named a group the router does not have. */
  UnknownGroup: 'MODEL_UNKNOWN_GROUP',
} as const;

export type RouterErrorCode = (typeof RouterErrorCode)[keyof typeof RouterErrorCode];

/** Why a group could not take a call. */
export type UnavailableReason = 'circuit-open' | 'cooling-down' | 'rate-limited';

/**
 * `MODEL_UNAVAILABLE`: every deployment of `group` is open, cooling down, or paced beyond the wait allowed.
 * Fails fast (no call is made); `retryAfterMs` says when the first one may take calls again.
 */
export class ModelUnavailableError extends TroupeError {
  override readonly name = 'ModelUnavailableError';
  readonly group: string;
  readonly reason: UnavailableReason;
  readonly retryAfterMs: number;
  constructor(group: string, reason: UnavailableReason, retryAfterMs: number, cause?: unknown) {
    super(
      RouterErrorCode.Unavailable,
      `model group ${group}: no deployment available (${reason}; next in ${Math.ceil(retryAfterMs)} ms)`,
      { cause, data: { group, reason, retryAfterMs, retryable: true } },
    );
    this.group = group;
    this.reason = reason;
    this.retryAfterMs = retryAfterMs;
  }
}

export type BudgetScope = 'agent' | 'team' | 'tenant';

/** `BUDGET_EXCEEDED`: the call would take `scope` `id` over `limit` (`used` already spent or reserved). */
export class BudgetExceededError extends TroupeError {
  override readonly name = 'BudgetExceededError';
  readonly scope: BudgetScope;
  readonly id: string;
  /** `tokens` or `cost`. */
  readonly measure: 'tokens' | 'cost';
  readonly limit: number;
  readonly used: number;
  /** What the refused call would have reserved. */
  readonly requested: number;
  /** When the window ends (epoch ms). */
  readonly resetsAt: number;
  constructor(init: {
    scope: BudgetScope;
    id: string;
    measure: 'tokens' | 'cost';
    limit: number;
    used: number;
    requested: number;
    resetsAt: number;
  }) {
    super(
      RouterErrorCode.BudgetExceeded,
      `budget of ${init.scope} ${init.id} exceeded: ${init.used} + ${init.requested} ${init.measure} > ${init.limit}`,
      { data: { ...init } },
    );
    this.scope = init.scope;
    this.id = init.id;
    this.measure = init.measure;
    this.limit = init.limit;
    this.used = init.used;
    this.requested = init.requested;
    this.resetsAt = init.resetsAt;
  }

  static override is(err: unknown): err is BudgetExceededError {
    return TroupeError.is(err) && err.code === RouterErrorCode.BudgetExceeded;
  }
}
