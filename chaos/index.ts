// The fault-injection suite: scenarios that run real servers and processes, inject faults and count losses.

export { type ChaosScenario, type ChaosSettings } from './scenario.js';
export { scenarios } from './scenarios/index.js';
export { type ChaosSummary, formatSummaries, violations } from './summary.js';
