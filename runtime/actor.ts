// How an actor is defined: its protocol, state, handlers and hooks.

import type { Clock } from './clock.js';
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
  /** Stops this actor after the current message, or the given child. Children stop before their parent. */
  stop(child?: AnyActorRef): void;
  /** Sets the current message aside; `unstashAll` puts stashed messages back at the front, in order. */
  stash(): void;
  unstashAll(): void;
  /** Resolves a ref from an address (local or remote). */
  refFor<T extends Protocol>(address: string): ActorRef<T>;
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
  return Object.freeze({
    ...spec,
    type: spec.type ?? 'actor',
    handlers: Object.freeze({ ...spec.handlers }),
  });
}
