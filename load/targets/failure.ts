// How every built-in target fails a request and follows the run's stop: one rule, so scenarios see the same errors.

import { setMaxListeners } from 'node:events';
import { LoadError, LoadErrorCode } from '../errors.js';

/**
 * The error a failed request rejects with, after it was recorded: `LOAD_TIMEOUT` for the `timeout` kind,
 * `LOAD_TARGET_FAILED` otherwise; `data.kind` is the kind recorded under `errors.<kind>`, `cause` the client's.
 */
export function targetFailure(target: string, kind: string, cause: unknown): LoadError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new LoadError(
    kind === 'timeout' ? LoadErrorCode.Timeout : LoadErrorCode.TargetFailed,
    `${target}: ${kind}: ${reason}`,
    { cause, data: { target, kind } },
  );
}

/** The error of a request the run's stop (or the caller's signal) aborted; it is not recorded. */
export function stopped(target: string, cause?: unknown): LoadError {
  return new LoadError(LoadErrorCode.Stopped, `${target}: aborted: the run is stopping`, {
    cause,
    data: { target },
  });
}

/**
 * A signal that follows `run` (the run's stop), of the target's own, so thousands of in-flight requests may
 * each listen to it without Node's listener-leak warning (the run's signal is not ours to reconfigure).
 */
export class StopSignal {
  readonly #controller = new AbortController();
  readonly #run: AbortSignal;
  readonly #onAbort = (): void => this.#controller.abort(this.#run.reason);

  constructor(run: AbortSignal) {
    this.#run = run;
    setMaxListeners(0, this.#controller.signal);
    if (run.aborted) this.#controller.abort(run.reason);
    else run.addEventListener('abort', this.#onAbort, { once: true });
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  get aborted(): boolean {
    return this.#controller.signal.aborted;
  }

  /** This signal, or one aborted by either it or `other` (a per-request signal). */
  with(other: AbortSignal | undefined): AbortSignal {
    return other === undefined ? this.#controller.signal : AbortSignal.any([this.#controller.signal, other]);
  }

  /** Stops following the run (at close). */
  dispose(): void {
    this.#run.removeEventListener('abort', this.#onAbort);
  }
}
