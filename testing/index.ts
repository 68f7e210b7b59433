// Helpers for testing code built on troupe against real servers.

export type { ServerProcess, StartNatsOptions, StartRedisOptions } from './servers.js';
export { ensureServerBinaries, findBinary, freePort, startNats, startRedis } from './servers.js';
