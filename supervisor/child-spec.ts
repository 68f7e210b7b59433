// Child specs: what a supervisor starts, in which order, when it restarts it and how it shuts it down.

import type { ActorDefinition, Decider, MailboxOptions, Protocol, SpawnOptions } from '../runtime/index.js';
import { assertValidName } from '../runtime/internal.js';
import { SupervisorError, SupervisorErrorCode } from './errors.js';

/**
 * When a child is restarted (OTP restart types): `permanent` always, even after it stopped itself;
 * `transient` only after a crash; `temporary` never (it is removed when it ends).
 */
export type RestartType = 'permanent' | 'transient' | 'temporary';

/** An actor definition of any protocol and state. */
// biome-ignore lint/suspicious/noExplicitAny: child specs hold actors of any protocol and state (variance escape hatch)
export type AnyActorDefinition = ActorDefinition<any, any>;

/** A child of a supervisor. Children start in the order of their specs and stop in reverse. */
export interface ChildSpec {
  /** Unique among the supervisor's children; also its address segment. */
  name: string;
  actor: AnyActorDefinition;
  /** @defaultValue 'permanent' */
  restart?: RestartType;
  /**
   * How long a graceful stop may take on shutdown before the child is terminated.
   * @defaultValue 5000
   */
  shutdownTimeoutMs?: number;
  /**
   * The child's own decider (restart, resume, stop, escalate by error).
   * @defaultValue always restart
   */
  decider?: Decider;
  /**
   * Tries of one message before it is dead-lettered.
   * @defaultValue 3
   */
  maxAttempts?: number;
  mailbox?: MailboxOptions;
  handlerTimeoutMs?: number;
}

/** {@link ChildSpec} after defaults. */
export interface ResolvedChildSpec {
  readonly name: string;
  readonly actor: ActorDefinition<Protocol, unknown>;
  readonly restart: RestartType;
  readonly shutdownTimeoutMs: number;
  readonly spawnOptions: SpawnOptions;
}

export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 5000;

function invalid(message: string): SupervisorError {
  return new SupervisorError(SupervisorErrorCode.InvalidSpec, message);
}

/** Validates a child spec and applies defaults; never mutates `spec`. */
export function resolveChildSpec(spec: ChildSpec): ResolvedChildSpec {
  if (typeof spec !== 'object' || spec === null) throw invalid('a child spec must be an object');
  try {
    assertValidName(spec.name, 'child name');
  } catch (err) {
    throw invalid((err as Error).message);
  }
  if (typeof spec.actor !== 'object' || spec.actor === null || typeof spec.actor.handlers !== 'object') {
    throw invalid(`child ${spec.name}: actor must come from defineActor()`);
  }
  const restart = spec.restart ?? 'permanent';
  if (restart !== 'permanent' && restart !== 'transient' && restart !== 'temporary') {
    throw invalid(`child ${spec.name}: restart must be permanent, transient or temporary`);
  }
  const shutdownTimeoutMs = spec.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
  if (!(typeof shutdownTimeoutMs === 'number' && shutdownTimeoutMs >= 0)) {
    throw invalid(`child ${spec.name}: shutdownTimeoutMs must be a non-negative number`);
  }
  const spawnOptions: SpawnOptions = { name: spec.name, supervision: {} };
  if (spec.decider !== undefined) spawnOptions.supervision!.decider = spec.decider;
  if (spec.maxAttempts !== undefined) spawnOptions.supervision!.maxAttempts = spec.maxAttempts;
  if (spec.mailbox !== undefined) spawnOptions.mailbox = spec.mailbox;
  if (spec.handlerTimeoutMs !== undefined) spawnOptions.handlerTimeoutMs = spec.handlerTimeoutMs;
  return Object.freeze({
    name: spec.name,
    actor: spec.actor as ActorDefinition<Protocol, unknown>,
    restart,
    shutdownTimeoutMs,
    spawnOptions: Object.freeze(spawnOptions),
  });
}
