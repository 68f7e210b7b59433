// Agents for troupe: the agent actor and its tool loop, tools, the run journal. Each folder's public surface is
// re-exported here.

export * from './agent/index.js';
export * from './journal/index.js';
export * from './registry/index.js';
export * from './tools/index.js';
