// The contract of a fault-injection scenario: it starts its own servers and processes, injects faults, counts.

import type { ChaosSummary } from './summary.js';

/** How long and how hard a scenario runs. */
export interface ChaosSettings {
  /** The short version run by `npm test`: bounded to a few seconds of load per scenario. */
  short: boolean;
  /** For a soak (`npm run chaos -- --minutes N`): how long the load runs. Ignored when `short`. */
  minutes: number;
  /** Progress lines (faults injected, phases); silent in tests. */
  log(line: string): void;
}

/** One fault-injection scenario. */
export interface ChaosScenario {
  /** Kebab-case, unique: `durable-nats-restart`, `fuzz`, ... */
  name: string;
  /** One sentence: the load, the faults, what is counted. */
  description: string;
  /** Runs the scenario to the end, stopping everything it started, and returns what it counted. */
  run(settings: ChaosSettings): Promise<ChaosSummary>;
}
