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
export type { Clock, TimerHandle } from './clock.js';
export { ManualClock, systemClock } from './clock.js';
export type { Codec } from './codec.js';
export type { DeadLetter, DeadLetters } from './dead-letters.js';
export { Deque } from './deque.js';
export type { Delivery, Envelope } from './envelope.js';
export {
  assertHeaders,
  assertValidAddress,
  assertValidName,
  EnvelopeKind,
  ERROR_HEADER,
  errorReply,
  isErrorReply,
  MAX_HEADERS,
  nodeOf,
  pathOf,
  REPLY_SEGMENT,
} from './envelope.js';
export type { WireError } from './errors.js';
export {
  ActorCrashedError,
  AskTimeoutError,
  ErrorCode,
  InvalidOptionsError,
  TaskError,
  TroupeError,
} from './errors.js';
export type { Membership, MembershipEvent } from './membership.js';
export type { NodeInfo, NodeLoad, PlacementContext, PlacementStrategy } from './placement.js';
export {
  hash32,
  hashPlacement,
  leastLoadedPlacement,
  preferLocalPlacement,
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
export type { ActorRef, AnyActorRef, AskOptions, SendOptions, TellOptions } from './ref.js';
export type {
  ActorStatus,
  ChildExit,
  ChildFailure,
  ChildHandle,
  Children,
  Decider,
  Directive,
  ExitReason,
  Failure,
  FailurePhase,
  MailboxOptions,
  OverflowPolicy,
  Persistence,
  RestartPolicy,
  RestartTracker,
  SupervisionOptions,
  SupervisorHooks,
} from './supervision.js';
export { DEFAULT_MAX_ATTEMPTS } from './supervision.js';
export type {
  ActorInfo,
  ActorSystem,
  ActorTreeNode,
  ControlOptions,
  LifecycleEvent,
  LifecycleEventType,
  PsOptions,
  ResolvedSystemOptions,
  SystemOptions,
} from './system.js';
export {
  createSystem,
  DEFAULT_ASK_TIMEOUT_MS,
  DEFAULT_DEAD_LETTER_BUFFER,
  DEFAULT_DRAIN_TIMEOUT_MS,
  DEFAULT_THROUGHPUT,
  NODE_SEGMENT,
  resolveSystemOptions,
} from './system.js';
export type {
  AnyTaskDefinition,
  ExecuteTaskOptions,
  ResolvedTaskOptions,
  RunTaskOptions,
  TaskContext,
  TaskCounts,
  TaskDefinition,
  TaskDelivery,
  TaskHandler,
  TaskInput,
  TaskModule,
  TaskOptions,
  TaskOutput,
  TaskProgress,
  TaskRateLimit,
  TaskRunner,
} from './task.js';
export {
  asTaskError,
  backoffDelay,
  DEFAULT_TASK_ATTEMPTS,
  DEFAULT_TASK_BACKOFF_MS,
  DEFAULT_TASK_CONCURRENCY,
  defineTask,
  executeTask,
  isTaskDefinition,
  MAX_TASK_PRIORITY,
  resolveRunOptions,
  resolveTaskOptions,
  taskCancelled,
  taskErrorFromWire,
} from './task.js';
export type { HostedType, Rejected, Transport, TransportSink } from './transport.js';
export type {
  AnyVirtualType,
  ResolvedVirtualActorOptions,
  VirtualActorOptions,
  VirtualType,
} from './virtual.js';
export {
  DEFAULT_PASSIVATE_AFTER_MS,
  defineVirtual,
  isVirtualType,
  parseVirtualAddress,
  resolveVirtualActorOptions,
  VIRTUAL_NODE,
  virtualAddress,
} from './virtual.js';
