// Public surface of the transport layer: local and NATS transports and the msgpackr codec.

export type { BullmqTaskRunner, BullmqTaskRunnerOptions } from './bullmq.js';
export { bullmqTaskRunner } from './bullmq.js';
export type { BatchCodec, CodecOptions } from './codec.js';
export {
  BATCH_MARKER,
  createCodec,
  DEFAULT_MAX_FRAME_BYTES,
  packBatch,
  WIRE_VERSION,
} from './codec.js';
export { TransportError, TransportErrorCode } from './errors.js';
export type { NatsKvPersistenceOptions } from './kv-persistence.js';
export { natsKvPersistence } from './kv-persistence.js';
export type { LocalHub, LocalTransportOptions } from './local.js';
export { createLocalHub, localTransport } from './local.js';
export type { NatsClusterOptions, NatsTransport, NatsTransportOptions } from './nats.js';
export { natsTransport } from './nats.js';
export type { NatsMembershipOptions } from './nats-membership.js';
export { listNatsNodes, natsMembership } from './nats-membership.js';
export type { TaskPoolOptions } from './task-pool.js';
export { taskPool } from './task-pool.js';
