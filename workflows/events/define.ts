// An event-sourced entity's definition: pure decide (command -> events) and apply (state + event -> state).
// The log holds the truth; state is a fold of it, and snapshots only shorten the fold.

import { InvalidOptionsError, kvToken } from '../../runtime/index.js';

// A name that is a virtual actor type, a plain log key prefix and a KV key token at once.
const TYPE = /^[-_a-zA-Z0-9]{1,64}$/;

/** How many command ids an entity remembers by default. */
export const DEFAULT_DEDUPE_WINDOW = 1000;

/** What {@link defineEventSourced} takes. `S` must survive JSON (snapshots and replies are JSON). */
export interface EventSourcedSpec<S, C, E> {
  /** The entity type: the virtual actor type and the prefix of its log keys and snapshot keys. */
  type: string;
  /** The state before any event; cloned per entity, never mutated. */
  initial: S;
  /** Validates a command against the state and returns the events it causes ([] for none); throw to refuse. */
  decide: (state: S, command: C) => E[];
  /** Folds one event into the state; returns the new state (pure: replays call it again). */
  apply: (state: S, event: E) => S;
  /** Writes a snapshot after this many events since the last one; 0 never does. @defaultValue 0 */
  snapshotEvery?: number;
  /**
   * How many of the latest command ids an entity remembers (kept in its snapshots too): a command sent again
   * with a remembered `id` (a durable redelivery after a crash, a client's retry) is answered from its record
   * instead of being stored twice. @defaultValue 1000
   */
  dedupeWindow?: number;
}

/** A validated {@link EventSourcedSpec}. */
export interface EventSourced<S, C, E> {
  readonly type: string;
  readonly initial: S;
  readonly decide: (state: S, command: C) => E[];
  readonly apply: (state: S, event: E) => S;
  readonly snapshotEvery: number;
  readonly dedupeWindow: number;
}

/** Defines an event-sourced entity type; throws `INVALID_NAME` / `INVALID_OPTIONS` at once. */
export function defineEventSourced<S, C, E>(spec: EventSourcedSpec<S, C, E>): EventSourced<S, C, E> {
  if (typeof spec !== 'object' || spec === null) throw new InvalidOptionsError('spec', 'expected an object');
  if (typeof spec.type !== 'string' || !TYPE.test(spec.type))
    throw new InvalidOptionsError('type', 'expected 1-64 characters of [-_a-zA-Z0-9]');
  if (typeof spec.decide !== 'function') throw new InvalidOptionsError('decide', 'expected a function');
  if (typeof spec.apply !== 'function') throw new InvalidOptionsError('apply', 'expected a function');
  const snapshotEvery = spec.snapshotEvery ?? 0;
  if (!Number.isInteger(snapshotEvery) || snapshotEvery < 0)
    throw new InvalidOptionsError('snapshotEvery', 'expected a non-negative integer');
  const dedupeWindow = spec.dedupeWindow ?? DEFAULT_DEDUPE_WINDOW;
  if (!Number.isInteger(dedupeWindow) || dedupeWindow < 1)
    throw new InvalidOptionsError('dedupeWindow', 'expected a positive integer');
  return Object.freeze({
    type: spec.type,
    initial: spec.initial,
    decide: spec.decide,
    apply: spec.apply,
    snapshotEvery,
    dedupeWindow,
  });
}

/** The log key of entity `id`: one key (one JetStream subject) per entity. */
export const entityKey = (type: string, id: string): string => `${type}:${id}`;

/** The snapshot key of entity `id` in the KeyValueStore. */
export const snapshotKey = (type: string, id: string): string => `es.${type}.${kvToken(id)}`;
