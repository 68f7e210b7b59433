// A load test as its author defines it (`defineLoad`), and what `defineLoad` checks.

import type { ExecutorSpec } from './executors/spec.js';
import type { TargetFactory } from './targets/target.js';
import type { VuContext } from './vu/context.js';

/** A load test. Its module is loaded on every node that runs part of it, so it must be self-contained. */
export interface LoadTest<
  D = unknown,
  T extends Record<string, TargetFactory> = Record<string, TargetFactory>,
> {
  name: string;
  /** The targets, named explicitly: nothing else is aimed at. */
  targets: T;
  /** One iteration of one virtual user. */
  scenario: (vu: VuContext<D, T>) => Promise<void>;
  executor: ExecutorSpec;
  /**
   * Pass/fail conditions that set the exit code, e.g. `p99 < 200ms`, `ttft.p95 < 1s`, `errors < 1%`,
   * `checks > 99%`, `rps > 100`, `dropped_iterations < 1`. A latency statistic without a metric means `request`.
   */
  thresholds?: string[];
  /** Runs once, in the coordinator, before the VUs start; what it returns reaches every VU as `vu.data`. */
  setup?: () => Promise<D> | D;
  /** Runs once, in the coordinator, after the run. */
  teardown?: (data: D) => Promise<void> | void;
  /** How long in-flight iterations may finish after the end before they are aborted. @defaultValue 1000 */
  gracefulStopMs?: number;
  /** Hosts besides loopback the targets may aim at (never a wildcard). @defaultValue [] */
  allowHosts?: string[];
}
