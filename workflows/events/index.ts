// Event sourcing: entities whose state is a fold of their event stream, hosted as virtual actors.

export type { CommandResult, EventSourcedProtocol } from './actor.js';
export { eventSourcedActor } from './actor.js';
export type { EventSourced, EventSourcedSpec } from './define.js';
export { DEFAULT_DEDUPE_WINDOW, defineEventSourced, entityKey, snapshotKey } from './define.js';
export type {
  EntityReplayOptions,
  EntitySnapshot,
  EventStores,
  LoadedEntity,
  ProjectionOptions,
  StoredEvent,
} from './replay.js';
export { projectEvents, readEvents, readSnapshot, replayEntity, writeSnapshot } from './replay.js';
