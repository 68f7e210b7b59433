// The contract of one node of actors, and what it reports about them: lifecycle events and inspection.

import type { ActorDefinition, SpawnOptions } from '../actor/definition.js';
import type { AnyProtocol, Protocol } from '../actor/protocol.js';
import type { ActorRef, AnyActorRef } from '../actor/ref.js';
import type { PlacementStrategy } from '../cluster/placement.js';
import type { VirtualActorOptions, VirtualType } from '../cluster/virtual.js';
import type { Clock } from '../core/clock.js';
import type { DeadLetter, DeadLetters } from '../core/dead-letters.js';
import type { WireError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { ActorStatus } from '../ports/supervision.js';
import type { Transport } from '../ports/transport.js';
import type { TaskRunner } from '../tasks/runner.js';

/**
 * Kinds of lifecycle events: `started`; `failed` (init, a handler or the watchdog failed; `error` says how);
 * `restarting` (a restart began; `error` is its reason); `restarted` (the new instance runs); `paused`;
 * `resumed`; `stopped`.
 */
export type LifecycleEventType =
  | 'started'
  | 'failed'
  | 'restarting'
  | 'restarted'
  | 'paused'
  | 'resumed'
  | 'stopped';

/** Something that happened in an actor's life. */
export interface LifecycleEvent {
  type: LifecycleEventType;
  address: string;
  actorType: string;
  error?: WireError;
  /** Restarts so far, on `restarted`. */
  restarts?: number;
  at: number;
}

/** One actor as seen by `system.inspect()` and `troupe ps`. */
export interface ActorInfo {
  address: string;
  type: string;
  status: ActorStatus;
  parent: string | undefined;
  /** The parent's address when the parent supervises this actor. */
  supervisor: string | undefined;
  /** True for supervisor actors. */
  isSupervisor: boolean;
  mailboxDepth: number;
  processed: number;
  restarts: number;
  lastError: WireError | undefined;
  /** The node it runs on (virtual actors too); set by `ps`, absent from `inspect`. */
  node?: string;
}

/** A dead letter as `clusterDeadLetters` lists it: with the node that recorded it. */
export interface NodeDeadLetter extends DeadLetter {
  node: string;
}

/** One actor and its descendants, from `system.tree()`. */
export interface ActorTreeNode extends ActorInfo {
  children: ActorTreeNode[];
}

/** Options of `system.pause` and `system.resume`. */
export interface ControlOptions {
  /**
   * Applies to the actor and all its descendants.
   * @defaultValue false
   */
  subtree?: boolean;
}

/** Options of `system.ps`. */
export interface PsOptions {
  /**
   * How long to wait for nodes to answer.
   * @defaultValue 500
   */
  timeoutMs?: number;
}

/**
 * One node of actors. Create with {@link createSystem}; dispose with `await using`, `drain()` or `close()`.
 */
export interface ActorSystem {
  readonly nodeId: string;
  readonly clock: Clock;
  readonly transport: Transport | undefined;
  /** The task runner behind `ctx.runTask`, if any. */
  readonly tasks: TaskRunner | undefined;
  readonly deadLetters: DeadLetters;
  /** Where this node logs (the `logger` option, its events carrying `node`); actors may log through it too. */
  readonly logger: Logger;
  /** Spawns a top-level actor. Throws `NAME_TAKEN` when the name is in use, `SYSTEM_CLOSED` after close. */
  spawn<P extends Protocol, S>(definition: ActorDefinition<P, S>, options?: SpawnOptions): ActorRef<P>;
  /**
   * Registers a virtual actor type on this node: `virtual(type, id)` refs reach it from any node, the first
   * message activates it (on the node placement picks, when clustered), and idle ones are passivated.
   */
  register<P extends Protocol, S>(
    type: string,
    definition: ActorDefinition<P, S>,
    options?: VirtualActorOptions,
  ): void;
  /** Registers a virtual actor type made by `defineVirtual` (the same value its senders use). */
  register<P extends Protocol, S>(virtualType: VirtualType<P, S>): void;
  /**
   * A ref to virtual actor `type`/`id`, wherever it is (or will be) active. Given a `defineVirtual` value,
   * the ref is typed by its protocol and the sender declares the type's durability: `send()` to a durable
   * type is stored or rejects, whether or not a host runs. Given a bare type name, durability is learnt from
   * live hosts, and `send()` rejects with `NO_RESPONDERS` while no live node hosts the type.
   */
  // biome-ignore lint/suspicious/noExplicitAny: the state type of the definition does not matter to senders
  virtual<P extends Protocol>(type: VirtualType<P, any>, id: string): ActorRef<P>;
  virtual<P extends Protocol = AnyProtocol>(type: string, id: string): ActorRef<P>;
  /**
   * Spawns an actor of a type registered with `register()` on the node `where` names, or on the node a
   * placement strategy picks among the members hosting that type (e.g. `leastLoadedPlacement()`).
   * Resolves with its ref once it exists.
   */
  spawnOn<P extends Protocol = AnyProtocol>(
    where: string | PlacementStrategy,
    type: string,
    options?: { name?: string },
  ): Promise<ActorRef<P>>;
  /** A ref for any address, local or on another node. Sending to an address nobody holds yields dead letters. */
  ref<P extends Protocol = AnyProtocol>(address: string): ActorRef<P>;
  /** The local actor at `path` (e.g. `parent/child`), if it is alive. */
  lookup<P extends Protocol = AnyProtocol>(path: string): ActorRef<P> | undefined;
  /**
   * Stops an actor (local or remote) and its subtree gracefully: the current message finishes, children stop,
   * `onStop` runs. Resolves once it has stopped. Commands travel ahead of user messages.
   */
  stop(ref: AnyActorRef): Promise<void>;
  /** Stops an actor (local or remote) and its subtree now: running handlers see their signal aborted. */
  terminate(ref: AnyActorRef): Promise<void>;
  /**
   * Pauses an actor (local or remote; with `subtree`, its descendants too): it takes no more messages, which
   * keep queueing in order. A handler that is running finishes. Supervision and control still work.
   */
  pause(ref: AnyActorRef, options?: ControlOptions): Promise<void>;
  /** Resumes a paused actor (or subtree): what queued meanwhile is handled first, in order. */
  resume(ref: AnyActorRef, options?: ControlOptions): Promise<void>;
  /**
   * Restarts an actor (local, remote or virtual): a running one as a crash would (same address and mailbox,
   * `init` again); a supervised child that was stopped is started again from the spec its supervisor kept.
   * Rejects with `ACTOR_NOT_FOUND` when there is neither.
   */
  restart(ref: AnyActorRef): Promise<void>;
  /** The local actors as trees: top-level actors at the roots, each with its children. */
  tree(): ActorTreeNode[];
  /**
   * Every actor on every node the transport can list (`troupe ps`); this node only when it cannot. Nodes that
   * do not answer in time are left out.
   */
  ps(options?: PsOptions): Promise<ActorInfo[]>;
  /** The recent dead letters of every node (as `ps` finds them), oldest first per node (`troupe dead-letters`). */
  clusterDeadLetters(options?: PsOptions): Promise<NodeDeadLetter[]>;
  /** Subscribes to lifecycle events of this node's actors; returns the unsubscribe function. */
  onLifecycle(listener: (event: LifecycleEvent) => void): () => void;
  /** A snapshot of every local actor. */
  inspect(): ActorInfo[];
  /** Stops every actor now (running handlers see their signal aborted), fails pending asks, closes the transport. */
  close(): Promise<void>;
  /** Lets mailboxes empty (up to `drainTimeoutMs`), stops actors gracefully, then drains the transport. */
  drain(): Promise<void>;
  /** Resolves once the system has closed, with the first error met while closing, if any. */
  closed(): Promise<Error | undefined>;
  [Symbol.asyncDispose](): Promise<void>;
}
