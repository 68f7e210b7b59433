// What a cell reads from its definition and spawn options, resolved once and shared by actors of one definition.

import {
  DEFAULT_MAX_ATTEMPTS,
  type Decider,
  type OverflowPolicy,
  type Persistence,
  type SupervisorHooks,
} from '../ports/supervision.js';
import type { ActorContext, ActorDefinition, SpawnOptions } from './definition.js';
import type { Protocol } from './protocol.js';

/** The context type cells hand to handlers and hooks, with the protocol erased. */
export type AnyContext = ActorContext<Protocol, unknown>;

/** How many messages an actor may stash unless its definition says otherwise. */
export const DEFAULT_STASH_CAPACITY = 1000;

/** @internal A cell's settings; immutable, so actors spawned from one definition without overrides share one. */
export interface CellConfig {
  /**
   * The definition's own handlers on a null-prototype object: a message type named after an
   * `Object.prototype` member (`constructor`, `toString`, `__proto__`) must find nothing, not a builtin.
   */
  readonly handlers: Record<string, Function | undefined>;
  readonly throughput: number;
  readonly stashCapacity: number;
  readonly capacity: number;
  readonly overflow: OverflowPolicy;
  readonly handlerTimeoutMs: number;
  readonly decider: Decider | undefined;
  readonly maxAttempts: number;
  readonly persistence: Persistence<unknown, AnyContext> | undefined;
  readonly hooks: SupervisorHooks<AnyContext> | undefined;
}

/** Own, function-valued handlers only, on an object with no prototype (see {@link CellConfig.handlers}). */
export function ownHandlers(handlers: object): Record<string, Function | undefined> {
  const own: Record<string, Function | undefined> = Object.create(null);
  for (const type of Object.keys(handlers)) {
    const handler = (handlers as Record<string, unknown>)[type];
    if (typeof handler === 'function') own[type] = handler;
  }
  return own;
}

// Keyed by definition, then by the system's default throughput: 100k actors of one type cost one config.
const sharedConfigs = new WeakMap<object, Map<number, CellConfig>>();

/** @internal The config for a definition; shared across actors unless spawn options override part of it. */
export function configFor(
  definition: ActorDefinition<Protocol, unknown>,
  options: SpawnOptions | undefined,
  defaultThroughput: number,
): CellConfig {
  const overrides =
    options !== undefined &&
    (options.mailbox !== undefined ||
      options.handlerTimeoutMs !== undefined ||
      options.supervision !== undefined);
  if (!overrides) {
    const cached = sharedConfigs.get(definition)?.get(defaultThroughput);
    if (cached) return cached;
  }
  const mailbox = options?.mailbox ?? definition.mailbox;
  const supervision = options?.supervision ?? definition.supervision;
  const config: CellConfig = {
    handlers: ownHandlers(definition.handlers),
    throughput: definition.throughput ?? defaultThroughput,
    stashCapacity: definition.stashCapacity ?? DEFAULT_STASH_CAPACITY,
    capacity: mailbox?.capacity ?? Number.POSITIVE_INFINITY,
    overflow: mailbox?.overflow ?? 'reject',
    handlerTimeoutMs: options?.handlerTimeoutMs ?? definition.handlerTimeoutMs ?? 0,
    decider: supervision?.decider,
    maxAttempts: supervision?.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    persistence: definition.persistence as Persistence<unknown, AnyContext> | undefined,
    hooks: definition.supervises as SupervisorHooks<AnyContext> | undefined,
  };
  if (!overrides) {
    const byThroughput = sharedConfigs.get(definition) ?? new Map<number, CellConfig>();
    sharedConfigs.set(definition, byThroughput);
    byThroughput.set(defaultThroughput, config);
  }
  return config;
}
