// Ready-made actors built on the runtime.

export type { PoolOptions, PoolStrategy, ResolvedPoolOptions } from './pool.js';
export { DEFAULT_POOL_STRATEGY, definePool, resolvePoolOptions } from './pool.js';
