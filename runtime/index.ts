// Public surface of the runtime layer: what users need to define, spawn, supervise and reach actors and tasks.
// Adapter authors (transports, task runners) also use ./internal.ts.

export type {
  ActorContext,
  ActorDefinition,
  ActorSpec,
  Handler,
  Handlers,
  Replier,
  SpawnOptions,
  Timers,
} from './actor/definition.js';
export { defineActor } from './actor/definition.js';
export type {
  AnyProtocol,
  AskableOf,
  MessageFor,
  MessageOf,
  Protocol,
  Reply,
  ReplyFor,
  ReplyOf,
} from './actor/protocol.js';
export type { ActorRef, AnyActorRef, AskOptions, SendOptions, TellOptions } from './actor/ref.js';
export type { NodeInfo, NodeLoad, PlacementContext, PlacementStrategy } from './cluster/placement.js';
export {
  hashPlacement,
  leastLoadedPlacement,
  preferLocalPlacement,
  rolePlacement,
} from './cluster/placement.js';
export type { AnyVirtualType, VirtualActorOptions, VirtualType } from './cluster/virtual.js';
export { DEFAULT_PASSIVATE_AFTER_MS, defineVirtual } from './cluster/virtual.js';
export type { Clock, TimerHandle } from './core/clock.js';
export { ManualClock, systemClock } from './core/clock.js';
export type { DeadLetter, DeadLetters } from './core/dead-letters.js';
export type { WireError } from './core/errors.js';
export {
  ActorCrashedError,
  AskTimeoutError,
  ErrorCode,
  InvalidOptionsError,
  TaskError,
  TroupeError,
} from './core/errors.js';
export type { LogFields, Logger, LoggerOptions, LogLevel } from './core/logger.js';
export { createLogger, silentLogger } from './core/logger.js';
export { memoryKeyValue } from './kv/memory.js';
export type { MemoryAppendLogOptions } from './kv/memory-log.js';
export { memoryAppendLog } from './kv/memory-log.js';
export type { MemoryTopicBusOptions } from './kv/memory-topics.js';
export { memoryTopicBus } from './kv/memory-topics.js';
export type { AppendLog, LogReadOptions, LogRecord } from './ports/append-log.js';
export {
  ALL_LOG_KEYS,
  AppendLogError,
  AppendLogErrorCode,
  DEFAULT_MAX_LOG_RECORD_BYTES,
} from './ports/append-log.js';
export type { KeyValueStore, KvEntry } from './ports/kv.js';
export { KeyValueError, KvErrorCode, kvToken } from './ports/kv.js';
export type { Membership, MembershipEvent } from './ports/membership.js';
export type {
  ActorTypeStats,
  DurableStats,
  Metrics,
  MetricsRecorder,
  MetricsSource,
  NodeStats,
  TaskJobStats,
  TaskRunStats,
  TaskStats,
  TransportStats,
} from './ports/metrics.js';
export type { StateCodec, StateStore } from './ports/state.js';
export { StateError, StateErrorCode } from './ports/state.js';
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
} from './ports/supervision.js';
export { DEFAULT_MAX_ATTEMPTS } from './ports/supervision.js';
export type {
  PublishAck,
  PublishOptions,
  SubscribeOptions,
  TopicBus,
  TopicDeadLetter,
  TopicHandler,
  TopicMessage,
  TopicStart,
  TopicSubscription,
} from './ports/topics.js';
export {
  assertTopic,
  assertTopicData,
  DEFAULT_MAX_TOPIC_EVENT_BYTES,
  DEFAULT_TOPIC_MAX_ATTEMPTS,
  patternCovers,
  TOPIC_DEAD_LETTER_BUFFER,
  TopicError,
  TopicErrorCode,
  topicMatches,
} from './ports/topics.js';
export type {
  ActorTrace,
  OutgoingTrace,
  ProcessTrace,
  TaskTrace,
  TraceSpan,
  Tracing,
} from './ports/tracing.js';
export type { Transport } from './ports/transport.js';
export type {
  ActorInfo,
  ActorSystem,
  ActorTreeNode,
  ControlOptions,
  LifecycleEvent,
  LifecycleEventType,
  NodeDeadLetter,
  PsOptions,
} from './system/actor-system.js';
export type { SystemOptions } from './system/options.js';
export {
  DEFAULT_ASK_TIMEOUT_MS,
  DEFAULT_DEAD_LETTER_BUFFER,
  DEFAULT_DRAIN_TIMEOUT_MS,
  DEFAULT_THROUGHPUT,
} from './system/options.js';
export { createSystem } from './system/system.js';
export type {
  AnyTaskDefinition,
  TaskContext,
  TaskDefinition,
  TaskHandler,
  TaskInput,
  TaskModule,
  TaskOptions,
  TaskOutput,
  TaskProgress,
  TaskRateLimit,
} from './tasks/definition.js';
export {
  DEFAULT_TASK_ATTEMPTS,
  DEFAULT_TASK_BACKOFF_MS,
  DEFAULT_TASK_CONCURRENCY,
  defineTask,
} from './tasks/definition.js';
export type { TaskDelivery } from './tasks/delivery.js';
export type { TaskPoolOptions } from './tasks/pool.js';
export { taskPool } from './tasks/pool.js';
export type { RunTaskOptions, TaskCounts, TaskRunner } from './tasks/runner.js';
