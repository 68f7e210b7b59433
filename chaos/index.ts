// The fault-injection suite: scenarios that run real servers and processes, inject faults and count losses.

export type { ChaosScenario, ChaosSettings } from './scenario.js';
export { scenarios } from './scenarios/index.js';
export type { ChaosSummary } from './summary.js';
export { formatSummaries, violations } from './summary.js';
