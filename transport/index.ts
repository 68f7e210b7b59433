// Public surface of the transport layer: local and NATS transports and the msgpackr codec.

export type { BatchCodec, CodecOptions } from './codec.js';
export {
  BATCH_MARKER,
  createCodec,
  DEFAULT_MAX_FRAME_BYTES,
  packBatch,
  WIRE_VERSION,
} from './codec.js';
export { TransportError, TransportErrorCode } from './errors.js';
export type { LocalHub, LocalTransportOptions } from './local.js';
export { createLocalHub, localTransport } from './local.js';
export type { NatsAppendLogOptions } from './nats/append-log.js';
export { DEFAULT_LOG_OP_TIMEOUT_MS, natsAppendLog } from './nats/append-log.js';
export type { NatsKvPersistence, NatsKvPersistenceOptions } from './nats/kv-persistence.js';
export { natsKvPersistence } from './nats/kv-persistence.js';
export type { NatsKvStateStoreOptions } from './nats/kv-state.js';
export { msgpackStateCodec, natsKvStateStore } from './nats/kv-state.js';
export type { NatsKeyValueOptions } from './nats/kv-store.js';
export { DEFAULT_SHARED_BUCKET, natsKeyValue } from './nats/kv-store.js';
export type { NatsMembershipOptions } from './nats/membership.js';
export { listNatsNodes, natsMembership } from './nats/membership.js';
export type { NatsAuthOptions, NatsClusterOptions, NatsTransportOptions } from './nats/options.js';
export { natsAuthConnectOptions } from './nats/options.js';
export type {
  RawNatsClient,
  RawNatsClientOptions,
  RawNatsReply,
  RawRequestOptions,
} from './nats/raw-client.js';
export { RawNatsErrorCode, rawNatsClient } from './nats/raw-client.js';
export type { NatsSecurityOptions } from './nats/security.js';
export { ControlRefusalCode, SecurityErrorCode } from './nats/security.js';
export type { AclKind, AclRule } from './nats/security-acl.js';
export type { EncryptOptions } from './nats/security-encrypt.js';
export type { KeyInput } from './nats/signing.js';
export type { NatsTopicBusOptions } from './nats/topics.js';
export {
  DEFAULT_TOPIC_ACK_WAIT_MS,
  DEFAULT_TOPIC_MAX_AGE_MS,
  DEFAULT_TOPIC_OP_TIMEOUT_MS,
  natsTopicBus,
} from './nats/topics.js';
export type { NatsTransport } from './nats/transport.js';
export { natsTransport } from './nats/transport.js';
