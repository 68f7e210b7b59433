// One HTTP request/response on undici's dispatch API: the fast path of the HTTP target. A handler object takes
// the response's callbacks directly, with no body stream and no promise per chunk (undici's `request()` builds a
// Readable per response, which costs about a third of the throughput on small responses).

import { Buffer } from 'node:buffer';
import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';

const NO_HEADERS: IncomingHttpHeaders = Object.freeze({}) as IncomingHttpHeaders;

/** What carries an exchange (a connection of the pool in http-pool.ts): told once undici is done with it. */
export interface ExchangeCarrier {
  release(): void;
}

/**
 * The handler of one dispatched request, settling its promise once: at the response's end (then `status`,
 * `headers`, `text` and `bytes` hold it: no result object per request), with the error undici reports, or at once
 * with `abort(reason)` (a request still queued in the pool is aborted when it reaches a connection).
 */
export class Exchange implements Dispatcher.DispatchHandler {
  readonly promise: Promise<void>;
  /** The pool's connection that carries it, told when undici is done with the request (end or error). */
  connection: ExchangeCarrier | undefined;
  #resolve!: () => void;
  #reject!: (err: unknown) => void;
  #controller: Dispatcher.DispatchController | undefined;
  #abortReason: Error | undefined;
  #settled = false;
  /** The response's status and headers (once its head arrived). */
  status = 0;
  headers: IncomingHttpHeaders = NO_HEADERS;
  /** Body bytes received so far. */
  bytes = 0;
  /** The body as UTF-8 text, once the response ended ('' when it was not kept). */
  text = '';
  #chunks: Buffer[] | undefined;
  #timer: NodeJS.Timeout | undefined;
  #expired = false;
  #signal: AbortSignal | undefined;
  /** Only for requests given a signal: most have none, and a closure per request is garbage. */
  #onAbort: (() => void) | undefined;

  constructor(keepBody: boolean) {
    if (keepBody) this.#chunks = [];
    this.promise = new Promise<void>((resolve, reject) => {
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

  /** Aborts the exchange when `signal` aborts. */
  follow(signal: AbortSignal): void {
    this.#signal = signal;
    this.#onAbort = () => this.abort(new Error('aborted by its signal'));
    signal.addEventListener('abort', this.#onAbort, { once: true });
  }

  /** Aborts the exchange: the promise rejects with `reason` now. */
  abort(reason: Error): void {
    if (this.#settled) return;
    if (this.#controller === undefined) this.#abortReason = reason;
    else this.#controller.abort(reason);
    this.#fail(reason);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#abortReason !== undefined) controller.abort(this.#abortReason);
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    status: number,
    headers: IncomingHttpHeaders,
  ): void {
    this.status = status;
    this.headers = headers;
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.bytes += chunk.length;
    this.#chunks?.push(chunk);
  }

  onResponseEnd(): void {
    this.connection?.release();
    if (this.#settled) return;
    this.#settle();
    const chunks = this.#chunks;
    if (chunks !== undefined && chunks.length > 0)
      this.text =
        chunks.length === 1
          ? (chunks[0] as Buffer).toString('utf8')
          : Buffer.concat(chunks, this.bytes).toString('utf8');
    this.#resolve();
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.connection?.release();
    this.#fail(error);
  }

  /** Fails a request that never reached undici (the pool was closed or destroyed): rejects with `error`. */
  fail(error: Error): void {
    this.#fail(error);
  }

  #fail(error: unknown): void {
    if (this.#settled) return;
    this.#settle();
    this.#reject(error);
  }

  #settle(): void {
    this.#settled = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (this.#onAbort !== undefined) this.#signal?.removeEventListener('abort', this.#onAbort);
  }
}
