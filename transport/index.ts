// Public surface of the transport layer: local and NATS transports and the msgpackr codec.

export type { CodecOptions } from './codec.js';
export { createCodec, DEFAULT_MAX_FRAME_BYTES, WIRE_VERSION } from './codec.js';
export { TransportError, TransportErrorCode } from './errors.js';
export type { LocalHub, LocalTransportOptions } from './local.js';
export { createLocalHub, localTransport } from './local.js';
export type { NatsTransportOptions } from './nats.js';
export { natsTransport } from './nats.js';
export type { NatsMembershipOptions } from './nats-membership.js';
export { natsMembership } from './nats-membership.js';
