// The contract between the runtime and supervision: deciders, restart policies, bounded mailboxes and the
// hooks through which a supervisor actor is told of its children's failures, as data.

import type { AnyActorRef } from '../actor/ref.js';

/** Where an actor is in its life. */
export type ActorStatus = 'starting' | 'running' | 'paused' | 'restarting' | 'stopping' | 'stopped';

/**
 * What to do about a failure:
 * - `restart`: a fresh instance (init again, same address, same mailbox; the failing message is retried);
 * - `resume`: keep the state and go on (the failing message is retried);
 * - `stop`: stop the actor for good (its supervisor does not restart it);
 * - `escalate`: fail the supervisor instead (for a top-level actor: stop, as an unsupervised crash does).
 */
export type Directive = 'restart' | 'resume' | 'stop' | 'escalate';

/**
 * Where a failure happened. `timeout` is a handler that ran past `handlerTimeoutMs`; `persistence` a state
 * save that failed after the handler ran (the message is handled again after a restart; `resume` restarts
 * too, since the state in memory holds an effect the store lacks).
 */
export type FailurePhase = 'init' | 'handler' | 'timeout' | 'supervision' | 'persistence';

/** One failure of an actor, as its decider sees it. */
export interface Failure {
  readonly error: unknown;
  readonly phase: FailurePhase;
  /** The message being handled, if any. */
  readonly message: unknown;
  /** How many times this message has now failed (1 on its first failure); 0 when no message was involved. */
  readonly attempts: number;
}

/** Chooses a {@link Directive} for an error. Must not throw (a throwing decider counts as `escalate`). */
export type Decider = (error: unknown, failure: Failure) => Directive;

/** The restart bookkeeping of one actor: intensity window and backoff. */
export interface RestartTracker {
  /**
   * Called when a restart is due at clock time `now`. Returns how many ms to wait before restarting, or
   * `undefined` when the restart intensity is exceeded and the actor must give up (stop or escalate).
   */
  next(now: number): number | undefined;
}

/** Makes restart trackers; `supervisor/` has the usual one (`restartPolicy()`: intensity plus backoff). */
export interface RestartPolicy {
  tracker(): RestartTracker;
}

/**
 * Supervision of one actor. Giving it (on the definition or at spawn) makes the actor self-supervising: a
 * crash is decided on instead of stopping it. Under a supervisor actor, the decider still runs, but
 * restarts follow the supervisor's strategy, intensity and backoff.
 */
export interface SupervisionOptions {
  /** @defaultValue always `restart` */
  decider?: Decider;
  /**
   * Restart intensity and backoff when there is no supervisor actor above.
   * @defaultValue restart at once, without limit
   */
  restart?: RestartPolicy;
  /**
   * Times one message is tried before it is dead-lettered as `ACTOR_CRASHED` with its error, so a poison
   * message never blocks the mailbox.
   * @defaultValue 3
   */
  maxAttempts?: number;
}

export const DEFAULT_MAX_ATTEMPTS = 3;

/** What a full mailbox does with one more message. */
export type OverflowPolicy = 'reject' | 'drop-oldest' | 'drop-newest';

/** A bounded mailbox. Dropped or rejected messages become `MAILBOX_FULL` dead letters (asks fail with it). */
export interface MailboxOptions {
  capacity: number;
  /**
   * `reject`: refuse the new message (an ask rejects with `MAILBOX_FULL`); `drop-newest`: the same, quietly
   * for tells; `drop-oldest`: make room by dropping the oldest queued message.
   * @defaultValue 'reject'
   */
  overflow?: OverflowPolicy;
}

/** Loads and saves an actor's state across restarts; the persistence layer plugs in here. */
export interface Persistence<S, C> {
  /** Runs after `init` on start and restart; a value returned replaces init's state. */
  load(ctx: C): S | undefined | Promise<S | undefined>;
  /** Runs after each message handled without error; the next message waits for it. */
  save?(state: S, ctx: C): void | Promise<void>;
}

/** Why an actor stopped: it stopped itself, was stopped from outside, or crashed and was not restarted. */
export type ExitReason = 'normal' | 'stopped' | 'failed';

/** A child as its supervisor controls it. */
export interface ChildHandle {
  readonly name: string;
  readonly ref: AnyActorRef;
  readonly status: ActorStatus;
  readonly restarts: number;
  /**
   * Restarts the child: its current message finishes, its children stop, `onStop` runs, then after
   * `delayMs` `init` runs again. Same address, same mailbox: messages wait in order meanwhile.
   */
  restart(delayMs: number, reason: unknown): void;
  /** Lets a failed child go on with its state (the failing message is retried). */
  resume(): void;
  /** Graceful stop: finishes the current message, runs cleanup. */
  stop(): Promise<void>;
  /** Stops now: the running handler's signal is aborted. */
  terminate(): Promise<void>;
}

/** A child's failure, delivered to its supervisor as data. The child waits (messages queue) until told. */
export interface ChildFailure {
  readonly child: ChildHandle;
  readonly error: unknown;
  readonly phase: FailurePhase;
  /** `escalate` when the child's decider asked for its supervisor to fail in turn. */
  readonly directive: 'restart' | 'escalate';
}

/** A child that stopped. */
export interface ChildExit {
  readonly name: string;
  readonly address: string;
  readonly reason: ExitReason;
  readonly error: unknown;
}

/** The live children of a supervisor, in start order. */
export interface Children {
  get(name: string): ChildHandle | undefined;
  list(): ChildHandle[];
}

/**
 * Makes an actor a supervisor. The hooks run inside its processing loop, between messages, one at a time;
 * a hook that throws fails the supervisor itself (that is how escalation works).
 */
export interface SupervisorHooks<C> {
  childFailed(failure: ChildFailure, ctx: C, children: Children): void;
  childExited(exit: ChildExit, ctx: C, children: Children): void;
  /** Stops the children when the supervisor stops or restarts (e.g. in reverse order, with timeouts). */
  stopChildren?(ctx: C, children: Children): Promise<void>;
  /**
   * Brings child `name` back when asked from outside (`system.restart`, `troupe restart`): restarts it when
   * running, starts it again from its spec when stopped. Returns false when it knows no such child.
   */
  restartChild?(name: string, ctx: C, children: Children): boolean;
}

/** @internal Validates the supervision-related options of a definition or spawn call. */
export function assertActorLimits(
  options: { mailbox?: MailboxOptions; handlerTimeoutMs?: number; supervision?: SupervisionOptions },
  where: string,
): void {
  const mailbox = options.mailbox;
  if (mailbox !== undefined) {
    if (!(Number.isInteger(mailbox.capacity) && mailbox.capacity > 0)) {
      throw new TypeError(`${where}: mailbox.capacity must be a positive integer`);
    }
    const overflow = mailbox.overflow;
    if (
      overflow !== undefined &&
      overflow !== 'reject' &&
      overflow !== 'drop-oldest' &&
      overflow !== 'drop-newest'
    ) {
      throw new TypeError(`${where}: mailbox.overflow must be 'reject', 'drop-oldest' or 'drop-newest'`);
    }
  }
  const timeout = options.handlerTimeoutMs;
  if (timeout !== undefined && !(typeof timeout === 'number' && timeout >= 0 && Number.isFinite(timeout))) {
    throw new TypeError(`${where}: handlerTimeoutMs must be a non-negative number`);
  }
  const attempts = options.supervision?.maxAttempts;
  if (attempts !== undefined && !(Number.isInteger(attempts) && attempts > 0)) {
    throw new TypeError(`${where}: supervision.maxAttempts must be a positive integer`);
  }
}
