// The actor cell: one actor's mailbox, state and processing loop, one message at a time, in order.

import type { ActorContext, ActorDefinition, Replier, SpawnOptions } from './actor.js';
import type { Clock } from './clock.js';
import { Deque } from './deque.js';
import { type Envelope, EnvelopeKind } from './envelope.js';
import { ErrorCode, TroupeError } from './errors.js';
import type { Protocol } from './protocol.js';
import type { ActorRef, AnyActorRef } from './ref.js';
import { TimerScheduler } from './timers.js';

/** Where an actor is in its life. */
export type ActorStatus = 'starting' | 'running' | 'stopping' | 'stopped';

/** @internal What a cell needs from the system that hosts it. */
export interface CellHost {
  readonly clock: Clock;
  readonly defaultThroughput: number;
  /** Sends the reply (or error) for an ask envelope. */
  reply(envelope: Envelope, value: unknown, isError: boolean): void;
  /** Sends `envelope` on to `target`, keeping its sender and reply address. */
  forward(envelope: Envelope, target: string): void;
  /** Records a message that will not be handled; answers it with `error` if it was an ask. */
  undeliverable(envelope: Envelope, reason: string, error?: unknown): void;
  spawnChild(
    parent: ActorCell,
    definition: ActorDefinition<Protocol, unknown>,
    options?: SpawnOptions,
  ): AnyActorRef;
  refFor(address: string): AnyActorRef;
  /** Called once when a handler, init or onStop failed. */
  failed(cell: ActorCell, error: unknown, envelope: Envelope | undefined): void;
  /** Called once when the cell reached `stopped`. */
  stopped(cell: ActorCell): void;
  started(cell: ActorCell): void;
}

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/** @internal One running actor. The system creates cells; users only ever see refs. */
export class ActorCell {
  readonly address: string;
  readonly path: string;
  readonly name: string;
  readonly definition: ActorDefinition<Protocol, unknown>;
  readonly parent: ActorCell | undefined;
  readonly children = new Map<string, ActorCell>();
  /** Set by the system right after construction. */
  ref!: AnyActorRef;
  status: ActorStatus = 'starting';
  processed = 0;
  lastError: unknown;

  state: unknown;
  readonly #host: CellHost;
  readonly #mailbox = new Deque<Envelope>();
  readonly #throughput: number;
  readonly #stashCapacity: number;
  #stash: Envelope[] = [];
  #scheduled = false;
  #busy = false;
  #stopRequested = false;
  #stopping: Promise<void> | undefined;
  #current: Envelope | undefined;
  #replied = true;
  #stashedCurrent = false;
  #childSeq = 0;
  readonly #lifetime = new AbortController();
  readonly #timers: TimerScheduler;
  readonly #ctx: ActorContext<Protocol, unknown>;
  readonly #whenStopped: Promise<void>;
  #resolveStopped!: () => void;

  constructor(
    host: CellHost,
    definition: ActorDefinition<Protocol, unknown>,
    address: string,
    path: string,
    name: string,
    parent: ActorCell | undefined,
  ) {
    this.#host = host;
    this.definition = definition;
    this.address = address;
    this.path = path;
    this.name = name;
    this.parent = parent;
    this.#throughput = definition.throughput ?? host.defaultThroughput;
    this.#stashCapacity = definition.stashCapacity ?? 1000;
    this.#timers = new TimerScheduler(host.clock, (message) => this.enqueue(this.#selfEnvelope(message)));
    this.#whenStopped = new Promise((resolve) => {
      this.#resolveStopped = resolve;
    });
    this.#ctx = this.#makeContext();
  }

  /** Messages waiting in the mailbox (not counting stashed ones). */
  get mailboxDepth(): number {
    return this.#mailbox.length;
  }

  /** True when nothing is queued and no handler runs. */
  get idle(): boolean {
    return this.#mailbox.length === 0 && !this.#busy && !this.#scheduled;
  }

  /** Resolves when the cell has stopped. */
  whenStopped(): Promise<void> {
    return this.#whenStopped;
  }

  /** Runs `init` (sync or async), then starts taking messages. Messages sent meanwhile wait in order. */
  start(): void {
    const init = this.definition.init;
    if (!init) {
      this.#markRunning();
      return;
    }
    this.#busy = true;
    let result: unknown;
    try {
      result = init(this.#ctx);
    } catch (err) {
      this.#busy = false;
      this.#fail(err, undefined);
      return;
    }
    if (isPromiseLike(result)) {
      result.then(
        (state) => {
          this.#busy = false;
          this.state = state;
          this.#markRunning();
        },
        (err: unknown) => {
          this.#busy = false;
          this.#fail(err, undefined);
        },
      );
    } else {
      this.#busy = false;
      this.state = result;
      this.#markRunning();
    }
  }

  /** Accepts an envelope for this actor. Never throws. */
  enqueue(envelope: Envelope): void {
    if (this.status === 'stopped') {
      this.#host.undeliverable(envelope, ErrorCode.ActorStopped);
      return;
    }
    this.#mailbox.push(envelope);
    if (!this.#scheduled && !this.#busy && this.status === 'running') {
      this.#scheduled = true;
      queueMicrotask(this.#run);
    }
  }

  /** Asks the actor to stop after the message it is handling; resolves once stopped. */
  requestStop(): Promise<void> {
    if (this.status === 'stopped' || this.#stopping !== undefined) return this.#whenStopped;
    this.#stopRequested = true;
    if (!this.#busy) this.#stop();
    return this.#whenStopped;
  }

  /** Stops now: aborts the running handler's signal and does not wait for it. */
  terminate(): Promise<void> {
    this.#lifetime.abort(new TroupeError(ErrorCode.ActorStopped, `${this.address} terminated`));
    this.#busy = false;
    this.#stop();
    return this.#whenStopped;
  }

  #markRunning(): void {
    if (this.#stopRequested) {
      this.#stop();
      return;
    }
    this.status = 'running';
    this.#host.started(this);
    if (this.#mailbox.length > 0) this.#schedule(false);
  }

  #schedule(yieldToIo: boolean): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    // After a full turn, yield with setImmediate so timers and sockets get their share; otherwise a microtask.
    if (yieldToIo) setImmediate(this.#run);
    else queueMicrotask(this.#run);
  }

  readonly #run = (): void => {
    this.#scheduled = false;
    if (this.#busy || this.status !== 'running') return;
    let budget = this.#throughput;
    for (;;) {
      if (this.#stopRequested) {
        this.#stop();
        return;
      }
      if (budget-- === 0) {
        if (this.#mailbox.length > 0) this.#schedule(true);
        return;
      }
      const envelope = this.#mailbox.shift();
      if (envelope === undefined) return;
      const pending = this.#invoke(envelope);
      if (pending !== undefined) {
        this.#busy = true;
        pending.then(this.#resume, this.#resume);
        return;
      }
      if (this.status !== 'running') return;
    }
  };

  readonly #resume = (): void => {
    this.#busy = false;
    if (this.status === 'running') this.#run();
    else if (this.#stopRequested && this.status !== 'stopped') this.#stop();
  };

  /** Handles one envelope; returns a promise when the handler went async. Never throws. */
  #invoke(envelope: Envelope): PromiseLike<void> | undefined {
    const host = this.#host;
    if (envelope.deadline !== undefined && envelope.deadline < host.clock.now()) {
      host.undeliverable(envelope, ErrorCode.Expired);
      return undefined;
    }
    const message = envelope.payload as { type?: unknown } | null;
    const type = typeof message === 'object' && message !== null ? message.type : undefined;
    if (typeof type !== 'string') {
      host.undeliverable(
        envelope,
        ErrorCode.InvalidMessage,
        new TroupeError(ErrorCode.InvalidMessage, 'message must be an object with a string `type`'),
      );
      return undefined;
    }
    const handler = (this.definition.handlers as Record<string, Function | undefined>)[type];
    if (handler === undefined) {
      host.undeliverable(
        envelope,
        ErrorCode.Unhandled,
        new TroupeError(
          ErrorCode.Unhandled,
          `${this.definition.type} at ${this.address} has no handler for "${type}"`,
        ),
      );
      return undefined;
    }
    this.#current = envelope;
    this.#replied = envelope.replyTo === undefined;
    this.#stashedCurrent = false;
    let result: unknown;
    try {
      result = handler(message, this.#ctx);
    } catch (err) {
      this.#fail(err, envelope);
      return undefined;
    }
    if (isPromiseLike(result)) {
      return result.then(
        (value) => this.#complete(envelope, value),
        (err: unknown) => this.#fail(err, envelope),
      );
    }
    this.#complete(envelope, result);
    return undefined;
  }

  #complete(envelope: Envelope, value: unknown): void {
    this.processed++;
    if (this.#current === envelope) this.#current = undefined;
    if (this.#replied || this.#stashedCurrent) return;
    this.#replied = true;
    if (value !== undefined) this.#host.reply(envelope, value, false);
    else {
      this.#host.reply(
        envelope,
        TroupeError.toWire(
          new TroupeError(
            ErrorCode.NoReply,
            `${this.definition.type} at ${this.address} handled "${(envelope.payload as { type: string }).type}" without replying`,
          ),
        ),
        true,
      );
    }
  }

  #fail(error: unknown, envelope: Envelope | undefined): void {
    this.lastError = error;
    if (envelope) {
      this.processed++;
      if (this.#current === envelope) this.#current = undefined;
      const crash = new TroupeError(
        ErrorCode.ActorCrashed,
        `${this.definition.type} at ${this.address} crashed: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
      if (!this.#replied) {
        this.#replied = true;
        this.#host.reply(envelope, TroupeError.toWire(crash), true);
        // The asker has its answer; the dead letter must not answer a second time.
        this.#host.undeliverable({ ...envelope, replyTo: undefined }, ErrorCode.ActorCrashed, error);
      } else {
        this.#host.undeliverable(envelope, ErrorCode.ActorCrashed, error);
      }
    }
    this.#host.failed(this, error, envelope);
    // Without a supervisor that decides otherwise, a crashed actor stops (its mail goes to dead letters).
    this.#stopRequested = true;
    if (!this.#busy) this.#stop();
  }

  #stop(): void {
    if (this.#stopping !== undefined || this.status === 'stopped') return;
    this.status = 'stopping';
    this.#stopping = this.#runStop();
  }

  async #runStop(): Promise<void> {
    this.#timers.cancelAll();
    await Promise.all([...this.children.values()].map((child) => child.requestStop()));
    if (this.definition.onStop) {
      try {
        await this.definition.onStop(this.#ctx);
      } catch (err) {
        this.lastError = err;
        this.#host.failed(this, err, undefined);
      }
    }
    if (!this.#lifetime.signal.aborted) {
      this.#lifetime.abort(new TroupeError(ErrorCode.ActorStopped, `${this.address} stopped`));
    }
    this.status = 'stopped';
    for (const envelope of this.#stash) this.#host.undeliverable(envelope, ErrorCode.ActorStopped);
    this.#stash = [];
    for (let env = this.#mailbox.shift(); env !== undefined; env = this.#mailbox.shift()) {
      this.#host.undeliverable(env, ErrorCode.ActorStopped);
    }
    this.#host.stopped(this);
    this.#resolveStopped();
  }

  #selfEnvelope(message: unknown): Envelope {
    return {
      kind: EnvelopeKind.User,
      target: this.address,
      sender: this.address,
      correlationId: undefined,
      replyTo: undefined,
      deadline: undefined,
      headers: undefined,
      payload: message,
    };
  }

  #replier(envelope: Envelope): Replier<unknown> {
    let done = false;
    return {
      reply: (value) => {
        if (done) return;
        done = true;
        this.#host.reply(envelope, value, false);
      },
      fail: (error) => {
        if (done) return;
        done = true;
        this.#host.reply(envelope, TroupeError.toWire(error), true);
      },
    };
  }

  #makeContext(): ActorContext<Protocol, unknown> {
    const cell = this;
    const host = this.#host;
    const timers = this.#timers;
    return {
      get self() {
        return cell.ref;
      },
      get state() {
        return cell.state;
      },
      set state(next) {
        cell.state = next;
      },
      get sender() {
        const sender = cell.#current?.sender;
        return sender === undefined ? undefined : host.refFor(sender);
      },
      get headers() {
        return cell.#current?.headers ?? NO_HEADERS;
      },
      get signal() {
        return cell.#lifetime.signal;
      },
      clock: host.clock,
      timers: {
        startSingle: (key, message, delayMs) => timers.startSingle(key, message, delayMs),
        startPeriodic: (key, message, intervalMs) => timers.startPeriodic(key, message, intervalMs),
        cancel: (key) => timers.cancel(key),
        cancelAll: () => timers.cancelAll(),
        isActive: (key) => timers.isActive(key),
      },
      reply(value) {
        const envelope = cell.#current;
        if (!envelope || cell.#replied) return;
        cell.#replied = true;
        host.reply(envelope, value, false);
      },
      fail(error) {
        const envelope = cell.#current;
        if (!envelope || cell.#replied) return;
        cell.#replied = true;
        host.reply(envelope, TroupeError.toWire(error), true);
      },
      forward(target) {
        const envelope = cell.#current;
        if (!envelope) return;
        // The target now owns the reply; this actor must not answer (or report NO_REPLY) as well.
        cell.#replied = true;
        host.forward(envelope, target.address);
      },
      deferReply() {
        const envelope = cell.#current;
        if (!envelope || cell.#replied) return undefined;
        cell.#replied = true;
        return cell.#replier(envelope);
      },
      spawn<CP extends Protocol, CS>(definition: ActorDefinition<CP, CS>, options?: SpawnOptions) {
        return host.spawnChild(
          cell,
          definition as ActorDefinition<Protocol, unknown>,
          options,
        ) as ActorRef<CP>;
      },
      stop(child) {
        if (child === undefined || child.address === cell.address) {
          cell.#stopRequested = true;
          if (!cell.#busy && cell.status === 'running') cell.#schedule(false);
          return;
        }
        for (const c of cell.children.values()) {
          if (c.address === child.address) void c.requestStop();
        }
      },
      stash() {
        const envelope = cell.#current;
        if (!envelope || cell.#stashedCurrent) return;
        if (cell.#stash.length >= cell.#stashCapacity) {
          throw new TroupeError(
            ErrorCode.StashFull,
            `stash of ${cell.address} is full (${cell.#stashCapacity})`,
          );
        }
        cell.#stash.push(envelope);
        cell.#stashedCurrent = true;
      },
      unstashAll() {
        const stashed = cell.#stash;
        cell.#stash = [];
        for (let i = stashed.length - 1; i >= 0; i--) cell.#mailbox.unshift(stashed[i]!);
      },
      refFor<T extends Protocol>(address: string) {
        return host.refFor(address) as ActorRef<T>;
      },
    };
  }

  /** @internal */
  nextChildName(): string {
    return `$${(this.#childSeq++).toString(36)}`;
  }
}
