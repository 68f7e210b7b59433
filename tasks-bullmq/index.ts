// Public surface of the BullMQ adapter: tasks run through Redis queues by worker nodes (`troupe node --tasks`).

export { BullmqError, BullmqErrorCode } from './errors.js';
export type { BullmqTaskRunnerOptions } from './options.js';
export { DEFAULT_PREFIX, DEFAULT_REDIS_URL } from './options.js';
export type { BullmqTaskRunner } from './runner.js';
export { bullmqTaskRunner } from './runner.js';
export type { BullmqWorkerInfo, ListBullmqWorkersOptions } from './workers.js';
export { listBullmqWorkers } from './workers.js';
