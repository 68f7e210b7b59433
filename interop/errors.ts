// The interop adapters' failures, as TroupeErrors with stable codes an asker (or a supervisor's decider) can match.

import { TroupeError } from '../runtime/index.js';

export const InteropErrorCode = {
  /** The foreign runnable (a LangChain chain, a LangGraph graph) threw; `cause` is its error. */
  Failed: 'INTEROP_FAILED',
  /** The run was aborted: the actor stopped or was terminated while the runnable ran. */
  Aborted: 'INTEROP_ABORTED',
  /** A message could not be converted (unknown role, malformed tool call, unsupported content). */
  InvalidMessage: 'INTEROP_INVALID_MESSAGE',
} as const;

export type InteropErrorCode = (typeof InteropErrorCode)[keyof typeof InteropErrorCode];

export class InteropError extends TroupeError {
  override readonly name = 'InteropError';
  constructor(code: InteropErrorCode, message: string, options: { cause?: unknown; data?: unknown } = {}) {
    super(code, message, options);
  }
}

/** Fails a conversion: `where` says which message (`messages[3].tool_calls[0]`). */
export function invalidMessage(where: string, problem: string): InteropError {
  return new InteropError(InteropErrorCode.InvalidMessage, `${where}: ${problem}`, { data: { where } });
}
