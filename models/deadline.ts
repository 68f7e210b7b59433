// One call's cut-off: the caller's AbortSignal and a timeout folded into one signal for the HTTP client, and
// the memory of which of them fired, so the error says MODEL_ABORTED or MODEL_TIMEOUT rather than a guess.

import { ModelError, ModelErrorCode } from './errors.js';

export class CallDeadline {
  readonly #controller = new AbortController();
  readonly #caller: AbortSignal | undefined;
  readonly #timeoutMs: number | undefined;
  readonly #onCallerAbort = () => this.#controller.abort(this.#caller?.reason);
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timedOut = false;

  /** Throws `MODEL_ABORTED` at once when `caller` already fired. `timeoutMs` undefined or 0: no timeout. */
  constructor(caller: AbortSignal | undefined, timeoutMs: number | undefined) {
    if (caller?.aborted) throw new ModelError(ModelErrorCode.Aborted, 'model call aborted before it started');
    this.#caller = caller;
    this.#timeoutMs = timeoutMs !== undefined && timeoutMs > 0 ? timeoutMs : undefined;
    caller?.addEventListener('abort', this.#onCallerAbort, { once: true });
    this.arm();
  }

  /** The signal to hand the HTTP client. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** (Re)starts the timeout: once per call, or on every chunk of a stream. */
  arm(): void {
    if (this.#timeoutMs === undefined || this.#controller.signal.aborted) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timedOut = true;
      this.#controller.abort(new Error('timeout'));
    }, this.#timeoutMs);
  }

  /** Stops the timeout until the next `arm()`: while the caller holds a chunk, the server is not late. */
  pause(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** The error for a call the caller or the timeout cut; undefined when neither fired. */
  cutError(cause?: unknown): ModelError | undefined {
    if (this.#caller?.aborted) return new ModelError(ModelErrorCode.Aborted, 'model call aborted', {}, cause);
    if (this.#timedOut) {
      return new ModelError(
        ModelErrorCode.Timeout,
        `model call timed out after ${this.#timeoutMs} ms`,
        {},
        cause,
      );
    }
    return undefined;
  }

  dispose(): void {
    this.pause();
    this.#caller?.removeEventListener('abort', this.#onCallerAbort);
  }
}
