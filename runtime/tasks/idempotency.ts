// Runs by idempotency key within one process: a second run of a key joins the first instead of queuing the job
// again. Both runners use it (the pool keeps settled keys as its store; BullMQ only shares pending ones, Redis
// keeps the rest).

import { ErrorCode, TroupeError } from '../core/errors.js';
import { taskCancelled } from './errors.js';

/** Keys the in-process pool remembers by default (the newest settled ones are kept). */
export const DEFAULT_IDEMPOTENCY_KEYS = 10_000;

interface Shared {
  readonly promise: Promise<unknown>;
  settled: boolean;
}

/** Failures that free their key: the job never ran to an outcome worth keeping (cancelled, refused, closed). */
const FREEING: readonly string[] = [
  ErrorCode.TaskCancelled,
  ErrorCode.SystemClosed,
  ErrorCode.InvalidOptions,
  ErrorCode.InvalidTaskInput,
];

function freesKey(err: unknown): boolean {
  return TroupeError.is(err) && FREEING.includes(err.code);
}

/** @internal The runs of one runner by `<task>\0<key>`. */
export class SharedRuns {
  readonly #runs = new Map<string, Shared>();
  readonly #keepSettled: number;

  /** `keepSettled`: how many settled keys to remember (0: forget a key once its run settles). */
  constructor(keepSettled: number) {
    this.#keepSettled = keepSettled;
  }

  get size(): number {
    return this.#runs.size;
  }

  /**
   * The run of `key` of `task`: joins the one already pending or settled here, else calls `start` (which owns
   * the job and its cancellation by `signal`). A joiner's `signal` only stops that joiner waiting.
   */
  run<O>(task: string, key: string, signal: AbortSignal | undefined, start: () => Promise<O>): Promise<O> {
    const id = `${task}\0${key}`;
    const known = this.#runs.get(id);
    if (known !== undefined) return join(known.promise as Promise<O>, signal, task, key);
    const promise = start();
    const shared: Shared = { promise, settled: false };
    this.#runs.set(id, shared);
    const settle = (keep: boolean): void => {
      shared.settled = true;
      if (!keep || this.#keepSettled === 0) {
        if (this.#runs.get(id) === shared) this.#runs.delete(id);
        return;
      }
      this.#trim();
    };
    promise.then(
      () => settle(true),
      (err: unknown) => settle(!freesKey(err)),
    );
    return promise;
  }

  /** Forgets the oldest settled keys beyond the bound (pending ones are never dropped). */
  #trim(): void {
    if (this.#runs.size <= this.#keepSettled) return;
    for (const [id, shared] of this.#runs) {
      if (this.#runs.size <= this.#keepSettled) return;
      if (shared.settled) this.#runs.delete(id);
    }
  }
}

/** `promise`, or a cancellation as soon as `signal` aborts (the shared run goes on). */
function join<O>(
  promise: Promise<O>,
  signal: AbortSignal | undefined,
  task: string,
  key: string,
): Promise<O> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(taskCancelled(task, key, signal.reason));
  return new Promise<O>((resolve, reject) => {
    const onAbort = (): void => reject(taskCancelled(task, key, signal.reason));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
