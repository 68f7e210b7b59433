// The failures the offline model server can inject, per model, and how each one is written on the wire.

import type { ServerResponse } from 'node:http';

/** One failure, as real providers produce it. */
export type LlmFault =
  /** 429 with `Retry-After` (whole seconds, rounded up) and `retry-after-ms`. */
  | { type: 'rate-limit'; retryAfterMs?: number }
  /** 500 (or `status`) with a `server_error` body. */
  | { type: 'server-error'; status?: number }
  /** 503 (or 529, Anthropic's "overloaded"). */
  | { type: 'overloaded'; status?: 503 | 529 }
  /** Never answers, until the client aborts or the server closes. */
  | { type: 'hang' }
  /** 400 with code `context_length_exceeded`. */
  | { type: 'context-length' }
  /** 400 with code `content_filter`, or (`as: 'finish-reason'`) a 200 whose finish_reason is `content_filter`. */
  | { type: 'content-filter'; as?: 'error' | 'finish-reason' }
  /** A 200 whose body (or first SSE event) is not valid JSON. */
  | { type: 'malformed' }
  /** Sends `afterChunks` SSE chunks (default 2; part of the body when not streaming), then destroys the socket. */
  | { type: 'drop-stream'; afterChunks?: number }
  /** 401 `invalid_api_key`, whatever the key. */
  | { type: 'auth' }
  /** Any status with an OpenAI-shaped error body. */
  | { type: 'status'; status: number; code?: string; message?: string; headers?: Record<string, string> };

export type LlmFaultType = LlmFault['type'];

/** A fault as `fault()` takes it: the full object, or its type alone for the defaults. */
export type LlmFaultSpec = LlmFault | LlmFaultType;

export function faultOf(spec: LlmFaultSpec): LlmFault {
  return typeof spec === 'string' ? ({ type: spec } as LlmFault) : spec;
}

interface ArmedFault {
  fault: LlmFault;
  remaining: number;
}

/**
 * The faults armed per model (`*` for every model). Each fires for its next `times` requests (default: until
 * cleared); several armed on one model fire in the order they were armed.
 */
export class FaultTable {
  readonly #byModel = new Map<string, ArmedFault[]>();

  arm(model: string, spec: LlmFaultSpec, times = Number.POSITIVE_INFINITY): void {
    if (!(times > 0)) throw new RangeError(`fault times must be > 0, got ${times}`);
    const list = this.#byModel.get(model) ?? [];
    list.push({ fault: faultOf(spec), remaining: times });
    this.#byModel.set(model, list);
  }

  clear(model?: string): void {
    if (model === undefined) this.#byModel.clear();
    else this.#byModel.delete(model);
  }

  /** Takes the fault the next request to `model` meets, if any (the model's own first, then `*`'s). */
  take(model: string): LlmFault | undefined {
    return this.#takeFrom(model) ?? this.#takeFrom('*');
  }

  models(): string[] {
    return [...this.#byModel.keys()].filter((m) => m !== '*');
  }

  #takeFrom(model: string): LlmFault | undefined {
    const list = this.#byModel.get(model);
    const head = list?.[0];
    if (list === undefined || head === undefined) return undefined;
    head.remaining -= 1;
    if (head.remaining <= 0) list.shift();
    if (list.length === 0) this.#byModel.delete(model);
    return head.fault;
  }
}

/** OpenAI's error body. */
export function errorBody(message: string, type: string, code: string | null, param: string | null = null) {
  return { error: { message, type, param, code } };
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

/**
 * Writes the error response of a fault that answers with an HTTP error; returns the status, or undefined when the
 * fault is not an error response (hang, malformed, drop-stream, content filter as a finish reason).
 */
export function sendFaultError(res: ServerResponse, fault: LlmFault, model: string): number | undefined {
  switch (fault.type) {
    case 'rate-limit': {
      const ms = fault.retryAfterMs ?? 1000;
      sendJson(
        res,
        429,
        errorBody(
          `Rate limit reached for ${model}. Please try again in ${ms}ms.`,
          'requests',
          'rate_limit_exceeded',
        ),
        { 'retry-after': String(Math.ceil(ms / 1000)), 'retry-after-ms': String(ms) },
      );
      return 429;
    }
    case 'server-error': {
      const status = fault.status ?? 500;
      sendJson(
        res,
        status,
        errorBody('The server had an error while processing your request.', 'server_error', null),
      );
      return status;
    }
    case 'overloaded': {
      const status = fault.status ?? 503;
      sendJson(res, status, errorBody(`${model} is currently overloaded.`, 'overloaded_error', 'overloaded'));
      return status;
    }
    case 'context-length':
      sendJson(
        res,
        400,
        errorBody(
          `This model's maximum context length is 8192 tokens. However, your messages resulted in more tokens.`,
          'invalid_request_error',
          'context_length_exceeded',
          'messages',
        ),
      );
      return 400;
    case 'content-filter':
      if (fault.as === 'finish-reason') return undefined;
      sendJson(
        res,
        400,
        errorBody(
          'The response was filtered due to the prompt triggering the content management policy.',
          'invalid_request_error',
          'content_filter',
          'prompt',
        ),
      );
      return 400;
    case 'auth':
      sendJson(
        res,
        401,
        errorBody('Incorrect API key provided.', 'invalid_request_error', 'invalid_api_key'),
      );
      return 401;
    case 'status':
      sendJson(
        res,
        fault.status,
        errorBody(fault.message ?? `injected status ${fault.status}`, 'injected_error', fault.code ?? null),
        fault.headers,
      );
      return fault.status;
    default:
      return undefined;
  }
}
