// What a tool call comes to: a value, or a coded failure the agent hands back to the model. A tool's failure is
// an outcome, never a thrown error, so one bad call cannot crash an agent's loop.

import { TroupeError } from '../../runtime/index.js';

/** Codes of a failed {@link ToolOutcome} (and of {@link ToolError}). */
export const ToolErrorCode = {
  /** No tool of that name is registered. */
  Unknown: 'TOOL_UNKNOWN',
  /** The arguments are not JSON or do not match the tool's schema; `issues` says where, so the model can repair. */
  InvalidArguments: 'TOOL_INVALID_ARGUMENTS',
  /** The agent may not call this tool: not in its allow-list, or a scope the tool needs is not granted. */
  Forbidden: 'TOOL_FORBIDDEN',
  /** The tool's (or the tenant's) token bucket is empty; `retryAfterMs` says when a token is back. */
  RateLimited: 'TOOL_RATE_LIMITED',
  /** The tool ran past its `timeoutMs`: its signal aborted. */
  Timeout: 'TOOL_TIMEOUT',
  /** The caller aborted the call (its signal). */
  Aborted: 'TOOL_ABORTED',
  /** The tool threw (or its task failed). */
  Failed: 'TOOL_FAILED',
  /** Something the call needs is out of reach: the rate-limit store, the task runner, the job in Redis. */
  Unavailable: 'TOOL_UNAVAILABLE',
  /** The tool needs approval before it runs (the agent loop asks for it; executeTool refuses without it). */
  ApprovalRequired: 'TOOL_APPROVAL_REQUIRED',
} as const;

export type ToolErrorCode = (typeof ToolErrorCode)[keyof typeof ToolErrorCode];

/** One schema violation of a call's arguments. */
export interface ToolIssue {
  /** Where, as a dotted path (`items.2.name`); '' for the arguments object itself. */
  readonly path: string;
  readonly message: string;
}

/** A tool call's result. `durationMs` covers the whole call, checks included. */
export type ToolOutcome =
  | { readonly ok: true; readonly value: unknown; readonly durationMs: number; readonly cost?: number }
  | {
      readonly ok: false;
      readonly code: ToolErrorCode;
      readonly message: string;
      /** Whether the same call may succeed later (rate limit, timeout, outage), as opposed to needing a change. */
      readonly retryable: boolean;
      readonly durationMs: number;
      /** TOOL_INVALID_ARGUMENTS: what is wrong. */
      readonly issues?: readonly ToolIssue[];
      /** TOOL_RATE_LIMITED: when the bucket has a token again. */
      readonly retryAfterMs?: number;
      /** TOOL_FAILED: the code of the error the tool threw, when it had one. */
      readonly cause?: string;
      readonly cost?: number;
    };

/** A failed outcome. */
export type ToolFailure = Extract<ToolOutcome, { ok: false }>;

/**
 * An error with a tool code. A tool may throw one to choose its outcome's code and retryability (a
 * `TOOL_UNAVAILABLE` for a backend that is down, say); `ToolRegistry.specs` throws `TOOL_UNKNOWN` ones.
 */
export class ToolError extends TroupeError {
  override readonly name = 'ToolError';
  readonly retryable: boolean;
  constructor(
    code: ToolErrorCode,
    message: string,
    options: { retryable?: boolean; cause?: unknown; data?: unknown } = {},
  ) {
    super(code, message, options);
    this.retryable = options.retryable ?? RETRYABLE[code];
  }
}

/** Whether each code is worth retrying unchanged. */
export const RETRYABLE: Readonly<Record<ToolErrorCode, boolean>> = {
  TOOL_UNKNOWN: false,
  TOOL_INVALID_ARGUMENTS: false,
  TOOL_FORBIDDEN: false,
  TOOL_RATE_LIMITED: true,
  TOOL_TIMEOUT: true,
  TOOL_ABORTED: false,
  TOOL_FAILED: false,
  TOOL_UNAVAILABLE: true,
  TOOL_APPROVAL_REQUIRED: false,
};

/**
 * The text the model reads for an outcome: the value (as is when a string, else JSON), or `Error CODE: message`
 * (the issues listed one per line), so invalid arguments come back as something the model can repair.
 */
export function formatOutcome(outcome: ToolOutcome): string {
  if (outcome.ok) {
    const { value } = outcome;
    if (typeof value === 'string') return value;
    return value === undefined ? 'null' : (JSON.stringify(value) ?? 'null');
  }
  return `Error ${outcome.code}: ${outcome.message}`;
}
