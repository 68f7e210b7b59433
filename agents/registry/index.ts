// The agent registry: capability cards published in a KeyValueStore, found and ranked across the fleet.

export type { AgentCard, AgentCardInput, AgentStats, TokenCost } from './card.js';
export { cardKey, DEFAULT_CARD_PREFIX, parseCardKey } from './card.js';
export { RegistryError, RegistryErrorCode } from './errors.js';
export type { AgentRegistryOptions, FindQuery, RankedCard, RegistryChange, RunSample } from './registry.js';
export { AgentRegistry, agentRegistry } from './registry.js';
export type { ScoreWeights } from './score.js';
export { blendedCost, DEFAULT_SCORE_WEIGHTS, scoreCards } from './score.js';
export { DEFAULT_STATS_WINDOW, StatsWindow } from './stats-window.js';
