// The actor system: one node's facade over its registry, router, pending asks, control plane and events.

import { ActorCell } from '../actor/cell.js';
import type { ActorDefinition, SpawnOptions } from '../actor/definition.js';
import type { ActorMeter } from '../actor/metrics-hooks.js';
import type { AnyProtocol, Protocol } from '../actor/protocol.js';
import type { ActorRef, AnyActorRef } from '../actor/ref.js';
import type { CellEvent, CellHost } from '../actor/state.js';
import type { NodeLoad, PlacementStrategy } from '../cluster/placement.js';
import type { AnyVirtualType, VirtualActorOptions } from '../cluster/virtual.js';
import type { Clock } from '../core/clock.js';
import type { DeadLetters } from '../core/dead-letters.js';
import { assertValidAddress, type Envelope } from '../core/envelope.js';
import { ErrorCode, InvalidOptionsError, TroupeError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { FailurePhase } from '../ports/supervision.js';
import type { Rejected, Transport, TransportSink } from '../ports/transport.js';
import type { TaskRunner } from '../tasks/runner.js';
import type {
  ActorInfo,
  ActorSystem,
  ActorTreeNode,
  ControlOptions,
  LifecycleEvent,
  NodeDeadLetter,
  PsOptions,
} from './actor-system.js';
import { Address } from './address.js';
import { infoOf, treeOf } from './events.js';
import { type ResolvedSystemOptions, resolveSystemOptions, type SystemOptions } from './options.js';
import { buildParts, type Observers, type PartsOwner, type SystemParts } from './parts.js';
import { AddressRef, VirtualRef } from './refs.js';
import type { Registry } from './registry.js';
import type { Router } from './router.js';
import { shutdown } from './shutdown.js';
import type { TraceHooks } from './trace-hooks.js';

class System implements ActorSystem, CellHost, TransportSink, PartsOwner {
  readonly nodeId: string;
  readonly clock: Clock;
  readonly transport: Transport | undefined;
  readonly tasks: TaskRunner | undefined;
  readonly defaultThroughput: number;
  readonly meter: ActorMeter | undefined;
  /** Spans around messages, spawns and activations; undefined without `tracing`. */
  readonly traces: TraceHooks | undefined;
  readonly #options: ResolvedSystemOptions;
  readonly #parts: SystemParts;
  /** The parts every message touches, kept in fields of their own. */
  readonly #registry: Registry;
  readonly #router: Router;
  readonly #observers: Observers;
  #seq = 0;
  #closing: Promise<void> | undefined;
  readonly #closed: Promise<Error | undefined>;
  #resolveClosed!: (err: Error | undefined) => void;

  constructor(options: ResolvedSystemOptions) {
    this.#options = options;
    this.nodeId = options.nodeId;
    this.clock = options.clock;
    this.transport = options.transport;
    this.tasks = options.tasks;
    this.defaultThroughput = options.throughput;
    this.#parts = buildParts(options, this);
    this.#registry = this.#parts.registry;
    this.#router = this.#parts.router;
    this.#observers = this.#parts.observers;
    this.meter = this.#parts.meter;
    this.traces = this.#observers.traces;
    this.#closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
  }

  /** @internal For the parts: true once the system began to close. */
  readonly closing = (): boolean => this.#closing !== undefined;

  get deadLetters(): DeadLetters {
    return this.#parts.deadLetters;
  }

  /** This node's logger (its events carry `node`); the transport takes it when it has none of its own. */
  get logger(): Logger {
    return this.#observers.log.logger;
  }

  // ---- actors and refs ----

  spawn<P extends Protocol, S>(definition: ActorDefinition<P, S>, options?: SpawnOptions): ActorRef<P> {
    return this.spawnChild(
      undefined,
      definition as ActorDefinition<Protocol, unknown>,
      options,
    ) as ActorRef<P>;
  }

  spawnChild(
    parent: ActorCell | undefined,
    definition: ActorDefinition<Protocol, unknown>,
    options?: SpawnOptions,
  ): AnyActorRef {
    this.#assertOpen();
    const traces = this.traces;
    if (traces?.enabled()) {
      return traces.spawn(
        definition.type,
        () => this.#registry.spawn(this, this.#router, parent, definition, options),
        (ref) => this.#registry.cells.get(ref.address.slice(this.nodeId.length + 1)),
      );
    }
    return this.#registry.spawn(this, this.#router, parent, definition, options);
  }

  ref<P extends Protocol = AnyProtocol>(address: string): ActorRef<P> {
    assertValidAddress(address);
    const target = Address.parse(address, this.nodeId);
    if (target.kind === 'local') {
      const cell = this.#registry.cells.get(target.path);
      if (cell) return cell.ref as ActorRef<P>;
    }
    const ref =
      target.kind === 'virtual' ? new VirtualRef(target, this.#router) : new AddressRef(target, this.#router);
    return ref as unknown as ActorRef<P>;
  }

  refFor(address: string): AnyActorRef {
    return this.ref(address);
  }

  lookup<P extends Protocol = AnyProtocol>(path: string): ActorRef<P> | undefined {
    if (typeof path !== 'string') throw new InvalidOptionsError('path', 'expected a string');
    return this.#registry.cells.get(path)?.ref as ActorRef<P> | undefined;
  }

  register<P extends Protocol, S>(
    type: string | AnyVirtualType,
    definition?: ActorDefinition<P, S>,
    options?: VirtualActorOptions,
  ): void {
    this.#assertOpen();
    this.#parts.types.register(type, definition as ActorDefinition<Protocol, unknown> | undefined, options);
  }

  virtual<P extends Protocol = AnyProtocol>(type: string | AnyVirtualType, id: string): ActorRef<P> {
    return this.#parts.types.ref(type, id) as unknown as ActorRef<P>;
  }

  /** @internal For the virtual host: starts the cell for a virtual actor, whose first message is `envelope`. */
  readonly activateVirtual = (
    definition: ActorDefinition<Protocol, unknown>,
    address: string,
    envelope: Envelope | undefined,
  ): ActorCell => {
    const cell = new ActorCell({ host: this, definition, address, path: address, name: address });
    cell.ref = new VirtualRef(Address.parse(address, this.nodeId), this.#router);
    this.#registry.addVirtual(cell);
    if (this.traces === undefined) cell.start();
    else this.traces.activate(cell, envelope);
    return cell;
  };

  /** @internal For remote `spawnOn`: spawns a registered type here. */
  readonly spawnRegistered = (type: string, name: string | undefined): AnyActorRef => {
    const registration = this.#parts.virtual.registration(type);
    if (!registration) {
      throw new TroupeError(
        ErrorCode.ActorNotFound,
        `actor type ${type} is not registered on ${this.nodeId}`,
      );
    }
    return this.spawn(registration.definition, name === undefined ? {} : { name });
  };

  async spawnOn<P extends Protocol = AnyProtocol>(
    where: string | PlacementStrategy,
    type: string,
    options: { name?: string } = {},
  ): Promise<ActorRef<P>> {
    const address = await this.#parts.control.spawnOn(where, type, options, () => (this.#seq++).toString(36));
    return this.ref<P>(address);
  }

  // ---- control and inspection ----

  stop(ref: AnyActorRef): Promise<void> {
    return this.#parts.control.command(ref, 'stop', true);
  }

  terminate(ref: AnyActorRef): Promise<void> {
    return this.#parts.control.command(ref, 'terminate', true);
  }

  pause(ref: AnyActorRef, options?: ControlOptions): Promise<void> {
    return this.#parts.control.command(ref, 'pause', options?.subtree === true);
  }

  resume(ref: AnyActorRef, options?: ControlOptions): Promise<void> {
    return this.#parts.control.command(ref, 'resume', options?.subtree === true);
  }

  restart(ref: AnyActorRef): Promise<void> {
    return this.#parts.control.command(ref, 'restart', false);
  }

  ps(options: PsOptions = {}): Promise<ActorInfo[]> {
    return this.#parts.control.ps(options);
  }

  clusterDeadLetters(options: PsOptions = {}): Promise<NodeDeadLetter[]> {
    return this.#parts.control.deadLetters(options);
  }

  readonly inspect = (): ActorInfo[] => {
    return [...this.#registry.cells.values()].map(infoOf);
  };

  tree(): ActorTreeNode[] {
    return [...this.#registry.roots.values()].map(treeOf);
  }

  onLifecycle(listener: (event: LifecycleEvent) => void): () => void {
    if (typeof listener !== 'function') throw new InvalidOptionsError('listener', 'expected a function');
    return this.#observers.events.subscribe(listener);
  }

  // ---- CellHost: what cells ask of their node ----

  reply(envelope: Envelope, value: unknown, isError: boolean): void {
    this.#router.reply(envelope, value, isError);
  }

  forward(envelope: Envelope, target: string): void {
    this.#router.forward(envelope, target);
  }

  undeliverable(envelope: Envelope, reason: string, error?: unknown): void {
    this.#router.undeliverable(envelope, reason, error);
  }

  failed(
    cell: ActorCell,
    error: unknown,
    envelope: Envelope | undefined,
    phase?: FailurePhase | 'stop',
  ): void {
    this.#observers.failed(cell, error, envelope, phase);
  }

  started(cell: ActorCell): void {
    this.#observers.started(cell);
  }

  event(cell: ActorCell, type: CellEvent, reason?: unknown, delayMs?: number): void {
    this.#observers.event(cell, type, reason, delayMs);
  }

  stopped(cell: ActorCell, unhandled: Envelope[]): void {
    this.#parts.virtual.stopped(cell, unhandled);
    this.#registry.remove(cell);
    this.#observers.stopped(cell);
  }

  // ---- TransportSink: what the transport hands this node ----

  deliver(envelope: Envelope): void {
    this.#router.deliver(envelope);
  }

  reject(rejected: Rejected): void {
    this.#router.reject(rejected);
  }

  passivate(match: (address: string) => boolean): Promise<number> {
    return this.#parts.virtual.passivate(match);
  }

  readonly load = (): NodeLoad => {
    let mailbox = 0;
    for (const cell of this.#registry.cells.values()) mailbox += cell.mailboxDepth;
    return { actors: this.#registry.cells.size, mailbox };
  };

  // ---- lifecycle ----

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
    const { cells, roots } = this.#registry;
    const error = await shutdown(
      {
        nodeId: this.nodeId,
        clock: this.clock,
        transport: this.transport,
        virtual: this.#parts.virtual,
        asks: this.#router.asks,
        cells,
        roots,
        drainTimeoutMs: this.#options.drainTimeoutMs,
      },
      graceful,
    );
    this.#observers.close();
    this.#resolveClosed(error);
  }

  #assertOpen(): void {
    if (this.#closing !== undefined)
      throw new TroupeError(ErrorCode.SystemClosed, `system ${this.nodeId} is closed`);
  }
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
