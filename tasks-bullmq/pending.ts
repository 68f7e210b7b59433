// The caller's runs waiting for their job's outcome, by job id: settled once, by whichever answer comes first.

import type { TaskProgress } from '../runtime/index.js';

/** One `run()` waiting for its job. */
export interface PendingRun {
  readonly task: string;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  readonly onProgress: ((value: TaskProgress) => void) | undefined;
  /** Set once `queue.add` resolved: only then can a missing job mean it was lost. */
  added: boolean;
  addition: Promise<unknown>;
  cleanup: () => void;
}

/** The pending runs of one runner; {@link take} hands a run to exactly one settler. */
export class PendingRuns {
  readonly #runs = new Map<string, PendingRun>();
  readonly #idleWaiters: (() => void)[] = [];

  get size(): number {
    return this.#runs.size;
  }

  has(jobId: string): boolean {
    return this.#runs.has(jobId);
  }

  /** The run, left pending (for progress reports). */
  get(jobId: string): PendingRun | undefined {
    return this.#runs.get(jobId);
  }

  add(jobId: string, run: PendingRun): void {
    this.#runs.set(jobId, run);
  }

  /** Removes the run and returns it for its caller to settle; undefined when it was settled already. */
  take(jobId: string): PendingRun | undefined {
    const run = this.#runs.get(jobId);
    if (run === undefined) return undefined;
    this.#runs.delete(jobId);
    run.cleanup();
    if (this.#runs.size === 0) this.wake();
    return run;
  }

  /** A copy of the pending runs, safe to iterate while they settle. */
  snapshot(): [string, PendingRun][] {
    return [...this.#runs];
  }

  /** Resolves once no run is pending, or at the next {@link wake}. */
  idle(): Promise<void> {
    return new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Releases every {@link idle} waiter (a close does not wait for runs). */
  wake(): void {
    for (const wake of this.#idleWaiters.splice(0)) wake();
  }
}
