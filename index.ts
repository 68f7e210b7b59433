// The package entry: the actor runtime, its transports, supervisors and ready-made actors, for `from 'troupe'`.

export type { PoolOptions, PoolStrategy } from './actors/index.js';
export { definePool } from './actors/index.js';
export type {
  ActorContext,
  ActorDefinition,
  ActorInfo,
  ActorRef,
  ActorSpec,
  ActorSystem,
  AnyActorRef,
  AskOptions,
  Clock,
  DeadLetter,
  DeadLetters,
  LifecycleEvent,
  MessageOf,
  NodeInfo,
  PlacementStrategy,
  Protocol,
  Reply,
  SendOptions,
  SystemOptions,
  TaskDefinition,
  TaskOptions,
  TellOptions,
  Transport,
  VirtualActorOptions,
  VirtualType,
} from './runtime/index.js';
export {
  ActorCrashedError,
  AskTimeoutError,
  createSystem,
  defineActor,
  defineTask,
  defineVirtual,
  ErrorCode,
  hashPlacement,
  InvalidOptionsError,
  leastLoadedPlacement,
  ManualClock,
  preferLocalPlacement,
  rolePlacement,
  systemClock,
  TroupeError,
  taskPool,
} from './runtime/index.js';
export type { ChildSpec, SupervisorStrategy } from './supervisor/index.js';
export {
  decider,
  defineDynamicSupervisor,
  defineSupervisor,
  oneForAll,
  oneForOne,
  restartPolicy,
  restForOne,
} from './supervisor/index.js';
export type { BullmqTaskRunner, BullmqTaskRunnerOptions } from './tasks-bullmq/index.js';
export { bullmqTaskRunner } from './tasks-bullmq/index.js';
export type {
  LocalHub,
  LocalTransportOptions,
  NatsClusterOptions,
  NatsTransport,
  NatsTransportOptions,
} from './transport/index.js';
export {
  createCodec,
  createLocalHub,
  listNatsNodes,
  localTransport,
  natsKvPersistence,
  natsTransport,
} from './transport/index.js';
