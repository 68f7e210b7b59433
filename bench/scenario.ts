// The contract of a benchmark scenario: the figures it measures, how one round runs, and its worker roles.

import type { Histogram } from './histogram.js';
import type { WorkerHandle } from './worker-client.js';

/** Whether bigger or smaller is better for a figure. */
export type Better = 'higher' | 'lower';

/** What a figure measures; the HTML report groups charts by it. */
export type MetricKind = 'throughput' | 'latency' | 'rate' | 'memory';

/** A server a scenario needs; the CLI starts a private one unless given a URL. */
export type ServerNeed = 'nats' | 'redis';

/** One figure a scenario reports for troupe (and, usually, for its raw-library baseline). */
export interface MetricSpec {
  /** Unique within the scenario, e.g. `throughput` or `p99`. */
  id: string;
  /** Human label for tables and charts. */
  label: string;
  /** `msg/s`, `µs`, `actors/s`, `bytes`. */
  unit: string;
  kind: MetricKind;
  better: Better;
  /**
   * Goal for `troupe / baseline`: at least this for higher-is-better figures, at most this for lower-is-better.
   * Absent when there is no goal (or no baseline).
   */
  target?: number;
  /** For figures measured with load spread over processes: how many senders and receivers. */
  processes?: { clients: number; nodes: number };
}

/** Troupe's value of one figure in one round, and the baseline's when there is one. */
export interface Figure {
  troupe: number;
  baseline?: number;
}

/** What one round of a scenario measured. */
export interface RoundResult {
  /** One entry per {@link MetricSpec} id. */
  figures: Record<string, Figure>;
  /** Latency histograms (values in nanoseconds), merged across rounds for the report. */
  latency?: { troupe: Histogram; baseline?: Histogram };
}

/** How much work one round may do. Every load loop honours both bounds. */
export interface RoundBudget {
  /** True for the warm-up round, whose result is discarded: scenarios may do less. */
  warmup: boolean;
  /** Time bound in ms of each measured phase (troupe, then baseline, per configuration). */
  maxMs: number;
  /** Epoch ms (see `wallNow()`) at which a phase starting now must stop: `now + maxMs`. */
  deadline(): number;
}

/** Settings of a run that scenarios may read. */
export interface ScenarioSettings {
  quick: boolean;
  /** `--count`: forces every scenario's per-round count (for smoke tests). */
  count: number | undefined;
  /** Sender process counts to measure (`--clients`). */
  clients: number[];
  /** Receiver (or, for tasks-throughput, worker) process counts to measure (`--nodes`). */
  nodes: number[];
}

/** What a scenario gets to run with. */
export interface ScenarioContext {
  readonly settings: ScenarioSettings;
  /** URL of the NATS server (when the scenario needs it). */
  readonly natsUrl: string | undefined;
  /** URL of the Redis server (when the scenario needs it). */
  readonly redisUrl: string | undefined;
  /** A subject/queue prefix unique to this run of this scenario. */
  readonly namespace: string;
  /** Aborted when the run is interrupted or the scenario overruns its time. */
  readonly signal: AbortSignal;
  /** The per-round count: `quick` or `full` (or `--count` when given); warm-up rounds use a fifth of it. */
  count(quick: number, full: number, budget?: RoundBudget): number;
  /** Shows what the scenario is doing on the progress line. */
  progress(detail: string): void;
  /**
   * Starts this scenario's worker `role` in a child process (compiled JS from dist/bench/worker.js) and waits
   * until it reports ready. The runner kills every worker it forked when the scenario ends.
   */
  fork(role: string, init?: unknown, options?: { execArgv?: string[] }): Promise<WorkerHandle>;
}

/** A scenario opened for a run: measures rounds, then closes. */
export interface ScenarioSession {
  round(budget: RoundBudget): Promise<RoundResult>;
  close(): Promise<void>;
}

/** What a worker role answers: one async function per command the parent may call. */
export type RoleCommands = Record<string, (args: unknown) => unknown>;

/** Builds a worker role inside the child process from the parent's `init` argument. */
export type RoleFactory = (init: unknown) => Promise<RoleCommands> | RoleCommands;

/**
 * A benchmark scenario: one file under `bench/scenarios/`, registered in `bench/scenarios/index.ts`.
 *
 * @example
 * export const myScenario: Scenario = {
 *   name: 'my-thing',
 *   description: 'what it measures and against which baseline',
 *   needs: [],
 *   metrics: () => [{ id: 'throughput', label: 'throughput', unit: 'msg/s', kind: 'throughput', better: 'higher' }],
 *   open: async (ctx) => ({ round: async (budget) => ({ figures: { throughput: { troupe: 1, baseline: 2 } } }), close: async () => {} }),
 * };
 */
export interface Scenario {
  /** Kebab-case, unique: what users type after `troupe bench`. */
  readonly name: string;
  /** One line: what is measured, and the baseline. */
  readonly description: string;
  readonly needs: readonly ServerNeed[];
  /** The figures this scenario reports under `settings`. */
  metrics(settings: ScenarioSettings): MetricSpec[];
  open(ctx: ScenarioContext): Promise<ScenarioSession>;
  /** Roles its child processes can play, by name (see {@link ScenarioContext.fork}). */
  readonly roles?: Readonly<Record<string, RoleFactory>>;
}
