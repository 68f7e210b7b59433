// The workflows layer: graphs whose nodes are functions, agents (by address) or subgraphs.

export * from './enrichment/index.js';
export * from './events/index.js';
export * from './graph/index.js';
export * from './runs/index.js';
export * from './teams/index.js';
export * from './topics/index.js';
export * from './triggers/index.js';
