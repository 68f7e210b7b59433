// The gateway's coded errors and how any troupe error maps to an HTTP status.

import { ErrorCode, TroupeError } from '../runtime/index.js';

export const GatewayErrorCode = {
  Unauthenticated: 'GATEWAY_UNAUTHENTICATED',
  Forbidden: 'GATEWAY_FORBIDDEN',
  BadRequest: 'INVALID_REQUEST',
  NotFound: 'GATEWAY_NOT_FOUND',
  NotConfigured: 'GATEWAY_NOT_CONFIGURED',
  Conflict: 'GATEWAY_CONFLICT',
  RateLimited: 'GATEWAY_RATE_LIMITED',
  Internal: 'GATEWAY_INTERNAL',
} as const;
export type GatewayErrorCode = (typeof GatewayErrorCode)[keyof typeof GatewayErrorCode];

const STATUS_OF_GATEWAY: Record<string, number> = {
  GATEWAY_UNAUTHENTICATED: 401,
  GATEWAY_FORBIDDEN: 403,
  GATEWAY_NOT_FOUND: 404,
  GATEWAY_NOT_CONFIGURED: 501,
  GATEWAY_CONFLICT: 409,
  GATEWAY_RATE_LIMITED: 429,
  // A graph definition the caller sent that does not build, and the states of runs.
  GRAPH_INVALID: 400,
  GRAPH_UNREACHABLE: 400,
  GRAPH_UNBOUNDED_CYCLE: 400,
  GRAPH_MISSING_TARGET: 400,
  GRAPH_DUPLICATE: 400,
  GRAPH_UNSUPPORTED_NODE: 400,
  GRAPH_EXPR_SYNTAX: 400,
  GRAPH_EXPR_FORBIDDEN: 400,
  GRAPH_EXPR_TOO_COMPLEX: 400,
  GRAPH_RUN_NOT_FOUND: 404,
  GRAPH_RUN_STATE: 409,
};

export class GatewayError extends TroupeError {
  override readonly name = 'GatewayError';
  constructor(code: GatewayErrorCode, message: string, options: { cause?: unknown; data?: unknown } = {}) {
    super(code, message, options);
  }
}

/** The HTTP status a troupe error code answers with. */
export function statusOf(code: string): number {
  const gateway = STATUS_OF_GATEWAY[code];
  if (gateway !== undefined) return gateway;
  if (code === ErrorCode.AskTimeout) return 504;
  if (code === ErrorCode.ActorNotFound || code === ErrorCode.NoResponders) return 404;
  if (code.startsWith('INVALID_')) return 400;
  return 500;
}

/** The `{ code, message }` body and status of any thrown value. */
export function errorAnswer(err: unknown): { status: number; body: { code: string; message: string } } {
  if (err instanceof TroupeError)
    return { status: statusOf(err.code), body: { code: err.code, message: err.message } };
  return { status: 500, body: { code: GatewayErrorCode.Internal, message: 'internal error' } };
}
