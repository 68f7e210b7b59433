// The actor cell: one actor's mailbox, state and processing loop, one message at a time, in order.

import type { ActorContext, ActorDefinition, Replier, SpawnOptions } from './actor.js';
import type { Clock, TimerHandle } from './clock.js';
import { Deque } from './deque.js';
import { type Envelope, tellEnvelope } from './envelope.js';
import { ErrorCode, TroupeError } from './errors.js';
import { Mailbox } from './mailbox.js';
import type { Protocol } from './protocol.js';
import type { AnyActorRef } from './ref.js';
import {
  type ActorStatus,
  type ChildExit,
  type ChildFailure,
  type ChildHandle,
  type Children,
  DEFAULT_MAX_ATTEMPTS,
  type Decider,
  type Directive,
  type ExitReason,
  type FailurePhase,
  type OverflowPolicy,
  type Persistence,
  type RestartTracker,
  type SupervisorHooks,
} from './supervision.js';
import { type AnyTaskDefinition, runTaskFor, type TaskRunner } from './task.js';
import { TimerScheduler } from './timers.js';

export type { ActorStatus } from './supervision.js';

/** Lifecycle moments a cell reports besides started, failed and stopped. */
export type CellEvent = 'paused' | 'resumed' | 'restarting' | 'restarted';

/** @internal What a cell needs from the system that hosts it. */
export interface CellHost {
  readonly clock: Clock;
  readonly defaultThroughput: number;
  /** Runs `ctx.runTask`; undefined when the system has none. */
  readonly tasks: TaskRunner | undefined;
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
  /** Called when a handler, init, watchdog or onStop failed. */
  failed(cell: ActorCell, error: unknown, envelope: Envelope | undefined): void;
  /**
   * Called once when the cell reached `stopped`, with the durable mail (from a store that redelivers) it
   * did not handle, oldest first.
   */
  stopped(cell: ActorCell, unhandled: Envelope[]): void;
  started(cell: ActorCell): void;
  /** Pause, resume and restart moments; `reason` is the error behind a restart. */
  event(cell: ActorCell, type: CellEvent, reason?: unknown): void;
}

/** Something for the cell's own loop rather than its handlers: a child's failure or exit, as data. */
type Signal = { kind: 'failed'; failure: ChildFailure } | { kind: 'exited'; exit: ChildExit };

type AnyContext = ActorContext<Protocol, unknown>;

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/** What {@link callHandler} returns when the handler threw; the error waits in `thrown`. */
const THREW: unique symbol = Symbol('threw');
const thrown: { error: unknown } = { error: undefined };

/**
 * Calls a handler, turning a throw into the `THREW` marker. The try/catch lives here, in a function of its own,
 * so that a crash does not deoptimize the whole processing loop.
 */
function callHandler(handler: Function, message: unknown, ctx: unknown): unknown {
  try {
    return handler(message, ctx);
  } catch (err) {
    thrown.error = err;
    return THREW;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Backoff between tries to save the state after a durable message while the store is unavailable. */
const SAVE_RETRY_MIN_MS = 50;
const SAVE_RETRY_MAX_MS = 1000;

/** A save failure the state itself causes (rather than its store): it counts against the message. */
function causedByState(error: unknown): boolean {
  return (
    TroupeError.is(error, ErrorCode.PayloadTooLarge) ||
    TroupeError.is(error, ErrorCode.InvalidMessage) ||
    TroupeError.is(error, ErrorCode.MalformedFrame)
  );
}

/** What a cell reads from its definition and spawn options; immutable, so actors can share one. */
interface CellConfig {
  /**
   * The definition's own handlers on a null-prototype object: a message type named after an
   * `Object.prototype` member (`constructor`, `toString`, `__proto__`) must find nothing, not a builtin.
   */
  handlers: Record<string, Function | undefined>;
  throughput: number;
  stashCapacity: number;
  capacity: number;
  overflow: OverflowPolicy;
  handlerTimeoutMs: number;
  decider: Decider | undefined;
  maxAttempts: number;
  persistence: Persistence<unknown, AnyContext> | undefined;
  hooks: SupervisorHooks<AnyContext> | undefined;
}

/** Own, function-valued handlers only, on an object with no prototype (see {@link CellConfig.handlers}). */
function ownHandlers(handlers: object): Record<string, Function | undefined> {
  const own: Record<string, Function | undefined> = Object.create(null);
  for (const type of Object.keys(handlers)) {
    const handler = (handlers as Record<string, unknown>)[type];
    if (typeof handler === 'function') own[type] = handler;
  }
  return own;
}

const sharedConfigs = new WeakMap<object, Map<number, CellConfig>>();

/** The config for a definition; shared across actors unless spawn options override part of it. */
function configFor(
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
    stashCapacity: definition.stashCapacity ?? 1000,
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

/** @internal One running actor. The system creates cells; users only ever see refs. */
export class ActorCell {
  readonly address: string;
  readonly path: string;
  readonly name: string;
  readonly definition: ActorDefinition<Protocol, unknown>;
  readonly parent: ActorCell | undefined;
  // Allocated on first use: most actors never have children, and idle actors should cost little memory.
  #children: Map<string, ActorCell> | undefined;
  /** Set by the system right after construction. */
  ref!: AnyActorRef;
  status: ActorStatus = 'starting';
  processed = 0;
  restarts = 0;
  lastError: unknown;

  state: unknown;
  readonly #host: CellHost;
  readonly #mailbox: Mailbox;
  readonly #signals = new Deque<Signal>();
  /** Settings shared by every actor spawned from the same definition without overrides. */
  readonly #config: CellConfig;
  readonly #supervised: boolean;
  readonly #tracker: RestartTracker | undefined;
  #stash: Envelope[] | undefined;
  #scheduled = false;
  #busy = false;
  #paused = false;
  #stopRequested = false;
  #terminated = false;
  #exitReason: ExitReason | undefined;
  #stopping: Promise<void> | undefined;
  #current: Envelope | undefined;
  #replied = true;
  #stashedCurrent = false;
  #childSeq = 0;
  /** Bumped whenever the running instance or handler is abandoned: late completions of the old one are ignored. */
  #epoch = 0;
  #watchdog: TimerHandle | undefined;
  /** The message that failed last and was put back for a retry, and how often it has failed. */
  #retrying: Envelope | undefined;
  #retryCount = 0;
  /** A supervisor was told of a failure and has not decided yet. */
  #awaitingDecision = false;
  #restarting = false;
  #initFailures = 0;
  #pendingRestart: { delayMs: number; reason: unknown } | undefined;
  #wakeRestart: (() => void) | undefined;
  #handle: ChildHandle | undefined;
  #childrenView: Children | undefined;
  #lifetime: AbortController | undefined;
  #timerScheduler: TimerScheduler | undefined;
  #context: AnyContext | undefined;
  #whenStoppedPromise: Promise<void> | undefined;
  #resolveStopped: (() => void) | undefined;

  constructor(
    host: CellHost,
    definition: ActorDefinition<Protocol, unknown>,
    address: string,
    path: string,
    name: string,
    parent: ActorCell | undefined,
    options?: SpawnOptions,
  ) {
    this.#host = host;
    this.definition = definition;
    this.address = address;
    this.path = path;
    this.name = name;
    this.parent = parent;
    this.#config = configFor(definition, options, host.defaultThroughput);
    this.#mailbox = new Mailbox(address);
    const supervision = options?.supervision ?? definition.supervision;
    this.#supervised = supervision !== undefined || parent?.definition.supervises !== undefined;
    this.#tracker = supervision?.restart?.tracker();
  }

  get #throughput(): number {
    return this.#config.throughput;
  }
  get #stashCapacity(): number {
    return this.#config.stashCapacity;
  }
  get #capacity(): number {
    return this.#config.capacity;
  }
  get #overflow(): OverflowPolicy {
    return this.#config.overflow;
  }
  get #handlerTimeoutMs(): number {
    return this.#config.handlerTimeoutMs;
  }
  get #decider(): Decider | undefined {
    return this.#config.decider;
  }
  get #maxAttempts(): number {
    return this.#config.maxAttempts;
  }
  get #persistence(): Persistence<unknown, AnyContext> | undefined {
    return this.#config.persistence;
  }
  get #hooks(): SupervisorHooks<AnyContext> | undefined {
    return this.#config.hooks;
  }

  /** Live children by name. */
  get children(): Map<string, ActorCell> {
    this.#children ??= new Map();
    return this.#children;
  }

  get #timers(): TimerScheduler {
    this.#timerScheduler ??= new TimerScheduler(this.#host.clock, (message) =>
      this.enqueue(this.#selfEnvelope(message)),
    );
    return this.#timerScheduler;
  }

  get #ctx(): AnyContext {
    this.#context ??= this.#makeContext();
    return this.#context;
  }

  /** The signal of the running instance; aborted on stop, terminate and restart. */
  #abortSignal(): AbortSignal {
    if (this.#lifetime === undefined) {
      this.#lifetime = new AbortController();
      if (this.status === 'stopped')
        this.#lifetime.abort(new TroupeError(ErrorCode.ActorStopped, `${this.address} stopped`));
    }
    return this.#lifetime.signal;
  }

  /** Messages waiting in the mailbox (not counting stashed ones). */
  get mailboxDepth(): number {
    return this.#mailbox.length;
  }

  /** True when nothing is queued and no handler runs. */
  get idle(): boolean {
    return this.#mailbox.length === 0 && this.#signals.length === 0 && !this.#busy && !this.#scheduled;
  }

  /** True while paused by lifecycle control (a paused actor may still be restarting). */
  get paused(): boolean {
    return this.#paused;
  }

  /** True when this actor supervises its children. */
  get isSupervisor(): boolean {
    return this.#hooks !== undefined;
  }

  /** Resolves when the cell has stopped. */
  whenStopped(): Promise<void> {
    if (this.#whenStoppedPromise === undefined) {
      this.#whenStoppedPromise =
        this.status === 'stopped'
          ? Promise.resolve()
          : new Promise((resolve) => {
              this.#resolveStopped = resolve;
            });
    }
    return this.#whenStoppedPromise;
  }

  /** Runs `init` (sync or async), then starts taking messages. Messages sent meanwhile wait in order. */
  start(): void {
    this.#initialize(false, undefined);
  }

  /** Accepts a plain tell (no sender, no headers) without building its envelope. Never throws. */
  enqueueTell(message: unknown): void {
    if (this.status === 'stopped' || this.#mailbox.length >= this.#capacity) {
      this.enqueue(tellEnvelope(this.address, message));
      return;
    }
    this.#mailbox.pushTell(message);
    if (!this.#scheduled && !this.#busy && this.status === 'running') {
      this.#scheduled = true;
      queueMicrotask(this.#run);
    }
  }

  /** Accepts an envelope for this actor. Never throws. */
  enqueue(envelope: Envelope): void {
    if (this.status === 'stopped') {
      this.#host.undeliverable(envelope, ErrorCode.ActorStopped);
      return;
    }
    if (this.#mailbox.length >= this.#capacity && !this.#makeRoom(envelope)) return;
    this.#mailbox.push(envelope);
    if (!this.#scheduled && !this.#busy && this.status === 'running') {
      this.#scheduled = true;
      queueMicrotask(this.#run);
    }
  }

  /** Asks the actor to stop after the message it is handling; resolves once stopped. */
  requestStop(): Promise<void> {
    if (this.status === 'stopped' || this.#stopping !== undefined) return this.whenStopped();
    this.#stopRequested = true;
    this.#exitReason ??= 'stopped';
    this.#wakeRestart?.();
    if (!this.#busy) this.#stop();
    return this.whenStopped();
  }

  /** Stops now: aborts the running handler's signal and does not wait for it; children are terminated too. */
  terminate(): Promise<void> {
    if (this.status === 'stopped') return this.whenStopped();
    this.#terminated = true;
    this.#stopRequested = true;
    this.#exitReason ??= 'stopped';
    this.#epoch++;
    this.#clearWatchdog();
    const error = new TroupeError(ErrorCode.ActorStopped, `${this.address} terminated`);
    this.#lifetime?.abort(error);
    const current = this.#current;
    if (current !== undefined && this.#busy) {
      this.#current = undefined;
      if (!this.#replied && !this.#stashedCurrent) {
        this.#replied = true;
        this.#host.reply(current, TroupeError.toWire(error), true);
      }
    }
    this.#busy = false;
    this.#restarting = false;
    this.#pendingRestart = undefined;
    this.#wakeRestart?.();
    if (this.#children) for (const child of this.#children.values()) void child.terminate();
    this.#stop();
    return this.whenStopped();
  }

  /** Stops taking messages; they keep queueing in order. The running handler, if any, finishes. */
  pause(): void {
    if (this.#paused || this.status === 'stopping' || this.status === 'stopped') return;
    this.#paused = true;
    if (this.status === 'running') this.status = 'paused';
    this.#host.event(this, 'paused');
  }

  /** Takes messages again, starting with those that queued while paused. */
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    if (this.status === 'paused') {
      this.status = 'running';
      if (this.#mailbox.length > 0 || this.#signals.length > 0) this.#schedule(false);
    }
    this.#host.event(this, 'resumed');
  }

  /**
   * Restarts this actor: the current message finishes, children stop, `onStop` runs, then after `delayMs`
   * `init` runs again on the same address and mailbox. Ignored while stopping or already restarting.
   */
  restart(delayMs: number, reason: unknown): void {
    if (this.#stopRequested || this.status === 'stopping' || this.status === 'stopped') return;
    if (this.#restarting || this.#pendingRestart !== undefined) return;
    this.#awaitingDecision = false;
    this.status = 'restarting';
    this.#host.event(this, 'restarting', reason);
    if (this.#busy) {
      this.#pendingRestart = { delayMs, reason };
      return;
    }
    void this.#runRestart(delayMs, reason);
  }

  /** Lets a failed actor that awaits its supervisor's decision go on with its state. */
  continueAfterFailure(): void {
    if (!this.#awaitingDecision || this.status !== 'restarting') return;
    this.#awaitingDecision = false;
    this.status = this.#paused ? 'paused' : 'running';
    if (!this.#busy && (this.#mailbox.length > 0 || this.#signals.length > 0)) this.#schedule(false);
  }

  /** This cell as its supervisor controls it. */
  get handle(): ChildHandle {
    if (this.#handle !== undefined) return this.#handle;
    const cell = this;
    this.#handle = {
      name: cell.name,
      get ref() {
        return cell.ref;
      },
      get status() {
        return cell.status;
      },
      get restarts() {
        return cell.restarts;
      },
      restart: (delayMs, reason) => cell.restart(delayMs, reason),
      resume: () => cell.continueAfterFailure(),
      stop: () => cell.requestStop(),
      terminate: () => cell.terminate(),
    };
    return this.#handle;
  }

  #childrenOf(): Children {
    if (this.#childrenView !== undefined) return this.#childrenView;
    const children = this.children;
    this.#childrenView = {
      get: (name) => children.get(name)?.handle,
      list: () => [...children.values()].map((c) => c.handle),
    };
    return this.#childrenView;
  }

  /** A signal for this cell's own loop (from a child); processed between messages, also while paused. */
  #signal(signal: Signal): void {
    if (this.status === 'stopped' || this.status === 'stopping') return;
    this.#signals.push(signal);
    if (!this.#busy && (this.status === 'running' || this.status === 'paused')) this.#schedule(false);
  }

  #initialize(restarted: boolean, reason: unknown): void {
    this.#busy = true;
    // Signals that came in while restarting were about the old instance's children.
    if (restarted) this.#signals.drainAll();
    const epoch = this.#epoch;
    let result: unknown;
    try {
      result = this.definition.init?.(this.#ctx);
    } catch (err) {
      this.#initFailed(epoch, err);
      return;
    }
    const persistence = this.#persistence;
    if (!isPromiseLike(result) && persistence === undefined) {
      this.#initDone(epoch, result, restarted, reason);
      return;
    }
    const load = async (): Promise<unknown> => {
      let state = await result;
      if (persistence !== undefined) {
        this.state = state;
        const loaded = await persistence.load(this.#ctx);
        if (loaded !== undefined) state = loaded;
      }
      return state;
    };
    void load().then(
      (state) => this.#initDone(epoch, state, restarted, reason),
      (err: unknown) => this.#initFailed(epoch, err),
    );
  }

  #initDone(epoch: number, state: unknown, restarted: boolean, reason: unknown): void {
    if (epoch !== this.#epoch) return;
    this.#busy = false;
    this.#initFailures = 0;
    this.state = state;
    if (this.#stopRequested) {
      this.#stop();
      return;
    }
    this.status = this.#paused ? 'paused' : 'running';
    if (restarted) this.#host.event(this, 'restarted', reason);
    else this.#host.started(this);
    if (this.#mailbox.length > 0 || this.#signals.length > 0) this.#schedule(false);
  }

  #initFailed(epoch: number, error: unknown): void {
    if (epoch !== this.#epoch) return;
    this.#busy = false;
    this.#initFailures++;
    this.#fail(error, undefined, 'init');
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
    if (this.#busy) return;
    if (this.#signals.length !== 0) this.#processSignals();
    if (this.#busy || this.status !== 'running') {
      if (this.#stopRequested && !this.#busy) this.#stop();
      return;
    }
    let budget = this.#throughput;
    for (;;) {
      if (this.#stopRequested) {
        this.#stop();
        return;
      }
      if (budget-- === 0) {
        if (this.#mailbox.length > 0 || this.#signals.length > 0) this.#schedule(true);
        return;
      }
      if (this.#signals.length !== 0) {
        this.#processSignals();
        if (this.#busy || this.status !== 'running') return;
      }
      const envelope = this.#mailbox.shift();
      if (envelope === undefined) return;
      if (this.#invoke(envelope)) {
        this.#busy = true;
        return;
      }
      if (this.status !== 'running') return;
    }
  };

  /** Called when the async work that kept the cell busy is over. */
  #resume(): void {
    this.#busy = false;
    const restart = this.#pendingRestart;
    if (restart !== undefined && !this.#stopRequested) {
      this.#pendingRestart = undefined;
      void this.#runRestart(restart.delayMs, restart.reason);
      return;
    }
    if (this.#stopRequested) {
      if (this.status !== 'stopped') this.#stop();
      return;
    }
    if (this.status === 'running') this.#run();
    else if (this.#signals.length > 0 && this.status === 'paused') this.#schedule(false);
  }

  #processSignals(): void {
    const hooks = this.#hooks;
    for (let signal = this.#signals.shift(); signal !== undefined; signal = this.#signals.shift()) {
      if (hooks === undefined) continue;
      try {
        if (signal.kind === 'failed') hooks.childFailed(signal.failure, this.#ctx, this.#childrenOf());
        else hooks.childExited(signal.exit, this.#ctx, this.#childrenOf());
      } catch (err) {
        // A supervisor that cannot cope (intensity exceeded, an escalation) fails in turn.
        this.#fail(err, undefined, 'supervision');
        return;
      }
      if (this.status !== 'running' && this.status !== 'paused') return;
    }
  }

  /** Handles one envelope; returns true when the handler went async (it resumes the loop itself). Never throws. */
  #invoke(envelope: Envelope): boolean {
    const host = this.#host;
    if (envelope.deadline !== undefined && envelope.deadline < host.clock.now()) {
      host.undeliverable(envelope, ErrorCode.Expired);
      return false;
    }
    const message = envelope.payload as { type?: unknown } | null;
    const type = typeof message === 'object' && message !== null ? message.type : undefined;
    if (typeof type !== 'string') {
      host.undeliverable(
        envelope,
        ErrorCode.InvalidMessage,
        new TroupeError(ErrorCode.InvalidMessage, 'message must be an object with a string `type`'),
      );
      return false;
    }
    const handler = this.#config.handlers[type];
    if (handler === undefined) {
      host.undeliverable(
        envelope,
        ErrorCode.Unhandled,
        new TroupeError(
          ErrorCode.Unhandled,
          `${this.definition.type} at ${this.address} has no handler for "${type}"`,
        ),
      );
      return false;
    }
    this.#current = envelope;
    this.#replied = envelope.replyTo === undefined;
    this.#stashedCurrent = false;
    const result = callHandler(handler, message, this.#ctx);
    if (result === THREW) {
      const err = thrown.error;
      thrown.error = undefined;
      this.#fail(err, envelope, 'handler');
      return false;
    }
    if (isPromiseLike(result)) {
      const epoch = this.#epoch;
      if (this.#handlerTimeoutMs > 0) this.#armWatchdog(envelope, epoch);
      void result.then(
        (value) => {
          if (epoch === this.#epoch) this.#settle(envelope, value, undefined, false);
        },
        (err: unknown) => {
          if (epoch === this.#epoch) this.#settle(envelope, undefined, err, true);
        },
      );
      return true;
    }
    this.#complete(envelope, result);
    if (this.#persistence?.save !== undefined) return this.#save(envelope);
    return false;
  }

  /** The end of an async handler: record the outcome, then let the loop go on. */
  #settle(envelope: Envelope, value: unknown, error: unknown, failed: boolean): void {
    this.#clearWatchdog();
    if (failed) this.#fail(error, envelope, 'handler');
    else {
      this.#complete(envelope, value);
      // When saving went async, it resumes the loop itself.
      if (this.#persistence?.save !== undefined && this.#save(envelope)) return;
    }
    this.#resume();
  }

  /**
   * Saves the state after `envelope` was handled; returns true when saving went async (it resumes the loop
   * itself). A durable message is acknowledged only once its effect is saved: acknowledged first, a crash in
   * between would lose it. If saving fails it is offered again (see {@link #saveFailed}).
   */
  #save(envelope: Envelope): boolean {
    return this.#trySave(envelope, 0);
  }

  /** One attempt at saving the state after `envelope`; `attempt` counts the store's failures so far. */
  #trySave(envelope: Envelope, attempt: number): boolean {
    const delivery = this.#stashedCurrent ? undefined : envelope.delivery;
    let result: unknown;
    try {
      result = this.#persistence!.save!(this.state, this.#ctx);
    } catch (err) {
      return this.#saveFailed(envelope, err, attempt);
    }
    if (!isPromiseLike(result)) {
      delivery?.ack();
      return false;
    }
    const epoch = this.#epoch;
    this.#busy = true;
    void result.then(
      () => {
        delivery?.ack();
        if (epoch === this.#epoch) this.#resume();
      },
      (err: unknown) => {
        if (epoch !== this.#epoch) {
          delivery?.nak();
          return;
        }
        if (!this.#saveFailed(envelope, err, attempt)) this.#resume();
      },
    );
    return true;
  }

  #armWatchdog(envelope: Envelope, epoch: number): void {
    this.#watchdog = this.#host.clock.setTimeout(() => {
      this.#watchdog = undefined;
      if (epoch !== this.#epoch || this.#current !== envelope) return;
      // Abandon the running handler: its late outcome is ignored, its signal tells it to give up.
      this.#epoch++;
      const error = new TroupeError(
        ErrorCode.HandlerTimeout,
        `${this.definition.type} at ${this.address} ran past its ${this.#handlerTimeoutMs} ms deadline on "${(envelope.payload as { type: string }).type}"`,
      );
      this.#lifetime?.abort(error);
      this.#lifetime = undefined;
      this.#fail(error, envelope, 'timeout');
      this.#resume();
    }, this.#handlerTimeoutMs);
  }

  #clearWatchdog(): void {
    if (this.#watchdog === undefined) return;
    this.#host.clock.clearTimeout(this.#watchdog);
    this.#watchdog = undefined;
  }

  /** A full mailbox meets one more message: true when it may go in (room was made), false when refused. */
  #makeRoom(envelope: Envelope): boolean {
    const error = new TroupeError(
      ErrorCode.MailboxFull,
      `mailbox of ${this.address} is full (${this.#capacity}, ${this.#overflow})`,
    );
    if (this.#overflow === 'drop-oldest') {
      const oldest = this.#mailbox.shift();
      if (oldest !== undefined) this.#host.undeliverable(oldest, ErrorCode.MailboxFull, error);
      return true;
    }
    this.#host.undeliverable(envelope, ErrorCode.MailboxFull, error);
    return false;
  }

  /**
   * The state after `envelope` could not be saved; returns true when the cell stays busy retrying (it resumes
   * the loop itself).
   *
   * A durable message (from a store that redelivers) is never given up because of its store: an outage of
   * NATS or KV is no fault of the message, so it neither counts as an attempt nor ends as a dead letter (which
   * would acknowledge it). The actor keeps its state, the message stays current and nothing newer runs; the
   * save is tried again with backoff until the store answers, then the message is acknowledged. If the
   * actor is stopping meanwhile, the message leads the mail handed on, and the next activation loads the
   * saved state and handles it again. Only a failure the state itself causes (too large, not encodable:
   * `PAYLOAD_TOO_LARGE`, `INVALID_MESSAGE`, `MALFORMED_FRAME`) counts against the message.
   *
   * Anything else is like a crash of its handler: with supervision the actor restarts from the saved state
   * and handles the message again before anything newer (its asker already has the reply, so the retry
   * answers no one); without, it stops and the message is a dead letter.
   */
  #saveFailed(envelope: Envelope, error: unknown, attempt: number): boolean {
    if (this.#stashedCurrent) {
      // Stashed, so not handled: it comes back with unstash; only the failure is reported.
      this.lastError = error;
      this.#host.failed(this, error, undefined);
      return false;
    }
    const delivery = envelope.delivery;
    if (delivery !== undefined && !causedByState(error)) {
      // Reported once per outage, not once per try: a store down for a minute must not flood observers.
      if (attempt === 0) {
        this.lastError = error;
        this.#host.failed(this, error, undefined);
      }
      if (this.#stopRequested) {
        this.#mailbox.unshift(envelope);
        return false;
      }
      this.#busy = true;
      const epoch = this.#epoch;
      this.#host.clock.setTimeout(
        () => {
          if (epoch !== this.#epoch) {
            // Terminated meanwhile: the store offers it again.
            delivery.nak();
            return;
          }
          if (this.#stopRequested) {
            this.#mailbox.unshift(envelope);
            this.#resume();
            return;
          }
          if (!this.#trySave(envelope, attempt + 1)) this.#resume();
        },
        Math.min(SAVE_RETRY_MIN_MS * 2 ** Math.min(attempt, 10), SAVE_RETRY_MAX_MS),
      );
      return true;
    }
    const again = envelope.replyTo === undefined ? envelope : { ...envelope, replyTo: undefined };
    this.#fail(error, again, 'persistence');
    return false;
  }

  #complete(envelope: Envelope, value: unknown): void {
    this.processed++;
    // With persistence the message is acknowledged once its effect is saved (see #save).
    if (!this.#stashedCurrent && this.#persistence?.save === undefined) envelope.delivery?.ack();
    if (this.#retrying === envelope) {
      this.#retrying = undefined;
      this.#retryCount = 0;
    }
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

  /** The message failed for good: the asker gets `ACTOR_CRASHED`, the message becomes a dead letter. */
  #deadLetterCrash(envelope: Envelope, error: unknown): void {
    this.processed++;
    const crash = new TroupeError(
      ErrorCode.ActorCrashed,
      `${this.definition.type} at ${this.address} crashed: ${messageOf(error)}`,
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

  #fail(error: unknown, envelope: Envelope | undefined, phase: FailurePhase): void {
    this.lastError = error;
    this.#clearWatchdog();
    if (envelope !== undefined && this.#current === envelope) this.#current = undefined;
    this.#host.failed(this, error, envelope);
    if (!this.#supervised || this.#stopRequested) {
      if (envelope !== undefined && phase === 'persistence' && this.#stopRequested && envelope.delivery) {
        // Stopping anyway (passivation, a shard move, a stop): a durable message whose effect was not
        // saved is not done with. It leads the mail handed on to the next activation (or the next owner).
        this.#mailbox.unshift(envelope);
      } else if (envelope !== undefined) {
        // Without supervision, a crashed actor stops (its mail goes to dead letters).
        this.#deadLetterCrash(envelope, error);
      }
      this.#exitReason ??= 'failed';
      this.#stopRequested = true;
      if (!this.#busy) this.#stop();
      return;
    }
    const attempts = envelope === undefined ? 0 : this.#retrying === envelope ? this.#retryCount + 1 : 1;
    let directive: Directive = 'restart';
    if (this.#decider !== undefined) {
      try {
        directive = this.#decider(error, { error, phase, message: envelope?.payload, attempts });
      } catch {
        directive = 'escalate';
      }
    }
    // After a failed save the state in memory holds an effect the store lacks: resuming would apply the
    // retried message twice, so only a restart (which reloads the saved state) will do.
    if (phase === 'persistence' && directive === 'resume') directive = 'restart';
    if (envelope !== undefined) {
      if (directive === 'stop' || attempts >= this.#maxAttempts) {
        this.#retrying = undefined;
        this.#retryCount = 0;
        this.#deadLetterCrash(envelope, error);
      } else {
        // Retried first thing by the next instance (or this one, on resume): nothing behind it overtakes it.
        this.#retrying = envelope;
        this.#retryCount = attempts;
        this.#mailbox.unshift(envelope);
      }
    }
    if (directive === 'resume') return;
    if (directive === 'stop') {
      this.#exitReason ??= 'stopped';
      this.#stopRequested = true;
      if (!this.#busy) this.#stop();
      return;
    }
    const parent = this.parent;
    if (parent !== undefined && parent.#hooks !== undefined) {
      this.status = 'restarting';
      this.#awaitingDecision = true;
      parent.#signal({
        kind: 'failed',
        failure: { child: this.handle, error, phase, directive },
      });
      return;
    }
    const tracker = this.#tracker;
    let delay: number | undefined;
    if (directive === 'restart') delay = tracker === undefined ? 0 : tracker.next(this.#host.clock.now());
    if (delay === undefined) {
      if (directive === 'restart') {
        this.lastError = new TroupeError(
          ErrorCode.RestartLimit,
          `${this.definition.type} at ${this.address} gave up after ${this.restarts} restarts: ${messageOf(error)}`,
          { cause: error },
        );
      }
      this.#exitReason ??= 'failed';
      this.#stopRequested = true;
      if (!this.#busy) this.#stop();
      return;
    }
    this.restart(delay, error);
  }

  async #runRestart(delayMs: number, reason: unknown): Promise<void> {
    this.#restarting = true;
    this.#busy = true;
    const epoch = ++this.#epoch;
    this.#clearWatchdog();
    this.#timerScheduler?.cancelAll();
    // Signals were about the old instance's children, which are going away.
    while (this.#signals.shift() !== undefined) {}
    // Stashed mail goes back in front, in order: the new instance sees it first.
    const stash = this.#stash ?? [];
    for (let i = stash.length - 1; i >= 0; i--) this.#mailbox.unshift(stash[i]!);
    this.#stash = undefined;
    const gone = (): boolean => epoch !== this.#epoch || this.#stopRequested;
    // The old instance: its children stop, its cleanup runs, its signal aborts.
    await this.#stopChildren();
    if (!gone() && this.definition.onStop) {
      try {
        await this.definition.onStop(this.#ctx);
      } catch (err) {
        this.#host.failed(this, err, undefined);
      }
    }
    if (this.#lifetime && !this.#lifetime.signal.aborted) {
      this.#lifetime.abort(new TroupeError(ErrorCode.ActorStopped, `${this.address} restarting`));
    }
    this.#lifetime = undefined;
    // An init that keeps failing must not spin in microtasks: give the event loop a turn between attempts.
    if (!gone() && delayMs <= 0 && this.#initFailures > 0)
      await new Promise((resolve) => setImmediate(resolve));
    if (!gone() && delayMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = this.#host.clock.setTimeout(() => {
          this.#wakeRestart = undefined;
          resolve();
        }, delayMs);
        this.#wakeRestart = () => {
          this.#wakeRestart = undefined;
          this.#host.clock.clearTimeout(timer);
          resolve();
        };
      });
    }
    this.#restarting = false;
    if (gone()) {
      if (epoch === this.#epoch && this.#stopping === undefined) {
        this.#busy = false;
        this.#stop();
      }
      return;
    }
    this.restarts++;
    this.state = undefined;
    this.#initialize(true, reason);
  }

  async #stopChildren(): Promise<void> {
    if (this.#children === undefined || this.#children.size === 0) return;
    if (this.#hooks?.stopChildren !== undefined && !this.#terminated) {
      try {
        await this.#hooks.stopChildren(this.#ctx, this.#childrenOf());
      } catch (err) {
        this.#host.failed(this, err, undefined);
      }
    }
    await Promise.all(
      [...this.children.values()].map((child) =>
        this.#terminated ? child.terminate() : child.requestStop(),
      ),
    );
  }

  #stop(): void {
    if (this.#stopping !== undefined || this.status === 'stopped') return;
    this.status = 'stopping';
    this.#stopping = this.#runStop();
  }

  async #runStop(): Promise<void> {
    this.#timerScheduler?.cancelAll();
    this.#clearWatchdog();
    await this.#stopChildren();
    if (this.definition.onStop) {
      try {
        await this.definition.onStop(this.#ctx);
      } catch (err) {
        this.lastError = err;
        this.#host.failed(this, err, undefined);
      }
    }
    if (this.#lifetime && !this.#lifetime.signal.aborted) {
      this.#lifetime.abort(new TroupeError(ErrorCode.ActorStopped, `${this.address} stopped`));
    }
    this.status = 'stopped';
    // Durable mail not handled yet goes back to the host in order (stashed first, as it came first): it must
    // reach the next activation before anything newer, which a redelivery by the store would not promise.
    const unhandled: Envelope[] = [];
    for (const envelope of this.#stash ?? []) {
      if (envelope.delivery !== undefined) unhandled.push(envelope);
      else this.#host.undeliverable(envelope, ErrorCode.ActorStopped);
    }
    this.#stash = undefined;
    for (let env = this.#mailbox.shift(); env !== undefined; env = this.#mailbox.shift()) {
      if (env.delivery !== undefined && env !== this.#retrying) {
        unhandled.push(env);
        continue;
      }
      // The message that crashed the actor keeps its error in the dead letter.
      if (env === this.#retrying) {
        const crash = new TroupeError(
          ErrorCode.ActorCrashed,
          `${this.definition.type} at ${this.address} crashed: ${messageOf(this.lastError)}`,
          { cause: this.lastError },
        );
        this.#host.undeliverable(env, ErrorCode.ActorCrashed, crash);
      } else this.#host.undeliverable(env, ErrorCode.ActorStopped);
    }
    this.#signals.drainAll();
    this.#host.stopped(this, unhandled);
    const parent = this.parent;
    if (parent !== undefined && parent.#hooks !== undefined) {
      parent.#signal({
        kind: 'exited',
        exit: {
          name: this.name,
          address: this.address,
          reason: this.#exitReason ?? 'stopped',
          error: this.#exitReason === 'failed' ? this.lastError : undefined,
        },
      });
    }
    this.#resolveStopped?.();
  }

  #selfEnvelope(message: unknown): Envelope {
    return tellEnvelope(this.address, message, this.address);
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

  #makeContext(): AnyContext {
    return new ActorCell.#Context(this) as unknown as AnyContext;
  }

  // The context and its timers are classes with methods on the prototype, not object literals of closures:
  // one small object per actor instead of two dozen closures, which matters at 100k actors per node.
  // Declared inside ActorCell so they can reach the cell's private state.
  static readonly #Timers = class {
    readonly #cell: ActorCell;
    constructor(cell: ActorCell) {
      this.#cell = cell;
    }
    startSingle(key: string, message: unknown, delayMs: number): void {
      this.#cell.#timers.startSingle(key, message, delayMs);
    }
    startPeriodic(key: string, message: unknown, intervalMs: number): void {
      this.#cell.#timers.startPeriodic(key, message, intervalMs);
    }
    cancel(key: string): void {
      this.#cell.#timerScheduler?.cancel(key);
    }
    cancelAll(): void {
      this.#cell.#timerScheduler?.cancelAll();
    }
    isActive(key: string): boolean {
      return this.#cell.#timerScheduler?.isActive(key) ?? false;
    }
  };

  static readonly #Context = class {
    readonly #cell: ActorCell;
    #timersView: unknown;
    constructor(cell: ActorCell) {
      this.#cell = cell;
    }
    get self(): AnyActorRef {
      return this.#cell.ref;
    }
    get state(): unknown {
      return this.#cell.state;
    }
    set state(next: unknown) {
      this.#cell.state = next;
    }
    get sender(): AnyActorRef | undefined {
      const sender = this.#cell.#current?.sender;
      if (sender === undefined) return undefined;
      try {
        return this.#cell.#host.refFor(sender);
      } catch {
        // A sender from the wire that is no address (forged): there is no one to answer.
        return undefined;
      }
    }
    get headers(): Readonly<Record<string, string>> {
      return this.#cell.#current?.headers ?? NO_HEADERS;
    }
    get signal(): AbortSignal {
      return this.#cell.#abortSignal();
    }
    get clock(): Clock {
      return this.#cell.#host.clock;
    }
    get timers(): unknown {
      this.#timersView ??= new ActorCell.#Timers(this.#cell);
      return this.#timersView;
    }
    reply(value: unknown): void {
      const cell = this.#cell;
      const envelope = cell.#current;
      if (!envelope || cell.#replied) return;
      cell.#replied = true;
      cell.#host.reply(envelope, value, false);
    }
    fail(error: unknown): void {
      const cell = this.#cell;
      const envelope = cell.#current;
      if (!envelope || cell.#replied) return;
      cell.#replied = true;
      cell.#host.reply(envelope, TroupeError.toWire(error), true);
    }
    forward(target: AnyActorRef): void {
      const cell = this.#cell;
      const envelope = cell.#current;
      if (!envelope) return;
      // The target now owns the reply; this actor must not answer (or report NO_REPLY) as well.
      cell.#replied = true;
      cell.#host.forward(envelope, target.address);
    }
    deferReply(): Replier<unknown> | undefined {
      const cell = this.#cell;
      const envelope = cell.#current;
      if (!envelope || cell.#replied) return undefined;
      cell.#replied = true;
      return cell.#replier(envelope);
    }
    spawn(definition: ActorDefinition<Protocol, unknown>, options?: SpawnOptions): AnyActorRef {
      return this.#cell.#host.spawnChild(this.#cell, definition, options);
    }
    get children(): Children {
      return this.#cell.#childrenOf();
    }
    stop(child?: AnyActorRef): void {
      const cell = this.#cell;
      if (child === undefined || child.address === cell.address) {
        cell.#exitReason ??= 'normal';
        cell.#stopRequested = true;
        if (!cell.#busy && (cell.status === 'running' || cell.status === 'paused')) cell.#schedule(false);
        return;
      }
      for (const c of cell.#children?.values() ?? []) {
        if (c.address === child.address) void c.requestStop();
      }
    }
    stash(): void {
      const cell = this.#cell;
      const envelope = cell.#current;
      if (!envelope || cell.#stashedCurrent) return;
      cell.#stash ??= [];
      if (cell.#stash.length >= cell.#stashCapacity) {
        throw new TroupeError(
          ErrorCode.StashFull,
          `stash of ${cell.address} is full (${cell.#stashCapacity})`,
        );
      }
      cell.#stash.push(envelope);
      cell.#stashedCurrent = true;
    }
    unstashAll(): void {
      const cell = this.#cell;
      const stashed = cell.#stash ?? [];
      cell.#stash = undefined;
      for (let i = stashed.length - 1; i >= 0; i--) cell.#mailbox.unshift(stashed[i]!);
    }
    refFor(address: string): AnyActorRef {
      return this.#cell.#host.refFor(address);
    }
    // Results are told to the address, not to this cell, so they reach the actor after a restart.
    runTask(task: AnyTaskDefinition, input: unknown, options?: Parameters<typeof runTaskFor>[5]): unknown {
      const host = this.#cell.#host;
      return runTaskFor(
        host.tasks,
        (address) => host.refFor(address),
        this.#cell.address,
        task,
        input,
        options,
      );
    }
  };

  /** @internal */
  nextChildName(): string {
    return `$${(this.#childSeq++).toString(36)}`;
  }
}
