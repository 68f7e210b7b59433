// The package entry: the actor runtime plus its ready-made transports, for `import { … } from 'troupe'`.

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
  Envelope,
  LifecycleEvent,
  MessageOf,
  Protocol,
  Reply,
  SystemOptions,
  TellOptions,
  Transport,
} from './runtime/index.js';
export {
  ActorCrashedError,
  AskTimeoutError,
  createSystem,
  defineActor,
  ErrorCode,
  InvalidOptionsError,
  ManualClock,
  systemClock,
  TroupeError,
} from './runtime/index.js';
export type { LocalHub, LocalTransportOptions, NatsTransportOptions } from './transport/index.js';
export { createCodec, createLocalHub, localTransport, natsTransport } from './transport/index.js';
