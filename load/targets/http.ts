// The HTTP target: one connection pool per node (http-pool.ts, on undici clients), and a thin client whose every
// request is recorded.

import { Buffer } from 'node:buffer';
import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import { InvalidOptionsError } from '../../runtime/index.js';
import { assertOptionsObject, intOption } from '../../runtime/internal.js';
import type { LoadError } from '../errors.js';
import type { Recorder } from '../metrics/recorder.js';
import { stopped, targetFailure } from './failure.js';
import { Exchange, type ExchangeOwner } from './http-exchange.js';
import { HttpPool } from './http-pool.js';
import { assertAllowedHost } from './loopback.js';
import type { OpenedTarget, TargetContext, TargetFactory } from './target.js';

/** Options of {@link http}. */
export interface HttpTargetOptions {
  /** Connections the node's pool opens at most. @defaultValue 10 */
  connections?: number;
  /** Requests in flight per connection (HTTP/1.1 pipelining; 1: none). @defaultValue 1 */
  pipelining?: number;
  /**
   * A request's timeout, in ms. Under 2 s it bounds the whole request exactly (a timer per request); from 2 s
   * on it is undici's own: the wait for the headers, then the longest pause within the body, checked once a
   * second (no per-request cost). @defaultValue 10000
   */
  timeoutMs?: number;
  /** Headers sent with every request (a request's own win). */
  headers?: Record<string, string>;
}

/** Options of one request. */
export interface HttpRequestOptions {
  headers?: Record<string, string>;
  /** Read the body without keeping it (`body` is ''): cheaper when the scenario does not look at it. */
  discardBody?: boolean;
  /** @defaultValue the target's `timeoutMs` */
  timeoutMs?: number;
  /** Aborts this request (unrecorded, like the run's stop). */
  signal?: AbortSignal;
}

/** A request in full. A body that is neither a string nor bytes is sent as JSON. */
export interface HttpRequest extends HttpRequestOptions {
  /** @defaultValue `GET` */
  method?: string;
  /** Appended to the base URL's path. */
  path: string;
  body?: unknown;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body as UTF-8 text ('' with `discardBody`). */
  body: string;
  /** Body bytes received. */
  bytes: number;
}

/**
 * What a scenario gets. A 4xx or 5xx answer is recorded as an error (`http_4xx`, `http_5xx`) and still
 * returned; a timeout, a refused connection or a dropped one is recorded (`timeout`, `connect`, `reset`) and
 * rejects with `LOAD_TIMEOUT` / `LOAD_TARGET_FAILED`; the run's stop rejects in-flight requests with
 * `LOAD_STOPPED`, unrecorded.
 */
export interface HttpClient {
  get(path: string, options?: HttpRequestOptions): Promise<HttpResponse>;
  post(path: string, body: unknown, options?: HttpRequestOptions): Promise<HttpResponse>;
  request(request: HttpRequest): Promise<HttpResponse>;
}

/** A response as a scenario gets it: its headers are parsed on first read (most scenarios never look). */
class ExchangeResponse implements HttpResponse {
  readonly status: number;
  readonly body: string;
  readonly bytes: number;
  readonly #exchange: Exchange<HttpResponse>;

  constructor(exchange: Exchange<HttpResponse>) {
    this.status = exchange.status;
    this.body = exchange.text;
    this.bytes = exchange.bytes;
    this.#exchange = exchange;
  }

  get headers(): IncomingHttpHeaders {
    return this.#exchange.headers;
  }
}

/** {@link HttpTargetOptions} after defaults. */
interface ResolvedHttpOptions {
  origin: string;
  /** The base URL's path without its trailing slash ('' for `/`). */
  prefix: string;
  connections: number;
  pipelining: number;
  timeoutMs: number;
  headers: Record<string, string>;
}

function resolveHttpOptions(baseUrl: string, options: HttpTargetOptions): ResolvedHttpOptions {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new InvalidOptionsError('baseUrl', `expected an http(s) URL, got ${String(baseUrl)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new InvalidOptionsError('baseUrl', `expected an http(s) URL, got ${baseUrl}`);
  if (url.search !== '' || url.hash !== '')
    throw new InvalidOptionsError('baseUrl', 'give the query with each request, not in the base URL');
  assertOptionsObject(options, 'options');
  const headers = options.headers ?? {};
  assertOptionsObject(headers, 'headers');
  for (const [name, value] of Object.entries(headers))
    if (typeof value !== 'string') throw new InvalidOptionsError(`headers.${name}`, 'expected a string');
  return {
    origin: url.origin,
    prefix: url.pathname.replace(/\/+$/, ''),
    connections: intOption(options.connections, 'connections', 10, 1, 100_000),
    pipelining: intOption(options.pipelining, 'pipelining', 1, 1, 1000),
    timeoutMs: intOption(options.timeoutMs, 'timeoutMs', 10_000, 1),
    headers: { ...headers },
  };
}

/** The kind a failed exchange is recorded under. */
function failureKind(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  switch (code) {
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'ETIMEDOUT':
      return 'timeout';
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL':
      return 'connect';
    default:
      return 'reset';
  }
}

/**
 * undici's own timeouts tick once a second (cheap for long ones); below this a request gets a timer of its own,
 * so a 200 ms timeout fires at 200 ms, not up to a second later.
 */
const PRECISE_BELOW_MS = 2000;

class HttpTargetClient implements HttpClient, OpenedTarget<HttpClient>, ExchangeOwner<HttpResponse> {
  readonly client: HttpClient = this;
  readonly #pool: HttpPool;
  readonly #options: ResolvedHttpOptions;
  readonly #name: string;
  readonly #recorder: Recorder;
  readonly #run: AbortSignal;
  readonly #onStop = (): void => {
    // One listener for the whole pool: destroying it fails every in-flight and queued request at once.
    this.#pool.destroy().catch(() => {});
  };
  #closing: Promise<void> | undefined;

  constructor(options: ResolvedHttpOptions, context: TargetContext) {
    this.#options = options;
    this.#name = context.name;
    this.#recorder = context.recorder;
    this.#run = context.signal;
    this.#pool = new HttpPool(options.origin, {
      connections: options.connections,
      pipelining: options.pipelining,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    });
    if (this.#run.aborted) this.#onStop();
    else this.#run.addEventListener('abort', this.#onStop, { once: true });
  }

  get(path: string, options?: HttpRequestOptions): Promise<HttpResponse> {
    return this.#send('GET', path, undefined, options);
  }

  post(path: string, body: unknown, options?: HttpRequestOptions): Promise<HttpResponse> {
    return this.#send('POST', path, body, options);
  }

  request(request: HttpRequest): Promise<HttpResponse> {
    return this.#send(request.method ?? 'GET', request.path, request.body, request);
  }

  // Not an async function: the exchange settles the returned promise itself (recorded by `completed` or
  // `failed` below), one promise and no extra turn per request.
  #send(
    method: string,
    path: string,
    rawBody: unknown,
    options: HttpRequestOptions | undefined,
  ): Promise<HttpResponse> {
    if (this.#run.aborted || options?.signal?.aborted) return Promise.reject(stopped(this.#name));
    let headers = this.#options.headers;
    let body: string | Uint8Array | undefined;
    let bytesOut = 0;
    if (rawBody !== undefined && rawBody !== null) {
      if (typeof rawBody === 'string' || rawBody instanceof Uint8Array) body = rawBody;
      else {
        try {
          body = JSON.stringify(rawBody);
        } catch (err) {
          return Promise.reject(err);
        }
        if (options?.headers?.['content-type'] === undefined)
          headers = { ...headers, 'content-type': 'application/json' };
      }
      bytesOut = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
    }
    if (options?.headers !== undefined) headers = { ...headers, ...options.headers };
    const timeout = options?.timeoutMs;
    const exchange = new Exchange<HttpResponse>(
      this,
      options?.discardBody !== true,
      bytesOut,
      options?.signal,
    );
    if ((timeout ?? this.#options.timeoutMs) < PRECISE_BELOW_MS)
      exchange.expireAfter(timeout ?? this.#options.timeoutMs);
    exchange.follow();
    exchange.started = performance.now();
    // One object literal of one shape for every request: spreading optional fields in would make a new shape
    // (and a slower object clone) per request.
    const request: Dispatcher.DispatchOptions = {
      method: method as 'GET',
      path: this.#options.prefix === '' ? path : this.#options.prefix + path,
      headers,
      body: body ?? null,
      // Pipelining only overlaps requests that undici may send before the previous answer's headers (without
      // it, undici's own default).
      blocking: this.#options.pipelining > 1 ? false : method !== 'HEAD',
      headersTimeout: timeout ?? null,
      bodyTimeout: timeout ?? null,
    };
    this.#pool.dispatch(request, exchange);
    return exchange.promise;
  }

  /** @internal The exchange's response ended: recorded (a 4xx or 5xx as an error), then returned. */
  completed(exchange: Exchange<HttpResponse>): HttpResponse {
    const ms = performance.now() - exchange.started;
    const status = exchange.status;
    const bytesIn = exchange.bytes;
    const bytesOut = exchange.bytesOut;
    if (status >= 400)
      this.#recorder.request(this.#name, ms, {
        error: status >= 500 ? 'http_5xx' : 'http_4xx',
        bytesIn,
        bytesOut,
      });
    else this.#recorder.request(this.#name, ms, { bytesIn, bytesOut });
    return new ExchangeResponse(exchange);
  }

  /** @internal The exchange failed: recorded by kind unless the run's stop (or its signal) ended it. */
  failed(exchange: Exchange<HttpResponse>, err: unknown): LoadError {
    if (this.#run.aborted || exchange.signal?.aborted) return stopped(this.#name, err);
    const kind = exchange.expired ? 'timeout' : failureKind(err);
    this.#recorder.request(this.#name, performance.now() - exchange.started, {
      error: kind,
      bytesOut: exchange.bytesOut,
    });
    return targetFailure(this.#name, kind, err);
  }

  close(): Promise<void> {
    this.#run.removeEventListener('abort', this.#onStop);
    this.#closing ??= this.#pool.close().catch(() => {});
    return this.#closing;
  }
}

/**
 * An HTTP(S) target: each node opens one pool of keep-alive connections to `baseUrl`'s origin; requests are
 * recorded under the target's name (latency from send to the last body byte, bytes in and out).
 *
 * @example
 * targets: { api: http('http://127.0.0.1:8080', { connections: 50 }) },
 * scenario: async (vu) => { const r = await vu.targets.api.get('/health'); vu.check('200', r.status === 200); }
 */
export function http(baseUrl: string, options: HttpTargetOptions = {}): TargetFactory<HttpClient> {
  const resolved = resolveHttpOptions(baseUrl, options);
  return {
    kind: 'http',
    describe: () => `${resolved.origin}${resolved.prefix}`,
    async open(context) {
      assertAllowedHost(resolved.origin, context.allowHosts);
      return new HttpTargetClient(resolved, context);
    },
  };
}
