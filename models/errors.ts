// Model call errors: one class with a stable code per failure kind and a `retryable` flag, so a router decides
// retry, cooldown or fallback from the code alone, on this node or after the error crossed the wire.

import { TroupeError } from '../runtime/index.js';

/** Codes of {@link ModelError}. */
export const ModelErrorCode = {
  /** 429: too many requests or tokens; `retryAfterMs` says when to try again, if the server said. */
  RateLimited: 'MODEL_RATE_LIMITED',
  /** 503 or 529: the deployment is overloaded. */
  Overloaded: 'MODEL_OVERLOADED',
  /** The call (or, for a stream, the wait for its next chunk) took longer than `timeoutMs`. */
  Timeout: 'MODEL_TIMEOUT',
  /** The prompt does not fit the model's context window: fall back to a larger model, do not retry. */
  ContextLength: 'MODEL_CONTEXT_LENGTH',
  /** The provider's content filter blocked the prompt or the completion. */
  ContentFiltered: 'MODEL_CONTENT_FILTERED',
  /** 401 or 403: a bad or missing key. */
  Auth: 'MODEL_AUTH',
  /** Any other 4xx: the request itself is wrong (unknown model, bad parameter). */
  BadRequest: 'MODEL_BAD_REQUEST',
  /** 5xx other than 503/529. */
  ServerError: 'MODEL_SERVER_ERROR',
  /** The server could not be reached (refused, reset, DNS) before answering. */
  Unreachable: 'MODEL_UNREACHABLE',
  /** A stream ended before its finish: the connection dropped or the server stopped midway. */
  StreamBroken: 'MODEL_STREAM_BROKEN',
  /** The caller's AbortSignal fired. */
  Aborted: 'MODEL_ABORTED',
  /** The answer was not the JSON expected (or structured output that does not parse). */
  MalformedResponse: 'MODEL_MALFORMED_RESPONSE',
} as const;

export type ModelErrorCode = (typeof ModelErrorCode)[keyof typeof ModelErrorCode];

const RETRYABLE: ReadonlySet<string> = new Set<string>([
  ModelErrorCode.RateLimited,
  ModelErrorCode.Overloaded,
  ModelErrorCode.Timeout,
  ModelErrorCode.ServerError,
  ModelErrorCode.Unreachable,
  ModelErrorCode.StreamBroken,
  ModelErrorCode.MalformedResponse,
]);

/** What a {@link ModelError} carries besides its code; also its `data`, so it survives the wire. */
export interface ModelErrorDetails {
  /** HTTP status, when the server answered. */
  status?: number;
  /** From `retry-after-ms` or `Retry-After` (seconds or an HTTP date). */
  retryAfterMs?: number;
  /** The provider's own error code (`rate_limit_exceeded`, `context_length_exceeded`, ...). */
  providerCode?: string;
  /** The provider's request id, for support tickets. */
  requestId?: string;
  /** Overrides the code's default (e.g. a 429 for an exhausted quota is not worth retrying). */
  retryable?: boolean;
  model?: string;
}

/**
 * A failed model call. Check with `ModelError.is(err, ModelErrorCode.RateLimited)` or `err.code`; after the wire,
 * `isRetryableModelError(err)` reads the flag from `data`.
 */
export class ModelError extends TroupeError {
  override readonly name = 'ModelError';
  /** Whether trying again (after `retryAfterMs`, or a backoff) may succeed. */
  readonly retryable: boolean;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  readonly providerCode: string | undefined;

  constructor(code: ModelErrorCode, message: string, details: ModelErrorDetails = {}, cause?: unknown) {
    const retryable = details.retryable ?? RETRYABLE.has(code);
    super(code, message, { cause, data: { ...details, retryable } });
    this.retryable = retryable;
    this.status = details.status;
    this.retryAfterMs = details.retryAfterMs;
    this.providerCode = details.providerCode;
  }

  /** True when `err` is a model error (a rebuilt one from the wire included), optionally with `code`. */
  static override is(err: unknown, code?: ModelErrorCode): err is ModelError {
    if (!TroupeError.is(err)) return false;
    if (!err.code.startsWith('MODEL_')) return false;
    return code === undefined || err.code === code;
  }
}

/** Whether a model error (local or rebuilt from the wire) is worth retrying. */
export function isRetryableModelError(err: unknown): boolean {
  if (err instanceof ModelError) return err.retryable;
  if (!TroupeError.is(err) || !err.code.startsWith('MODEL_')) return false;
  const flag = (err.data as { retryable?: unknown } | undefined)?.retryable;
  return typeof flag === 'boolean' ? flag : RETRYABLE.has(err.code);
}

/** Anything with a `get(name)`: a fetch `Headers`, or a plain lower-cased record through {@link headersOf}. */
export interface HeaderSource {
  get(name: string): string | null | undefined;
}

/**
 * How long the server asked to wait: `retry-after-ms` (milliseconds), else `Retry-After` in seconds or as an
 * HTTP date. Undefined when neither is there or parses; never negative.
 */
export function retryAfterMsFrom(headers: HeaderSource | undefined, now = Date.now()): number | undefined {
  if (headers === undefined) return undefined;
  const ms = Number.parseFloat(headers.get('retry-after-ms') ?? '');
  if (Number.isFinite(ms)) return Math.max(0, ms);
  const raw = headers.get('retry-after');
  if (raw === null || raw === undefined || raw.trim() === '') return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

const CONTEXT_CODES = new Set(['context_length_exceeded', 'string_above_max_length']);
const CONTEXT_TEXT = /context[ _-]?(length|window)|maximum context|prompt is too long|too many tokens/i;
const FILTER_CODES = new Set(['content_filter', 'content_policy_violation', 'ResponsibleAIPolicyViolation']);

/**
 * Classifies an HTTP error answer by status, the provider's error code and message: the provider-neutral part
 * every adapter shares. `status` undefined means an error event inside a stream.
 */
export function classifyHttpError(
  answer: {
    status: number | undefined;
    providerCode?: string | undefined;
    message: string;
    headers?: HeaderSource | undefined;
    requestId?: string | undefined;
    model?: string | undefined;
  },
  cause?: unknown,
): ModelError {
  const { status, message } = answer;
  const providerCode = answer.providerCode ?? undefined;
  const details: ModelErrorDetails = {};
  if (status !== undefined) details.status = status;
  if (providerCode !== undefined) details.providerCode = providerCode;
  if (answer.requestId !== undefined) details.requestId = answer.requestId;
  if (answer.model !== undefined) details.model = answer.model;
  const text = message;
  if (
    (providerCode !== undefined && CONTEXT_CODES.has(providerCode)) ||
    (status === 400 && CONTEXT_TEXT.test(message))
  ) {
    return new ModelError(ModelErrorCode.ContextLength, text, details, cause);
  }
  if (providerCode !== undefined && FILTER_CODES.has(providerCode)) {
    return new ModelError(ModelErrorCode.ContentFiltered, text, details, cause);
  }
  if (status === 429) {
    const retryAfterMs = retryAfterMsFrom(answer.headers);
    if (retryAfterMs !== undefined) details.retryAfterMs = retryAfterMs;
    // An exhausted quota answers 429 too, but waiting does not refill it.
    if (providerCode === 'insufficient_quota') details.retryable = false;
    return new ModelError(ModelErrorCode.RateLimited, text, details, cause);
  }
  if (status === 503 || status === 529 || providerCode === 'overloaded') {
    const retryAfterMs = retryAfterMsFrom(answer.headers);
    if (retryAfterMs !== undefined) details.retryAfterMs = retryAfterMs;
    return new ModelError(ModelErrorCode.Overloaded, text, details, cause);
  }
  if (status === 401 || status === 403) return new ModelError(ModelErrorCode.Auth, text, details, cause);
  if (status === 408) return new ModelError(ModelErrorCode.Timeout, text, details, cause);
  // 409 is a lock conflict on OpenAI's side: retrying is how their own client handles it.
  if (status === 409)
    return new ModelError(ModelErrorCode.ServerError, text, { ...details, retryable: true }, cause);
  if (status !== undefined && status >= 400 && status < 500) {
    return new ModelError(ModelErrorCode.BadRequest, text, details, cause);
  }
  return new ModelError(ModelErrorCode.ServerError, text, details, cause);
}
