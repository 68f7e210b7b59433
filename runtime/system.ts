// The actor system: hosts one node's actors, routes envelopes locally or through its transport, runs asks.

import { randomBytes } from 'node:crypto';
import type { ActorDefinition, SpawnOptions } from './actor.js';
import { ActorCell, type ActorStatus, type CellEvent, type CellHost } from './cell.js';
import { type Clock, systemClock, type TimerHandle } from './clock.js';
import { DeadLetterOffice, type DeadLetters } from './dead-letters.js';
import {
  assertHeaders,
  assertValidAddress,
  assertValidName,
  type Envelope,
  EnvelopeKind,
  errorReply,
  isErrorReply,
  nodeOf,
  pathOf,
  REPLY_SEGMENT,
  tellEnvelope,
} from './envelope.js';
import { AskTimeoutError, ErrorCode, InvalidOptionsError, TroupeError, type WireError } from './errors.js';
import type { NodeLoad, PlacementStrategy } from './placement.js';
import type { AnyProtocol, Protocol } from './protocol.js';
import type { ActorRef, AnyActorRef, AskOptions, SendOptions, TellOptions } from './ref.js';
import { assertActorLimits } from './supervision.js';
import type { TaskRunner } from './task.js';
import type { Rejected, Transport, TransportSink } from './transport.js';
import {
  type AnyVirtualType,
  isVirtualType,
  parseVirtualAddress,
  type VirtualActorOptions,
  VirtualHost,
  type VirtualType,
  virtualAddress,
} from './virtual.js';

/** Options of {@link createSystem}. */
export interface SystemOptions {
  /**
   * This node's id: the first segment of every local address, unique among the nodes on one transport.
   * @defaultValue a random id such as `n3f9a1c2e`
   */
  nodeId?: string;
  /**
   * Carries messages to other nodes. Without one the system is a single in-process node: addresses on other
   * nodes are unreachable (asks fail with `NO_RESPONDERS`, tells become dead letters).
   * @defaultValue none
   */
  transport?: Transport;
  /**
   * Runs `ctx.runTask`: `bullmqTaskRunner()` for worker nodes over Redis, `taskPool()` in-process. The system
   * uses it but does not own it: close it after the system.
   * @defaultValue none (`ctx.runTask` fails with `NO_TASK_RUNNER`)
   */
  tasks?: TaskRunner;
  /** @defaultValue the real clock */
  clock?: Clock;
  /** @defaultValue 5000 */
  askTimeoutMs?: number;
  /**
   * Messages an actor handles per turn before yielding to others and to I/O.
   * @defaultValue 300
   */
  throughput?: number;
  /**
   * Most virtual actors active at once on this node; past it the least recently used idle ones are passivated.
   * @defaultValue unlimited
   */
  maxActiveVirtual?: number;
  /**
   * How many recent dead letters are kept for `deadLetters.recent()`.
   * @defaultValue 1000
   */
  deadLetterBuffer?: number;
  /**
   * Longest `drain()` waits for mailboxes to empty before it stops actors anyway.
   * @defaultValue 10000
   */
  drainTimeoutMs?: number;
}

/** {@link SystemOptions} after defaults. */
export interface ResolvedSystemOptions {
  nodeId: string;
  transport: Transport | undefined;
  tasks: TaskRunner | undefined;
  clock: Clock;
  askTimeoutMs: number;
  throughput: number;
  deadLetterBuffer: number;
  drainTimeoutMs: number;
  maxActiveVirtual: number;
}

export const DEFAULT_ASK_TIMEOUT_MS = 5000;
export const DEFAULT_THROUGHPUT = 300;
export const DEFAULT_DEAD_LETTER_BUFFER = 1000;
export const DEFAULT_DRAIN_TIMEOUT_MS = 10_000;

function positiveInt(value: unknown, field: string, fallback: number, allowZero = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < (allowZero ? 0 : 1)) {
    throw new InvalidOptionsError(
      field,
      `expected a ${allowZero ? 'non-negative' : 'positive'} integer, got ${String(value)}`,
    );
  }
  return value;
}

function resolveTasks(tasks: TaskRunner | undefined): TaskRunner | undefined {
  if (tasks !== undefined && (typeof tasks !== 'object' || tasks === null || typeof tasks.run !== 'function'))
    throw new InvalidOptionsError('tasks', 'expected a TaskRunner');
  return tasks;
}

/** Applies defaults and validates; never mutates `options`. Throws {@link InvalidOptionsError} naming the field. */
export function resolveSystemOptions(options: SystemOptions = {}): ResolvedSystemOptions {
  if (typeof options !== 'object' || options === null)
    throw new InvalidOptionsError('options', 'expected an object');
  const nodeId = options.nodeId ?? `n${randomBytes(4).toString('hex')}`;
  try {
    assertValidName(nodeId, 'node id');
  } catch (err) {
    throw new InvalidOptionsError('nodeId', (err as Error).message);
  }
  const clock = options.clock ?? systemClock;
  if (typeof clock.now !== 'function' || typeof clock.setTimeout !== 'function') {
    throw new InvalidOptionsError('clock', 'expected { now, setTimeout, clearTimeout }');
  }
  if (options.transport !== undefined && typeof options.transport?.bind !== 'function') {
    throw new InvalidOptionsError('transport', 'expected a Transport');
  }
  return {
    nodeId,
    transport: options.transport,
    tasks: resolveTasks(options.tasks),
    clock,
    askTimeoutMs: positiveInt(options.askTimeoutMs, 'askTimeoutMs', DEFAULT_ASK_TIMEOUT_MS),
    throughput: positiveInt(options.throughput, 'throughput', DEFAULT_THROUGHPUT),
    deadLetterBuffer: positiveInt(
      options.deadLetterBuffer,
      'deadLetterBuffer',
      DEFAULT_DEAD_LETTER_BUFFER,
      true,
    ),
    drainTimeoutMs: positiveInt(options.drainTimeoutMs, 'drainTimeoutMs', DEFAULT_DRAIN_TIMEOUT_MS, true),
    maxActiveVirtual: positiveInt(options.maxActiveVirtual, 'maxActiveVirtual', Number.MAX_SAFE_INTEGER),
  };
}

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

/** Reserved path segment that addresses a node itself (`node/$node`), for node-wide system commands. */
export const NODE_SEGMENT = '$node';
const DEFAULT_PS_TIMEOUT_MS = 500;

type ControlCommand = 'stop' | 'terminate' | 'pause' | 'resume';

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
  /** The local actors as trees: top-level actors at the roots, each with its children. */
  tree(): ActorTreeNode[];
  /**
   * Every actor on every node the transport can list (`troupe ps`); this node only when it cannot. Nodes that
   * do not answer in time are left out.
   */
  ps(options?: PsOptions): Promise<ActorInfo[]>;
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

interface PendingAsk {
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  timer: TimerHandle;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  /** Kept for asks to virtual actors, which are re-sent while their shard changes hands. */
  envelope?: Envelope;
  retryDelayMs?: number;
}

const VIRTUAL_RETRY_MIN_MS = 20;
const VIRTUAL_RETRY_MAX_MS = 500;

/** Checks the options of tell/send/ask at the edge, so a bad one fails at once with a code. */
function assertSendOptions(options: TellOptions | AskOptions | undefined, target: string): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null)
    throw new InvalidOptionsError('options', 'expected an object');
  const sender = (options as TellOptions).sender;
  if (sender !== undefined && typeof sender?.address !== 'string')
    throw new InvalidOptionsError('sender', 'expected an actor ref');
  if (options.headers !== undefined) assertHeaders(options.headers, target);
  const signal = (options as AskOptions).signal;
  if (signal !== undefined && !(signal instanceof AbortSignal))
    throw new InvalidOptionsError('signal', 'expected an AbortSignal');
}

/** Longest timer Node can arm (2^31 - 1 ms); a longer one fires at once. */
const MAX_TIMEOUT_MS = 2_147_483_647;

function assertMessage(message: unknown): void {
  if (
    typeof message !== 'object' ||
    message === null ||
    typeof (message as { type?: unknown }).type !== 'string'
  ) {
    throw new TroupeError(ErrorCode.InvalidMessage, 'a message must be an object with a string `type`');
  }
}

/** The ref implementation; `cell` is set when the actor is local, for the direct path. */
class Ref implements ActorRef<AnyProtocol> {
  readonly address: string;
  readonly #system: System;
  readonly #cell: ActorCell | undefined;
  readonly #local: boolean;

  constructor(address: string, system: System, cell: ActorCell | undefined, local: boolean) {
    this.address = address;
    this.#system = system;
    this.#cell = cell;
    this.#local = local;
  }

  tell(message: { type: string }, options?: TellOptions): void {
    this.#system.tellTo(this.address, this.#cell, this.#local, message, options);
  }

  send(message: { type: string }, options?: SendOptions): Promise<void> {
    return this.#system.sendTo(this.address, this.#cell, this.#local, message, options);
  }

  ask(message: { type: string }, options?: AskOptions): Promise<never> {
    return this.#system.askTo(this.address, this.#cell, this.#local, message, options) as Promise<never>;
  }

  toJSON(): string {
    return this.address;
  }

  toString(): string {
    return `ActorRef(${this.address})`;
  }
}

class System implements ActorSystem, CellHost, TransportSink {
  readonly nodeId: string;
  readonly clock: Clock;
  readonly transport: Transport | undefined;
  readonly tasks: TaskRunner | undefined;
  readonly defaultThroughput: number;
  readonly #options: ResolvedSystemOptions;
  readonly #deadLetters: DeadLetterOffice;
  readonly #cells = new Map<string, ActorCell>();
  readonly #roots = new Map<string, ActorCell>();
  readonly #pending = new Map<string, PendingAsk>();
  readonly #lifecycle = new Set<(event: LifecycleEvent) => void>();
  /** Virtual types declared to the transport through `defineVirtual` values. */
  readonly #declared = new Set<string>();
  readonly #replyPrefix: string;
  readonly #virtual: VirtualHost;
  #seq = 0;
  #rootSeq = 0;
  #closing: Promise<void> | undefined;
  #closedError: Error | undefined;
  readonly #closed: Promise<Error | undefined>;
  #resolveClosed!: (err: Error | undefined) => void;

  constructor(options: ResolvedSystemOptions) {
    this.#options = options;
    this.nodeId = options.nodeId;
    this.clock = options.clock;
    this.transport = options.transport;
    this.tasks = options.tasks;
    this.defaultThroughput = options.throughput;
    this.#deadLetters = new DeadLetterOffice(options.deadLetterBuffer);
    this.#replyPrefix = `${this.nodeId}/${REPLY_SEGMENT}/`;
    this.#virtual = new VirtualHost(
      {
        clock: this.clock,
        activate: (definition, address) => this.#activateVirtual(definition, address),
        undeliverable: (envelope, reason, error) => this.undeliverable(envelope, reason, error),
        reroute: (envelope) => this.#reroute(envelope),
      },
      options.maxActiveVirtual,
    );
    this.#closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
  }

  get deadLetters(): DeadLetters {
    return this.#deadLetters;
  }

  // ---- spawning and refs ----

  spawn<P extends Protocol, S>(definition: ActorDefinition<P, S>, options?: SpawnOptions): ActorRef<P> {
    return this.#spawnIn(undefined, definition as ActorDefinition<Protocol, unknown>, options) as ActorRef<P>;
  }

  spawnChild(
    parent: ActorCell,
    definition: ActorDefinition<Protocol, unknown>,
    options?: SpawnOptions,
  ): AnyActorRef {
    return this.#spawnIn(parent, definition, options);
  }

  #spawnIn(
    parent: ActorCell | undefined,
    definition: ActorDefinition<Protocol, unknown>,
    options: SpawnOptions | undefined,
  ): AnyActorRef {
    if (this.#closing !== undefined)
      throw new TroupeError(ErrorCode.SystemClosed, `system ${this.nodeId} is closed`);
    if (typeof definition !== 'object' || definition === null || typeof definition.handlers !== 'object') {
      throw new TroupeError(
        ErrorCode.InvalidOptions,
        'spawn: expected an actor definition from defineActor()',
      );
    }
    // A supervisor spawns its children again while it restarts, and may do so while paused.
    if (parent && (parent.status === 'stopping' || parent.status === 'stopped')) {
      throw new TroupeError(
        ErrorCode.ActorStopped,
        `cannot spawn under ${parent.address}: it is ${parent.status}`,
      );
    }
    let name: string;
    if (options?.name !== undefined) {
      assertValidName(options.name);
      name = options.name;
    } else {
      name = parent ? parent.nextChildName() : `$${this.#rootSeq++}`;
    }
    const path = parent ? `${parent.path}/${name}` : name;
    if (this.#cells.has(path) || name === REPLY_SEGMENT) {
      throw new TroupeError(ErrorCode.NameTaken, `an actor named ${path} already exists on ${this.nodeId}`);
    }
    if (options !== undefined) {
      try {
        assertActorLimits(options, 'spawn');
      } catch (err) {
        throw new TroupeError(ErrorCode.InvalidOptions, (err as Error).message);
      }
    }
    const address = `${this.nodeId}/${path}`;
    const cell = new ActorCell(this, definition, address, path, name, parent, options);
    cell.ref = new Ref(address, this, cell, true);
    this.#cells.set(path, cell);
    if (parent) parent.children.set(name, cell);
    else this.#roots.set(name, cell);
    cell.start();
    return cell.ref;
  }

  ref<P extends Protocol = AnyProtocol>(address: string): ActorRef<P> {
    assertValidAddress(address);
    const local = nodeOf(address) === this.nodeId;
    const cell = local ? this.#cells.get(pathOf(address)) : undefined;
    if (cell) return cell.ref as ActorRef<P>;
    return new Ref(address, this, undefined, local) as unknown as ActorRef<P>;
  }

  register<P extends Protocol, S>(
    type: string | VirtualType<P, S>,
    definition?: ActorDefinition<P, S>,
    options?: VirtualActorOptions,
  ): void {
    if (this.#closing !== undefined)
      throw new TroupeError(ErrorCode.SystemClosed, `system ${this.nodeId} is closed`);
    if (typeof type !== 'string') {
      if (!isVirtualType(type))
        throw new InvalidOptionsError('type', 'expected a type name or a value from defineVirtual()');
      this.#virtual.register(type.type, type.definition as ActorDefinition<Protocol, unknown>, type.options);
      this.#declare(type);
    } else {
      if (typeof definition !== 'object' || definition === null || typeof definition.handlers !== 'object')
        throw new InvalidOptionsError('definition', 'expected an actor definition from defineActor()');
      this.#virtual.register(type, definition as ActorDefinition<Protocol, unknown>, options);
    }
    this.transport?.hostTypes?.(
      this.#virtual.types().map((t) => {
        const { placement, durable } = this.#virtual.registration(t)!.options;
        return { type: t, placement, durable };
      }),
    );
  }

  virtual<P extends Protocol = AnyProtocol>(type: string | AnyVirtualType, id: string): ActorRef<P> {
    if (typeof type === 'string')
      return new Ref(virtualAddress(type, id), this, undefined, false) as unknown as ActorRef<P>;
    if (!isVirtualType(type))
      throw new InvalidOptionsError('type', 'expected a type name or a value from defineVirtual()');
    this.#declare(type);
    return new Ref(virtualAddress(type.type, id), this, undefined, false) as unknown as ActorRef<P>;
  }

  /** Tells the transport, once per type, what a sender knows of a virtual type: whether it is durable. */
  #declare(type: AnyVirtualType): void {
    if (this.#declared.has(type.type)) return;
    this.#declared.add(type.type);
    this.transport?.declare?.(type.type, type.options.durable);
  }

  /** Starts the cell for a virtual actor; it sits with the top-level actors so shutdown stops it too. */
  #activateVirtual(definition: ActorDefinition<Protocol, unknown>, address: string): ActorCell {
    const cell = new ActorCell(this, definition, address, address, address, undefined);
    cell.ref = new Ref(address, this, undefined, false);
    this.#cells.set(address, cell);
    this.#roots.set(address, cell);
    cell.start();
    return cell;
  }

  refFor(address: string): AnyActorRef {
    return this.ref(address);
  }

  lookup<P extends Protocol = AnyProtocol>(path: string): ActorRef<P> | undefined {
    if (typeof path !== 'string') throw new InvalidOptionsError('path', 'expected a string');
    return this.#cells.get(path)?.ref as ActorRef<P> | undefined;
  }

  // ---- sending ----

  async sendTo(
    address: string,
    cell: ActorCell | undefined,
    local: boolean,
    message: unknown,
    options: SendOptions | undefined,
  ): Promise<void> {
    const transport = this.transport;
    if (cell || local || transport?.sendAcked === undefined || this.#closing !== undefined) {
      this.tellTo(address, cell, local, message, options);
      return;
    }
    assertMessage(message);
    assertSendOptions(options, address);
    const envelope = tellEnvelope(address, message, options?.sender?.address, options?.headers);
    try {
      await transport.sendAcked(envelope, options?.messageId);
    } catch (err) {
      this.#deadLetters.record(
        this.#letter(envelope, TroupeError.is(err) ? err.code : ErrorCode.Remote, err),
      );
      throw err;
    }
  }

  tellTo(
    address: string,
    cell: ActorCell | undefined,
    local: boolean,
    message: unknown,
    options: TellOptions | undefined,
  ): void {
    assertMessage(message);
    if (options !== undefined) assertSendOptions(options, address);
    // The hot path: a plain tell to a local actor goes into its mailbox as the bare message.
    if (cell !== undefined && options === undefined && this.#closing === undefined) {
      cell.enqueueTell(message);
      return;
    }
    const envelope = tellEnvelope(address, message, options?.sender?.address, options?.headers);
    if (this.#closing !== undefined) {
      this.undeliverable(envelope, ErrorCode.SystemClosed);
      return;
    }
    this.#route(envelope, cell, local);
  }

  askTo(
    address: string,
    cell: ActorCell | undefined,
    local: boolean,
    message: unknown,
    options: AskOptions | undefined,
  ): Promise<unknown> {
    try {
      assertMessage(message);
      assertSendOptions(options, address);
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.#closing !== undefined) {
      return Promise.reject(new TroupeError(ErrorCode.SystemClosed, `system ${this.nodeId} is closed`));
    }
    const timeout = options?.timeout ?? this.#options.askTimeoutMs;
    if (!(typeof timeout === 'number' && timeout > 0 && timeout <= MAX_TIMEOUT_MS)) {
      return Promise.reject(
        new InvalidOptionsError(
          'timeout',
          `expected a number of ms from 1 to 2^31-1, got ${String(timeout)}`,
        ),
      );
    }
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(this.#abortError(address, signal));
    const correlationId = (this.#seq++).toString(36);
    return new Promise((resolve, reject) => {
      const pending: PendingAsk = {
        resolve,
        reject,
        timer: this.clock.setTimeout(() => {
          if (this.#takePending(correlationId)) reject(new AskTimeoutError(address, timeout));
        }, timeout),
        signal,
        onAbort: undefined,
      };
      if (signal) {
        pending.onAbort = () => {
          if (this.#takePending(correlationId)) reject(this.#abortError(address, signal));
        };
        signal.addEventListener('abort', pending.onAbort, { once: true });
      }
      this.#pending.set(correlationId, pending);
      const envelope: Envelope = {
        kind: EnvelopeKind.User,
        target: address,
        sender: undefined,
        correlationId,
        replyTo: this.#replyPrefix + correlationId,
        deadline: this.clock.now() + timeout,
        headers: options?.headers,
        payload: message,
      };
      if (!local && parseVirtualAddress(address)) pending.envelope = envelope;
      try {
        this.#route(envelope, cell, local);
      } catch (err) {
        if (this.#takePending(correlationId)) reject(err);
      }
    });
  }

  /**
   * A virtual actor had no owner (its shard is moving after a failure or a join): send the ask again after a
   * short backoff, until its deadline. Returns false when the ask should fail now.
   */
  #retryVirtual(correlationId: string, pending: PendingAsk): boolean {
    const envelope = pending.envelope;
    if (!envelope || this.#closing !== undefined) return false;
    const delay = pending.retryDelayMs ?? VIRTUAL_RETRY_MIN_MS;
    if (envelope.deadline === undefined || this.clock.now() + delay >= envelope.deadline) return false;
    pending.retryDelayMs = Math.min(delay * 2, VIRTUAL_RETRY_MAX_MS);
    this.clock.setTimeout(() => {
      if (this.#pending.get(correlationId) !== pending) return;
      try {
        this.#sendRemote(envelope);
      } catch (err) {
        if (this.#takePending(correlationId)) pending.reject(err);
      }
    }, delay);
    return true;
  }

  #abortError(address: string, signal: AbortSignal): TroupeError {
    return new TroupeError(ErrorCode.AskAborted, `ask to ${address} was aborted`, { cause: signal.reason });
  }

  /** Removes a pending ask and releases its timer and listener; false when it was already settled. */
  #takePending(correlationId: string): PendingAsk | undefined {
    const pending = this.#pending.get(correlationId);
    if (!pending) return undefined;
    this.#pending.delete(correlationId);
    this.clock.clearTimeout(pending.timer);
    if (pending.onAbort) pending.signal?.removeEventListener('abort', pending.onAbort);
    return pending;
  }

  /** Delivers to a local cell, or hands the envelope to the transport. Throws only for unsendable envelopes. */
  #route(envelope: Envelope, cell: ActorCell | undefined, local: boolean): void {
    if (cell) {
      cell.enqueue(envelope);
      return;
    }
    if (local) {
      this.deliver(envelope);
      return;
    }
    this.#sendRemote(envelope);
  }

  #sendRemote(envelope: Envelope): void {
    const transport = this.transport;
    if (!transport || (transport.hostTypes === undefined && parseVirtualAddress(envelope.target))) {
      // Without a transport that routes virtual addresses, this node hosts every virtual actor itself.
      if (parseVirtualAddress(envelope.target)) {
        this.deliver(envelope);
        return;
      }
      this.undeliverable(
        envelope,
        ErrorCode.NoResponders,
        new TroupeError(ErrorCode.NoResponders, `no transport: ${envelope.target} is on another node`),
      );
      return;
    }
    try {
      transport.send(envelope);
    } catch (err) {
      const code = TroupeError.is(err) ? err.code : ErrorCode.Remote;
      // The sender learns of it by the thrown error (or its rejected ask); the dead letter keeps the record.
      this.#deadLetters.record(this.#letter({ ...envelope, replyTo: undefined }, code, err));
      throw err;
    }
  }

  // ---- CellHost ----

  reply(envelope: Envelope, value: unknown, isError: boolean): void {
    const replyTo = envelope.replyTo;
    const correlationId = envelope.correlationId;
    if (replyTo === undefined || correlationId === undefined) return;
    if (replyTo.startsWith(this.#replyPrefix)) {
      this.#settle(correlationId, value, isError, replyTo);
      return;
    }
    const reply: Envelope = isError
      ? errorReply(replyTo, correlationId, value as WireError, envelope.target)
      : {
          kind: EnvelopeKind.Reply,
          target: replyTo,
          sender: envelope.target,
          correlationId,
          replyTo: undefined,
          deadline: undefined,
          headers: undefined,
          payload: value,
        };
    try {
      this.#sendRemote(reply);
    } catch (err) {
      // The reply itself could not be sent (too large, say): tell the asker why instead of letting it time out.
      try {
        this.#sendRemote(errorReply(replyTo, correlationId, TroupeError.toWire(err), envelope.target));
      } catch {
        // Already recorded as a dead letter by #sendRemote.
      }
    }
  }

  /** Mail held for a virtual actor whose shard moved: a durable store offers it again, else send it on. */
  #reroute(envelope: Envelope): void {
    if (envelope.delivery !== undefined) {
      envelope.delivery.nak();
      return;
    }
    try {
      this.#sendRemote(envelope);
    } catch (err) {
      if (envelope.replyTo !== undefined) this.reply(envelope, TroupeError.toWire(err), true);
    }
  }

  forward(envelope: Envelope, target: string): void {
    const forwarded: Envelope = { ...envelope, target };
    const local = nodeOf(target) === this.nodeId;
    try {
      this.#route(forwarded, local ? this.#cells.get(pathOf(target)) : undefined, local);
    } catch (err) {
      // #sendRemote has recorded the dead letter; the asker still needs its answer.
      this.reply(forwarded, TroupeError.toWire(err), true);
    }
  }

  undeliverable(envelope: Envelope, reason: string, error?: unknown): void {
    // Dead-lettered is done with: a durable store must not deliver it again.
    envelope.delivery?.ack();
    const letter = this.#letter(envelope, reason, error);
    this.#deadLetters.record(letter);
    if (envelope.kind !== EnvelopeKind.Reply && envelope.replyTo !== undefined) {
      this.reply(
        envelope,
        letter.error ?? { code: reason, message: `message to ${envelope.target} was not handled: ${reason}` },
        true,
      );
    }
  }

  #letter(envelope: Envelope, reason: string, error: unknown) {
    return {
      address: envelope.target,
      reason,
      message: envelope.payload,
      sender: envelope.sender,
      error: error === undefined ? undefined : TroupeError.toWire(error),
      at: this.clock.now(),
    };
  }

  failed(cell: ActorCell, error: unknown, _envelope: Envelope | undefined): void {
    this.#emit({
      type: 'failed',
      address: cell.address,
      actorType: cell.definition.type,
      error: TroupeError.toWire(error),
      at: this.clock.now(),
    });
  }

  started(cell: ActorCell): void {
    if (this.#lifecycle.size === 0) return;
    this.#emit({
      type: 'started',
      address: cell.address,
      actorType: cell.definition.type,
      at: this.clock.now(),
    });
  }

  event(cell: ActorCell, type: CellEvent, reason?: unknown): void {
    if (this.#lifecycle.size === 0) return;
    const event: LifecycleEvent = {
      type,
      address: cell.address,
      actorType: cell.definition.type,
      at: this.clock.now(),
    };
    if (reason !== undefined) event.error = TroupeError.toWire(reason);
    if (type === 'restarted') event.restarts = cell.restarts;
    this.#emit(event);
  }

  stopped(cell: ActorCell, unhandled: Envelope[]): void {
    this.#virtual.stopped(cell, unhandled);
    if (this.#cells.get(cell.path) === cell) this.#cells.delete(cell.path);
    if (cell.parent) {
      if (cell.parent.children.get(cell.name) === cell) cell.parent.children.delete(cell.name);
    } else if (this.#roots.get(cell.name) === cell) {
      this.#roots.delete(cell.name);
    }
    if (this.#lifecycle.size === 0) return;
    this.#emit({
      type: 'stopped',
      address: cell.address,
      actorType: cell.definition.type,
      at: this.clock.now(),
    });
  }

  #emit(event: LifecycleEvent): void {
    for (const listener of this.#lifecycle) {
      try {
        listener(event);
      } catch {
        // Observers must not break the actor whose event they watch.
      }
    }
  }

  onLifecycle(listener: (event: LifecycleEvent) => void): () => void {
    if (typeof listener !== 'function') throw new InvalidOptionsError('listener', 'expected a function');
    this.#lifecycle.add(listener);
    return () => this.#lifecycle.delete(listener);
  }

  // ---- TransportSink ----

  deliver(envelope: Envelope): void {
    if (envelope.kind === EnvelopeKind.User && parseVirtualAddress(envelope.target)) {
      this.#virtual.deliver(envelope);
      return;
    }
    // A frame whose envelope names another node (misrouted or forged) must not reach a local actor by path.
    if (nodeOf(envelope.target) !== this.nodeId) {
      this.undeliverable(
        envelope,
        ErrorCode.ActorNotFound,
        new TroupeError(ErrorCode.ActorNotFound, `${envelope.target} is not on node ${this.nodeId}`),
      );
      return;
    }
    switch (envelope.kind) {
      case EnvelopeKind.Reply:
        if (envelope.correlationId !== undefined) {
          this.#settle(envelope.correlationId, envelope.payload, isErrorReply(envelope), envelope.target);
        } else {
          this.#deadLetters.record(
            this.#letter(envelope, ErrorCode.InvalidMessage, 'reply without correlation id'),
          );
        }
        return;
      case EnvelopeKind.User: {
        const cell = this.#cells.get(pathOf(envelope.target));
        if (cell) cell.enqueue(envelope);
        else {
          this.undeliverable(
            envelope,
            ErrorCode.ActorNotFound,
            new TroupeError(ErrorCode.ActorNotFound, `no actor at ${envelope.target}`),
          );
        }
        return;
      }
      case EnvelopeKind.System:
        this.#onSystemMessage(envelope);
        return;
      default:
        this.undeliverable(envelope, ErrorCode.InvalidMessage);
    }
  }

  passivate(match: (address: string) => boolean): Promise<number> {
    return this.#virtual.passivate(match);
  }

  load(): NodeLoad {
    let mailbox = 0;
    for (const cell of this.#cells.values()) mailbox += cell.mailboxDepth;
    return { actors: this.#cells.size, mailbox };
  }

  reject(rejected: Rejected): void {
    this.#deadLetters.record({
      address: rejected.address,
      reason: rejected.reason,
      message: rejected.envelope?.payload,
      sender: rejected.envelope?.sender,
      error: rejected.error,
      at: this.clock.now(),
    });
  }

  #settle(correlationId: string, value: unknown, isError: boolean, address: string): void {
    const waiting = this.#pending.get(correlationId);
    if (
      waiting?.envelope !== undefined &&
      isError &&
      (value as WireError | undefined)?.code === ErrorCode.NoResponders &&
      this.#retryVirtual(correlationId, waiting)
    ) {
      return;
    }
    const pending = this.#takePending(correlationId);
    if (!pending) {
      this.#deadLetters.record({
        address,
        reason: ErrorCode.LateReply,
        message: value,
        at: this.clock.now(),
      });
      return;
    }
    if (isError) pending.reject(TroupeError.fromWire(value as WireError));
    else pending.resolve(value);
  }

  /** Lifecycle commands from other nodes (`troupe pause`, ...) and node-wide queries (`troupe ps`). */
  #onSystemMessage(envelope: Envelope): void {
    const command = envelope.payload as { type?: unknown; subtree?: unknown } | null;
    const type = typeof command === 'object' && command !== null ? command.type : undefined;
    const path = pathOf(envelope.target);
    if (path === NODE_SEGMENT && type === 'ps') {
      this.reply(envelope, this.inspect(), false);
      return;
    }
    if (path === NODE_SEGMENT && type === 'spawn') {
      const { actorType, name } = command as { actorType?: unknown; name?: unknown };
      try {
        const ref = this.#spawnRegistered(String(actorType), typeof name === 'string' ? name : undefined);
        this.reply(envelope, ref.address, false);
      } catch (err) {
        this.reply(envelope, TroupeError.toWire(err), true);
      }
      return;
    }
    const cell = this.#cells.get(path);
    if (!cell) {
      this.undeliverable(
        envelope,
        ErrorCode.ActorNotFound,
        new TroupeError(ErrorCode.ActorNotFound, `no actor at ${envelope.target}`),
      );
      return;
    }
    if (type === 'stop' || type === 'terminate' || type === 'pause' || type === 'resume') {
      void this.#controlLocal(cell, type, command?.subtree === true).then(() =>
        this.reply(envelope, true, false),
      );
    } else {
      this.undeliverable(
        envelope,
        ErrorCode.InvalidMessage,
        new TroupeError(ErrorCode.InvalidMessage, `unknown system command ${JSON.stringify(type)}`),
      );
    }
  }

  // ---- lifecycle ----

  #spawnRegistered(type: string, name: string | undefined): AnyActorRef {
    const registration = this.#virtual.registration(type);
    if (!registration) {
      throw new TroupeError(
        ErrorCode.ActorNotFound,
        `actor type ${type} is not registered on ${this.nodeId}`,
      );
    }
    return this.spawn(registration.definition, name === undefined ? {} : { name });
  }

  async spawnOn<P extends Protocol = AnyProtocol>(
    where: string | PlacementStrategy,
    type: string,
    options: { name?: string } = {},
  ): Promise<ActorRef<P>> {
    if (typeof where === 'string') {
      try {
        assertValidName(where, 'node id');
      } catch (err) {
        throw new InvalidOptionsError('where', (err as Error).message);
      }
    } else if (typeof where !== 'object' || where === null || typeof where.place !== 'function') {
      throw new InvalidOptionsError('where', 'expected a node id or a placement strategy');
    }
    assertValidName(type, 'actor type');
    if (typeof options !== 'object' || options === null)
      throw new InvalidOptionsError('options', 'expected an object');
    let node: string | undefined;
    if (typeof where === 'string') node = where;
    else {
      const members = (this.transport?.members?.() ?? []).filter((m) => m.types.includes(type));
      if (this.#virtual.registration(type) && !members.some((m) => m.id === this.nodeId)) {
        members.push({
          id: this.nodeId,
          roles: [],
          types: [type],
          durable: [],
          load: this.load(),
          startedAt: 0,
        });
      }
      node = where.place(`${type}/${options.name ?? (this.#seq++).toString(36)}`, {
        self: this.nodeId,
        members,
      });
      if (node === undefined)
        throw new TroupeError(ErrorCode.NoResponders, `no node hosts actor type ${type}`);
    }
    if (node === this.nodeId) return this.#spawnRegistered(type, options.name) as ActorRef<P>;
    const address = await this.#systemAsk(
      `${node}/${NODE_SEGMENT}`,
      { type: 'spawn', actorType: type, name: options.name },
      this.#options.askTimeoutMs,
    );
    return this.ref<P>(String(address));
  }

  async #controlLocal(cell: ActorCell, command: ControlCommand, subtree: boolean): Promise<void> {
    switch (command) {
      case 'stop':
        return cell.requestStop();
      case 'terminate':
        return cell.terminate();
      case 'pause':
      case 'resume': {
        const visit = (c: ActorCell): void => {
          if (command === 'pause') c.pause();
          else c.resume();
          if (subtree) for (const child of c.children.values()) visit(child);
        };
        visit(cell);
        return;
      }
    }
  }

  async #control(ref: AnyActorRef, command: ControlCommand, subtree: boolean): Promise<void> {
    if (typeof ref !== 'object' || ref === null || typeof ref.address !== 'string')
      throw new InvalidOptionsError('ref', 'expected an actor ref');
    if (nodeOf(ref.address) === this.nodeId) {
      const cell = this.#cells.get(pathOf(ref.address));
      if (cell) await this.#controlLocal(cell, command, subtree);
      else if (command === 'pause' || command === 'resume') {
        throw new TroupeError(ErrorCode.ActorNotFound, `no actor at ${ref.address}`);
      }
      return;
    }
    await this.#systemAsk(ref.address, { type: command, subtree }, this.#options.askTimeoutMs);
  }

  stop(ref: AnyActorRef): Promise<void> {
    return this.#control(ref, 'stop', true);
  }

  terminate(ref: AnyActorRef): Promise<void> {
    return this.#control(ref, 'terminate', true);
  }

  pause(ref: AnyActorRef, options?: ControlOptions): Promise<void> {
    return this.#control(ref, 'pause', options?.subtree === true);
  }

  resume(ref: AnyActorRef, options?: ControlOptions): Promise<void> {
    return this.#control(ref, 'resume', options?.subtree === true);
  }

  async ps(options: PsOptions = {}): Promise<ActorInfo[]> {
    const timeout = options.timeoutMs ?? DEFAULT_PS_TIMEOUT_MS;
    if (!(Number.isInteger(timeout) && timeout > 0 && timeout <= MAX_TIMEOUT_MS))
      throw new InvalidOptionsError('timeoutMs', `expected a positive integer, got ${String(timeout)}`);
    const nodes = new Set<string>([this.nodeId]);
    if (this.transport?.nodes !== undefined)
      for (const node of await this.transport.nodes(timeout)) nodes.add(node);
    const answers = await Promise.all(
      [...nodes].map((node) =>
        node === this.nodeId
          ? this.inspect()
          : this.#systemAsk(`${node}/${NODE_SEGMENT}`, { type: 'ps' }, timeout).then(
              (infos) => (Array.isArray(infos) ? (infos as ActorInfo[]) : []),
              () => [],
            ),
      ),
    );
    return answers.flat();
  }

  /** Sends a system command to another node and resolves with its reply. */
  #systemAsk(address: string, payload: unknown, timeout: number): Promise<unknown> {
    const correlationId = (this.#seq++).toString(36);
    return new Promise((resolve, reject) => {
      this.#pending.set(correlationId, {
        resolve,
        reject,
        timer: this.clock.setTimeout(() => {
          if (this.#takePending(correlationId)) reject(new AskTimeoutError(address, timeout));
        }, timeout),
        signal: undefined,
        onAbort: undefined,
      });
      try {
        this.#sendRemote({
          kind: EnvelopeKind.System,
          target: address,
          sender: undefined,
          correlationId,
          replyTo: this.#replyPrefix + correlationId,
          deadline: undefined,
          headers: undefined,
          payload,
        });
      } catch (err) {
        if (this.#takePending(correlationId)) reject(err);
      }
    });
  }

  inspect(): ActorInfo[] {
    return [...this.#cells.values()].map(infoOf);
  }

  tree(): ActorTreeNode[] {
    const node = (cell: ActorCell): ActorTreeNode => ({
      ...infoOf(cell),
      children: [...cell.children.values()].map(node),
    });
    return [...this.#roots.values()].map(node);
  }

  async bind(): Promise<void> {
    await this.transport?.bind(this.nodeId, this);
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown(false);
    return this.#closing;
  }

  drain(): Promise<void> {
    this.#closing ??= this.#shutdown(true);
    return this.#closing;
  }

  closed(): Promise<Error | undefined> {
    return this.#closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.drain();
  }

  async #shutdown(graceful: boolean): Promise<void> {
    const errors: unknown[] = [];
    const step = async (fn: () => Promise<unknown>): Promise<void> => {
      try {
        await fn();
      } catch (err) {
        errors.push(err);
      }
    };
    this.#virtual.close();
    // Hand over first: once no new work is routed here, the actors can finish what they have.
    const handOver = this.transport?.handOver;
    if (graceful && handOver) await step(() => handOver.call(this.transport));
    if (graceful) await step(() => this.#quiesce());
    await step(() =>
      Promise.all(
        [...this.#roots.values()].map((cell) => (graceful ? cell.requestStop() : cell.terminate())),
      ),
    );
    for (const id of [...this.#pending.keys()]) {
      this.#takePending(id)?.reject(
        new TroupeError(ErrorCode.SystemClosed, `system ${this.nodeId} closed before the reply`),
      );
    }
    if (this.transport) {
      const transport = this.transport;
      await step(() => (graceful ? transport.drain() : transport.close()));
    }
    this.#closedError = errors.length === 0 ? undefined : (errors[0] as Error);
    this.#resolveClosed(this.#closedError);
  }

  /** Waits until every mailbox is empty and no handler runs, or `drainTimeoutMs` passes. */
  async #quiesce(): Promise<void> {
    let timedOut = false;
    const timer = this.clock.setTimeout(() => {
      timedOut = true;
    }, this.#options.drainTimeoutMs);
    try {
      for (let round = 0; !timedOut; round++) {
        let idle = true;
        for (const cell of this.#cells.values()) {
          if (!cell.idle) {
            idle = false;
            break;
          }
        }
        if (idle) return;
        // Poll: spin on the event loop briefly, then back off so a long handler does not cost a core.
        await new Promise((resolve) => (round < 100 ? setImmediate(resolve) : setTimeout(resolve, 5)));
      }
    } finally {
      this.clock.clearTimeout(timer);
    }
  }
}

function infoOf(cell: ActorCell): ActorInfo {
  return {
    address: cell.address,
    type: cell.definition.type,
    status: cell.status,
    parent: cell.parent?.address,
    supervisor: cell.parent?.isSupervisor === true ? cell.parent.address : undefined,
    isSupervisor: cell.isSupervisor,
    mailboxDepth: cell.mailboxDepth,
    processed: cell.processed,
    restarts: cell.restarts,
    lastError: cell.lastError === undefined ? undefined : TroupeError.toWire(cell.lastError),
  };
}

/**
 * Creates an actor system (one node) and binds its transport.
 *
 * @example
 * await using system = await createSystem();                // in-process
 * const nats = natsTransport({ servers: 'nats://127.0.0.1:4222' });
 * await using node = await createSystem({ transport: nats }); // reachable over NATS
 */
export async function createSystem(options: SystemOptions = {}): Promise<ActorSystem> {
  const system = new System(resolveSystemOptions(options));
  await system.bind();
  return system;
}
