// How an actor is defined: its protocol, state, handlers and hooks.

import type { Clock } from '../core/clock.js';
import { InvalidOptionsError } from '../core/errors.js';
import {
  assertActorLimits,
  type Children,
  type MailboxOptions,
  type Persistence,
  type RestartPolicy,
  type SupervisionOptions,
  type SupervisorHooks,
} from '../ports/supervision.js';
import type { TaskDefinition } from '../tasks/definition.js';
import type { TaskDelivery } from '../tasks/delivery.js';
import type { RunTaskOptions } from '../tasks/runner.js';
import type { MessageFor, Protocol, ReplyOf } from './protocol.js';
import type { ActorRef, AnyActorRef } from './ref.js';

/** Controls the timers of one actor; timers deliver messages to the actor itself and die with it. */
export interface Timers<P extends Protocol> {
  /** Sends `message` to self once after `delayMs`; replaces a timer with the same key. */
  startSingle(key: string, message: MessageFor<P, keyof P & string>, delayMs: number): void;
  /** Sends `message` to self every `intervalMs`; replaces a timer with the same key. */
  startPeriodic(key: string, message: MessageFor<P, keyof P & string>, intervalMs: number): void;
  cancel(key: string): void;
  cancelAll(): void;
  isActive(key: string): boolean;
}

/** Options of {@link ActorContext.spawn} and `system.spawn`. */
export interface SpawnOptions {
  /** Unique among siblings; anonymous actors get a generated name. */
  name?: string;
  /** Overrides the definition's `supervision`. */
  supervision?: SupervisionOptions;
  /** Overrides the definition's `mailbox`. */
  mailbox?: MailboxOptions;
  /** Overrides the definition's `handlerTimeoutMs`. */
  handlerTimeoutMs?: number;
}

/** What a handler sees: its actor's state, identity and the means to act. `R` is the current message's reply type. */
export interface ActorContext<P extends Protocol, S, R = unknown> {
  /** This actor. */
  readonly self: ActorRef<P>;
  /** The actor's state. Assign to replace it; mutating it in place is fine too. */
  state: S;
  /** Sender of the current message, when it was sent from an actor (or with `tell(msg, { sender })`). */
  readonly sender: AnyActorRef | undefined;
  /** Headers of the current message's envelope. */
  readonly headers: Readonly<Record<string, string>>;
  /** Aborted when the actor is stopped or the system closes while the handler still runs. */
  readonly signal: AbortSignal;
  readonly clock: Clock;
  readonly timers: Timers<P>;
  /** Replies to the current message, if it was an ask. Later calls are ignored. Returning a value does the same. */
  reply(value: R): void;
  /** Replies with an error: the asker's promise rejects with it. */
  fail(error: unknown): void;
  /**
   * Takes over the reply to the current ask, to answer it after the handler has returned (for instance when a
   * later message arrives). Returns `undefined` for tells.
   */
  deferReply(): Replier<R> | undefined;
  /**
   * Passes the current message on to `target` as it is: same sender, and an ask is answered by `target`
   * straight to the original asker. For routers and pools.
   */
  forward(target: AnyActorRef): void;
  /** Spawns a child: it stops when this actor stops. */
  spawn<CP extends Protocol, CS>(definition: ActorDefinition<CP, CS>, options?: SpawnOptions): ActorRef<CP>;
  /** This actor's live children, in start order, with the handles a supervisor controls them by. */
  readonly children: Children;
  /** Stops this actor after the current message, or the given child. Children stop before their parent. */
  stop(child?: AnyActorRef): void;
  /** Sets the current message aside; `unstashAll` puts stashed messages back at the front, in order. */
  stash(): void;
  unstashAll(): void;
  /** Resolves a ref from an address (local or remote). */
  refFor<T extends Protocol>(address: string): ActorRef<T>;
  /**
   * Runs a task on the system's task runner (worker nodes over BullMQ, or the in-process pool) and resolves with
   * its output; rejects with a `TaskError` (`TASK_FAILED`, `TASK_TIMEOUT`, `TASK_CANCELLED`, ...). Await it only
   * when the actor may wait; otherwise pass `deliver` (below).
   *
   * @example
   * const words = await ctx.runTask(wordCount, { text }, { onProgress: (p) => log(p) });
   */
  runTask<I, O>(task: TaskDefinition<I, O>, input: I, options?: RunTaskOptions): Promise<O>;
  /**
   * Runs a task and delivers its outcome to this actor as a message, through its mailbox and in order. It is
   * addressed to the actor's address, not to this instance: an actor restarted meanwhile gets it.
   *
   * @example
   * ctx.runTask(wordCount, { text }, {
   *   deliver: { ok: (n) => ({ type: 'counted', n }), error: (e) => ({ type: 'countFailed', code: e.code }) },
   * });
   */
  runTask<I, O>(
    task: TaskDefinition<I, O>,
    input: I,
    options: RunTaskOptions & { deliver: TaskDelivery<MessageFor<P, keyof P & string>, O> },
  ): void;
}

/** Answers an ask later. */
export interface Replier<R> {
  reply(value: R): void;
  fail(error: unknown): void;
}

type MaybePromise<T> = T | Promise<T>;

/** The handler of messages of type `K`: return a value (or call `ctx.reply`) to answer an ask. */
export type Handler<P extends Protocol, S, K extends keyof P & string> = (
  message: MessageFor<P, K>,
  ctx: ActorContext<P, S, ReplyOf<P[K]>>,
) => MaybePromise<ReplyOf<P[K]> | void>;

/** One handler per message type. A message whose type has no handler is dead-lettered as `UNHANDLED`. */
export type Handlers<P extends Protocol, S> = { [K in keyof P & string]?: Handler<P, S, K> };

/** What users pass to {@link defineActor}. */
export interface ActorSpec<P extends Protocol, S> {
  /** A label for logs, inspection and dead letters. */
  type?: string;
  /** Builds the initial state; may be async. Called again on restart. */
  init?: (ctx: ActorContext<P, S>) => MaybePromise<S>;
  handlers: Handlers<P, S>;
  /** Cleanup when the actor stops (gracefully or after a crash). Errors are reported, never thrown. */
  onStop?: (ctx: ActorContext<P, S>) => MaybePromise<void>;
  /**
   * Messages processed per turn before yielding the event loop to other actors and I/O.
   * @defaultValue the system's `throughput` (300)
   */
  throughput?: number;
  /**
   * Most messages that may be stashed at once; stashing more fails the handler.
   * @defaultValue 1000
   */
  stashCapacity?: number;
  /**
   * Self-supervision: what a crash leads to (restart, resume, stop, escalate), how often a failing message is
   * retried, restart intensity and backoff. Without it (and without a supervisor actor above) a crash stops the
   * actor, dead-letters its mail and fails the ask with `ACTOR_CRASHED`.
   * @defaultValue none
   */
  supervision?: SupervisionOptions;
  /**
   * Bounds the mailbox; more messages overflow by its policy.
   * @defaultValue unbounded
   */
  mailbox?: MailboxOptions;
  /**
   * Watchdog: an async handler still running after this many ms counts as a crash (`HANDLER_TIMEOUT`) and its
   * signal is aborted. 0 disables it.
   * @defaultValue 0
   */
  handlerTimeoutMs?: number;
  /** Loads state on start and restart, saves it after each message. */
  persistence?: Persistence<S, ActorContext<P, S>>;
  /** Makes this actor a supervisor of its children (see `defineSupervisor` in `troupe/supervisor`). */
  supervises?: SupervisorHooks<ActorContext<P, S>>;
}

/** A validated, immutable actor definition: spawn it as many times as you like. */
export interface ActorDefinition<P extends Protocol, S> extends Readonly<ActorSpec<P, S>> {
  readonly type: string;
  /** Phantom: carries the protocol type. */
  readonly __protocol?: P;
}

/**
 * Defines an actor with a typed protocol and state.
 *
 * @example
 * type Counter = { inc: { by: number }; get: Reply<number> };
 * const counter = defineActor<Counter, { n: number }>({
 *   init: () => ({ n: 0 }),
 *   handlers: {
 *     inc: (msg, ctx) => { ctx.state.n += msg.by; },
 *     get: (_msg, ctx) => ctx.state.n,
 *   },
 * });
 */
export function defineActor<P extends Protocol, S = undefined>(spec: ActorSpec<P, S>): ActorDefinition<P, S> {
  if (typeof spec !== 'object' || spec === null) throw new InvalidOptionsError('spec', 'expected an object');
  if (typeof spec.handlers !== 'object' || spec.handlers === null || Array.isArray(spec.handlers)) {
    throw new InvalidOptionsError('handlers', 'expected an object of handler functions');
  }
  for (const [key, fn] of Object.entries(spec.handlers)) {
    if (typeof fn !== 'function') throw new InvalidOptionsError(`handlers.${key}`, 'expected a function');
  }
  if (spec.type !== undefined && (typeof spec.type !== 'string' || spec.type.length === 0))
    throw new InvalidOptionsError('type', `expected a non-empty string, got ${String(spec.type)}`);
  for (const hook of ['init', 'onStop'] as const) {
    if (spec[hook] !== undefined && typeof spec[hook] !== 'function')
      throw new InvalidOptionsError(hook, 'expected a function');
  }
  for (const field of ['throughput', 'stashCapacity'] as const) {
    const value = spec[field];
    if (value !== undefined && !(Number.isInteger(value) && value > 0))
      throw new InvalidOptionsError(field, `expected a positive integer, got ${String(value)}`);
  }
  assertSupervision(spec.supervision);
  const persistence = spec.persistence as Partial<Persistence<S, unknown>> | undefined;
  if (
    persistence !== undefined &&
    (typeof persistence !== 'object' ||
      persistence === null ||
      typeof persistence.load !== 'function' ||
      (persistence.save !== undefined && typeof persistence.save !== 'function'))
  )
    throw new InvalidOptionsError('persistence', 'expected { load(ctx), save?(state, ctx) }');
  const supervises = spec.supervises as Partial<SupervisorHooks<unknown>> | undefined;
  if (
    supervises !== undefined &&
    (typeof supervises !== 'object' ||
      supervises === null ||
      typeof supervises.childFailed !== 'function' ||
      typeof supervises.childExited !== 'function')
  )
    throw new InvalidOptionsError('supervises', 'expected { childFailed, childExited, stopChildren? }');
  try {
    assertActorLimits(spec, 'defineActor');
  } catch (err) {
    // The limits check speaks plain TypeErrors; every bad option here fails with a code.
    throw new InvalidOptionsError('spec', (err as Error).message);
  }
  return Object.freeze({
    ...spec,
    type: spec.type ?? 'actor',
    handlers: Object.freeze({ ...spec.handlers }),
  });
}

/** Checks the shape of `supervision` (its numbers are checked by `assertActorLimits`). */
function assertSupervision(supervision: SupervisionOptions | undefined): void {
  if (supervision === undefined) return;
  if (typeof supervision !== 'object' || supervision === null)
    throw new InvalidOptionsError('supervision', 'expected { decider?, restart?, maxAttempts? }');
  if (supervision.decider !== undefined && typeof supervision.decider !== 'function')
    throw new InvalidOptionsError('supervision.decider', 'expected a function (see decider())');
  const restart = supervision.restart as Partial<RestartPolicy> | undefined;
  if (
    restart !== undefined &&
    (typeof restart !== 'object' || restart === null || typeof restart.tracker !== 'function')
  )
    throw new InvalidOptionsError('supervision.restart', 'expected a restart policy (see restartPolicy())');
}
