// One HTTP request/response on undici's dispatch API: the fast path of the HTTP target. A handler object takes
// the response's callbacks directly, with no body stream and no promise per chunk (undici's `request()` builds a
// Readable per response, which costs about a third of the throughput on small responses).
//
// The handler speaks undici 7's own callbacks (`onConnect`, `onHeaders`, `onData`, `onComplete`, `onError`),
// marked deprecated in its types but the ones its client calls: a handler of the newer `onRequestStart`/
// `onResponse*` kind is wrapped per request in an adapter that builds a controller and parses the headers and
// trailers into objects, about 5 % of a load generator's CPU on small responses. Here the raw headers are kept
// and parsed only when a scenario reads them. undici is pinned (package.json), and the load tests run this path.

import { Buffer } from 'node:buffer';
import type { IncomingHttpHeaders } from 'node:http';
import { util } from 'undici';
import type { PoolConnection, PooledHandler } from './http-pool.js';

const NO_HEADERS: IncomingHttpHeaders = Object.freeze({}) as IncomingHttpHeaders;

/**
 * Who settles an exchange: told once, at the response's end or at its failure, it records the exchange and
 * returns what its promise resolves or rejects with. One owner per target, so a request makes no closure.
 */
export interface ExchangeOwner<T> {
  completed(exchange: Exchange<T>): T;
  failed(exchange: Exchange<T>, error: unknown): unknown;
}

/**
 * The handler of one dispatched request, settling its promise once, through its owner: at the response's end
 * (then `status`, `headers`, `text` and `bytes` hold it), with the error undici reports, or at once with
 * `abort(reason)` (a request still queued in the pool is aborted when it reaches a connection).
 */
export class Exchange<T> implements PooledHandler {
  readonly promise: Promise<T>;
  readonly #owner: ExchangeOwner<T>;
  /** The pool's connection that carries it, released when undici is done with the request (end or error). */
  connection: PoolConnection | undefined;
  /** When it was sent (performance.now() ms), and the request body's bytes: for the owner's record. */
  started = 0;
  readonly bytesOut: number;
  /** The caller's own signal, if any. */
  readonly signal: AbortSignal | undefined;
  #resolve!: (value: T) => void;
  #reject!: (err: unknown) => void;
  #abortRequest: ((err?: Error) => void) | undefined;
  #abortReason: Error | undefined;
  #settled = false;
  /** The response's status (once its head arrived). */
  status = 0;
  /** The head's raw name/value pairs, parsed on the first read of {@link headers}. */
  #rawHeaders: Buffer[] | undefined;
  #headers: IncomingHttpHeaders | undefined;
  /** Body bytes received so far. */
  bytes = 0;
  /** The body as UTF-8 text, once the response ended ('' when it was not kept). */
  text = '';
  #chunks: Buffer[] | undefined;
  #timer: NodeJS.Timeout | undefined;
  #expired = false;
  /** Only for requests given a signal: most have none, and a closure per request is garbage. */
  #onAbort: (() => void) | undefined;

  constructor(owner: ExchangeOwner<T>, keepBody: boolean, bytesOut: number, signal: AbortSignal | undefined) {
    this.#owner = owner;
    this.bytesOut = bytesOut;
    this.signal = signal;
    if (keepBody) this.#chunks = [];
    this.promise = new Promise<T>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  /** Aborts the exchange after `ms` (then {@link expired} is true): a deadline for the whole exchange. */
  expireAfter(ms: number): void {
    this.#timer = setTimeout(() => {
      this.#expired = true;
      this.abort(new Error(`no complete response within ${ms} ms`));
    }, ms);
  }

  /** True once {@link expireAfter}'s deadline aborted the exchange. */
  get expired(): boolean {
    return this.#expired;
  }

  /** Aborts the exchange when its {@link signal} aborts. */
  follow(): void {
    if (this.signal === undefined) return;
    this.#onAbort = () => this.abort(new Error('aborted by its signal'));
    this.signal.addEventListener('abort', this.#onAbort, { once: true });
  }

  /** Aborts the exchange: the promise rejects with `reason` now. */
  abort(reason: Error): void {
    if (this.#settled) return;
    if (this.#abortRequest === undefined) this.#abortReason = reason;
    else this.#abortRequest(reason);
    this.#fail(reason);
  }

  /** The response's headers, parsed from the raw ones on first read (empty before the head arrived). */
  get headers(): IncomingHttpHeaders {
    if (this.#headers === undefined) {
      const raw = this.#rawHeaders;
      if (raw === undefined) return NO_HEADERS;
      this.#headers = util.parseHeaders(raw) as IncomingHttpHeaders;
    }
    return this.#headers;
  }

  onConnect(abort: (err?: Error) => void): void {
    this.#abortRequest = abort;
    if (this.#abortReason !== undefined) abort(this.#abortReason);
  }

  onHeaders(status: number, rawHeaders: Buffer[]): boolean {
    this.status = status;
    this.#rawHeaders = rawHeaders;
    this.#headers = undefined;
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.bytes += chunk.length;
    this.#chunks?.push(chunk);
    return true;
  }

  onComplete(): void {
    this.#release();
    if (this.#settled) return;
    this.#settle();
    const chunks = this.#chunks;
    if (chunks !== undefined && chunks.length > 0)
      this.text =
        chunks.length === 1
          ? (chunks[0] as Buffer).toString('utf8')
          : Buffer.concat(chunks, this.bytes).toString('utf8');
    // The owner's record runs inside undici's parser callback: a throw there (a metrics hook's) must reject this
    // request, not reach undici, which would then never settle it.
    let value: T;
    try {
      value = this.#owner.completed(this);
    } catch (err) {
      this.#reject(err);
      return;
    }
    this.#resolve(value);
  }

  onError(error: Error): void {
    this.#release();
    this.#fail(error);
  }

  /** Fails a request undici refused to take: rejects with what the owner makes of `error`. */
  fail(error: unknown): void {
    this.#fail(error);
  }

  #fail(error: unknown): void {
    if (this.#settled) return;
    this.#settle();
    let reason: unknown;
    try {
      reason = this.#owner.failed(this, error);
    } catch (err) {
      reason = err;
    }
    this.#reject(reason);
  }

  #release(): void {
    const connection = this.connection;
    if (connection === undefined) return;
    this.connection = undefined;
    connection.release();
  }

  #settle(): void {
    this.#settled = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (this.#onAbort !== undefined) this.signal?.removeEventListener('abort', this.#onAbort);
  }
}
