// How an actor is defined: its protocol, state, handlers and hooks.

import type { Clock } from './clock.js';
import type { MessageFor, Protocol, ReplyOf } from './protocol.js';
import type { ActorRef, AnyActorRef } from './ref.js';
import {
  assertActorLimits,
  type Children,
  type MailboxOptions,
  type Persistence,
  type SupervisionOptions,
  type SupervisorHooks,
} from './supervision.js';
import type { RunTaskOptions, TaskDefinition, TaskDelivery } from './task.js';

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
  if (
    typeof spec !== 'object' ||
    spec === null ||
    typeof spec.handlers !== 'object' ||
    spec.handlers === null
  ) {
    throw new TypeError('defineActor: spec.handlers must be an object of handler functions');
  }
  for (const [key, fn] of Object.entries(spec.handlers)) {
    if (typeof fn !== 'function') throw new TypeError(`defineActor: handler ${key} is not a function`);
  }
  if (spec.throughput !== undefined && !(Number.isInteger(spec.throughput) && spec.throughput > 0)) {
    throw new TypeError('defineActor: throughput must be a positive integer');
  }
  assertActorLimits(spec, 'defineActor');
  return Object.freeze({
    ...spec,
    type: spec.type ?? 'actor',
    handlers: Object.freeze({ ...spec.handlers }),
  });
}
