// Public surface of the runtime layer: the actor model, envelopes and the contracts transports implement.

export type {
  ActorContext,
  ActorDefinition,
  ActorSpec,
  Handler,
  Handlers,
  Replier,
  SpawnOptions,
  Timers,
} from './actor.js';
export { defineActor } from './actor.js';
export type { ActorStatus } from './cell.js';
export type { Clock, TimerHandle } from './clock.js';
export { ManualClock, systemClock } from './clock.js';
export type { Codec } from './codec.js';
export type { DeadLetter, DeadLetters } from './dead-letters.js';
export { Deque } from './deque.js';
export type { Envelope } from './envelope.js';
export {
  assertValidName,
  EnvelopeKind,
  ERROR_HEADER,
  errorReply,
  isErrorReply,
  nodeOf,
  pathOf,
  REPLY_SEGMENT,
} from './envelope.js';
export type { WireError } from './errors.js';
export { ActorCrashedError, AskTimeoutError, ErrorCode, InvalidOptionsError, TroupeError } from './errors.js';
export type { Membership, MembershipEvent } from './membership.js';
export type { NodeInfo, NodeLoad, PlacementContext, PlacementStrategy } from './placement.js';
export {
  hash32,
  hashPlacement,
  leastLoadedPlacement,
  localPlacement,
  rendezvous,
  rolePlacement,
  shardOf,
} from './placement.js';
export type {
  AnyProtocol,
  AskableOf,
  MessageFor,
  MessageOf,
  Protocol,
  Reply,
  ReplyFor,
  ReplyOf,
} from './protocol.js';
export type { ActorRef, AnyActorRef, AskOptions, TellOptions } from './ref.js';
export type {
  ActorInfo,
  ActorSystem,
  LifecycleEvent,
  ResolvedSystemOptions,
  SystemOptions,
} from './system.js';
export {
  createSystem,
  DEFAULT_ASK_TIMEOUT_MS,
  DEFAULT_DEAD_LETTER_BUFFER,
  DEFAULT_DRAIN_TIMEOUT_MS,
  DEFAULT_THROUGHPUT,
  resolveSystemOptions,
} from './system.js';
export type { Rejected, Transport, TransportSink } from './transport.js';
