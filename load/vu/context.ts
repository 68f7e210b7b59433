// The context a scenario function gets: one per VU, alive across that VU's iterations.

import type { ClientOf, TargetFactory } from '../targets/target.js';

/**
 * What a scenario sees. Everything it records goes to its node's recorder; a scenario that throws fails its
 * iteration (counted under `errors.iteration`) and its VU is restarted by its supervisor with fresh `state`.
 */
export interface VuContext<
  D = unknown,
  T extends Record<string, TargetFactory> = Record<string, TargetFactory>,
> {
  /** The VU's number across the fleet (0-based). */
  readonly id: number;
  /** The iteration's number: across the fleet in the open model, per VU in the closed one. */
  readonly iteration: number;
  /** The node it runs on. */
  readonly node: string;
  /** What the test's `setup()` returned (structured-cloned per node). */
  readonly data: D;
  /** Aborted when the run stops: pass it to anything that waits. */
  readonly signal: AbortSignal;
  /** The opened targets, by name. */
  readonly targets: { readonly [K in keyof T]: ClientOf<T[K]> };
  /** The VU's own scratch state; reset when the VU restarts. */
  state: Record<string, unknown>;
  /** Think time: resolves after `ms`, or rejects with LOAD_STOPPED when the run stops. */
  sleep(ms: number): Promise<void>;
  /** Counts a check under `checks.pass|fail` and `check.<name>.pass|fail`; returns `ok`. */
  check(name: string, ok: boolean): boolean;
  /** Runs `fn` and records its duration under `step.<name>` (also when it throws). */
  step<R>(name: string, fn: () => Promise<R> | R): Promise<R>;
  /** Records a custom latency (ms) or adds to a custom counter. */
  latency(metric: string, ms: number): void;
  count(counter: string, n?: number): void;
}
