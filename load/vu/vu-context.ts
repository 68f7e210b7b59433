// The VuContext a scenario gets: one per VU instance (a restart makes a fresh one, with fresh `state`).

import type { Clock } from '../../runtime/index.js';
import { LoadError, LoadErrorCode } from '../errors.js';
import type { Recorder } from '../metrics/recorder.js';
import type { TargetFactory } from '../targets/target.js';
import type { VuContext } from './context.js';

/** What every VU of a node and run shares. */
export interface VuShared {
  readonly node: string;
  readonly data: unknown;
  readonly signal: AbortSignal;
  readonly targets: Readonly<Record<string, unknown>>;
  readonly recorder: Recorder;
  readonly clock: Clock;
  /** High-resolution ms (for durations). */
  readonly now: () => number;
}

function stopped(): LoadError {
  return new LoadError(LoadErrorCode.Stopped, 'the load run stopped');
}

/** @internal The context of one VU instance; `iteration` is set before each iteration. */
export class VuContextImpl implements VuContext<unknown, Record<string, TargetFactory>> {
  readonly id: number;
  iteration = 0;
  state: Record<string, unknown> = {};
  readonly #shared: VuShared;

  constructor(id: number, shared: VuShared) {
    this.id = id;
    this.#shared = shared;
  }

  get node(): string {
    return this.#shared.node;
  }
  get data(): unknown {
    return this.#shared.data;
  }
  get signal(): AbortSignal {
    return this.#shared.signal;
  }
  get targets(): { readonly [K in string]: never } {
    return this.#shared.targets as { readonly [K in string]: never };
  }

  sleep(ms: number): Promise<void> {
    const { signal, clock } = this.#shared;
    if (signal.aborted) return Promise.reject(stopped());
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        clock.clearTimeout(handle);
        reject(stopped());
      };
      const handle = clock.setTimeout(
        () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
        Math.max(0, ms),
      );
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  check(name: string, ok: boolean): boolean {
    const recorder = this.#shared.recorder;
    const outcome = ok ? 'pass' : 'fail';
    recorder.count(`checks.${outcome}`);
    recorder.count(`check.${name}.${outcome}`);
    return ok;
  }

  async step<R>(name: string, fn: () => Promise<R> | R): Promise<R> {
    const now = this.#shared.now;
    const start = now();
    try {
      return await fn();
    } finally {
      this.#shared.recorder.latency(`step.${name}`, now() - start);
    }
  }

  latency(metric: string, ms: number): void {
    this.#shared.recorder.latency(metric, ms);
  }

  count(counter: string, n?: number): void {
    this.#shared.recorder.count(counter, n);
  }
}
