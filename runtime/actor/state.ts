// What an actor cell shares: with the system that hosts it (CellHost) and with the modules that handle its cold
// paths (CellState: failure, lifecycle, children, context), which work on the one cell object the loop owns.

import type { Clock, TimerHandle } from '../core/clock.js';
import { Deque } from '../core/deque.js';
import type { Envelope } from '../core/envelope.js';
import type {
  ActorStatus,
  ChildExit,
  ChildFailure,
  ChildHandle,
  Children,
  ExitReason,
  FailurePhase,
  RestartTracker,
} from '../ports/supervision.js';
import type { TaskRunner } from '../tasks/runner.js';
import { type AnyContext, type CellConfig, configFor } from './config.js';
import type { ActorDefinition, SpawnOptions } from './definition.js';
import { Mailbox } from './mailbox.js';
import type { Protocol } from './protocol.js';
import type { AnyActorRef } from './ref.js';
import type { TimerScheduler } from './timers.js';

/** Lifecycle moments a cell reports besides started, failed and stopped. */
export type CellEvent = 'paused' | 'resumed' | 'restarting' | 'restarted';

/** @internal Runs a handler inside its trace span (`system/trace-hooks.ts`), metrics included. */
export interface HandlerTracer {
  invoke(cell: CellState, envelope: Envelope, handler: Function, message: unknown): unknown;
}

/** @internal Calls a cell's handler as `callHandler` does, counting it for metrics (see metrics-hooks.ts). */
export interface HandlerMeter {
  call(cell: CellState, handler: Function, message: unknown): unknown;
}

/** @internal What a cell needs from the system that hosts it. */
export interface CellHost {
  readonly clock: Clock;
  readonly defaultThroughput: number;
  /** Runs `ctx.runTask`; undefined when the system has none. */
  readonly tasks: TaskRunner | undefined;
  /** Counts messages per actor type when the system has metrics; undefined otherwise. */
  readonly meter: HandlerMeter | undefined;
  /** Runs handlers inside their trace span when the system has tracing; undefined otherwise. */
  readonly traces: HandlerTracer | undefined;
  /** Sends the reply (or error) for an ask envelope. */
  reply(envelope: Envelope, value: unknown, isError: boolean): void;
  /** Sends `envelope` on to `target`, keeping its sender and reply address. */
  forward(envelope: Envelope, target: string): void;
  /** Records a message that will not be handled; answers it with `error` if it was an ask. */
  undeliverable(envelope: Envelope, reason: string, error?: unknown): void;
  spawnChild(
    parent: CellState | undefined,
    definition: ActorDefinition<Protocol, unknown>,
    options?: SpawnOptions,
  ): AnyActorRef;
  refFor(address: string): AnyActorRef;
  /**
   * Called when a handler, init, watchdog or onStop failed; `phase` says where (`stop` for onStop and
   * stopping children), absent when unknown.
   */
  failed(
    cell: CellState,
    error: unknown,
    envelope: Envelope | undefined,
    phase?: FailurePhase | 'stop',
  ): void;
  /**
   * Called once when the cell reached `stopped`, with the durable mail (from a store that redelivers) it
   * did not handle, oldest first.
   */
  stopped(cell: CellState, unhandled: Envelope[]): void;
  started(cell: CellState): void;
  /** Pause, resume and restart moments; `reason` is the error behind a restart, `delayMs` its backoff. */
  event(cell: CellState, type: CellEvent, reason?: unknown, delayMs?: number): void;
}

/**
 * A note from a child for its supervisor's own loop rather than its handlers: the child failed or exited.
 * Processed between messages, also while the supervisor is paused.
 */
export type ChildNotice =
  | { kind: 'failed'; failure: ChildFailure }
  | { kind: 'exited'; exit: ChildExit }
  /** An operator asked for child `name` to come back (`system.restart` on a stopped child); `done` answers. */
  | { kind: 'restart'; name: string; done: (found: boolean) => void };

/** What a new cell is made of: the options object of the `ActorCell` constructor. */
export interface CellOptions {
  host: CellHost;
  definition: ActorDefinition<Protocol, unknown>;
  address: string;
  path: string;
  name: string;
  parent?: CellState | undefined;
  /** The options the actor was spawned with (they may override the definition's mailbox and supervision). */
  spawn?: SpawnOptions | undefined;
}

/**
 * @internal The state of one cell, and the few operations its collaborators call back into.
 *
 * The fields are plain (not `#private`) so that `failure.ts`, `lifecycle.ts`, `children.ts` and `context.ts`
 * can work on them without the hot loop in `cell.ts` paying for an indirection; nothing outside
 * `runtime/actor/` may touch those marked internal. Field order matters little, their number does: every
 * field costs every idle actor 8 bytes, so cold data is allocated on first use.
 */
export abstract class CellState {
  readonly address: string;
  readonly path: string;
  readonly name: string;
  readonly definition: ActorDefinition<Protocol, unknown>;
  readonly parent: CellState | undefined;
  /** Set by the system right after construction. */
  ref!: AnyActorRef;
  status: ActorStatus = 'starting';
  processed = 0;
  restarts = 0;
  lastError: unknown;
  state: unknown;
  /** True while paused by lifecycle control (a paused actor may still be restarting). */
  paused = false;

  /** @internal */ readonly host: CellHost;
  /** @internal Settings shared by every actor spawned from the same definition without overrides. */
  readonly config: CellConfig;
  /** @internal */ readonly mailbox: Mailbox;
  /** @internal Children's failures and exits, for a supervisor's loop. */
  readonly notices = new Deque<ChildNotice>();
  /** @internal A supervisor or a supervision option decides on failures (else a crash stops the actor). */
  readonly supervised: boolean;
  /** @internal Restart intensity and backoff of a self-supervised actor. */
  readonly tracker: RestartTracker | undefined;
  /** @internal Live children by name; allocated on first use (most actors never have any). */
  childMap: Map<string, CellState> | undefined;

  // ---- the loop (cell.ts) ----
  /** @internal A run of the loop is queued (microtask or setImmediate). */
  scheduled = false;
  /** @internal Init, an async handler, a save or a restart holds the mailbox. */
  busy = false;
  /** @internal The message being handled. */
  current: Envelope | undefined;
  /** @internal The current message needs no (more) reply: a tell, or answered already. */
  replied = true;
  /** @internal The current message was stashed: it is neither answered nor acknowledged now. */
  stashedCurrent = false;
  /** @internal Bumped whenever the running instance or handler is abandoned: late outcomes are ignored. */
  epoch = 0;

  // ---- failure (failure.ts) ----
  /** @internal Timer of the handler timeout. */
  watchdog: TimerHandle | undefined;
  /** @internal The message that failed last and was put back for a retry, and how often it has failed. */
  retrying: Envelope | undefined;
  retryCount = 0;
  /** @internal A supervisor was told of a failure and has not decided yet. */
  awaitingDecision = false;
  /** @internal Init failures in a row: after one, restarts yield to the event loop instead of spinning. */
  initFailures = 0;

  // ---- lifecycle (lifecycle.ts) ----
  /** @internal */ stopRequested = false;
  /** @internal Stopped with `terminate`: children are terminated too, `stopChildren` hooks skipped. */
  terminated = false;
  /** @internal */ exitReason: ExitReason | undefined;
  /** @internal The stop sequence, once begun. */
  stopping: Promise<void> | undefined;
  /** @internal */ restarting = false;
  /** @internal A restart asked for while a handler ran; it begins when the handler is done. */
  pendingRestart: { delayMs: number; reason: unknown } | undefined;
  /** @internal Cuts a restart's backoff short (a stop came meanwhile). */
  wakeRestart: (() => void) | undefined;
  /** @internal Aborted on stop, terminate, restart and handler timeout; made on first `ctx.signal`. */
  lifetime: AbortController | undefined;
  /** @internal */ stoppedPromise: Promise<void> | undefined;
  /** @internal */ resolveStopped: (() => void) | undefined;

  // ---- handler context (context.ts) and children (children.ts) ----
  /** @internal Messages stashed by the handler, oldest first. */
  stash: Envelope[] | undefined;
  /** @internal */ context: AnyContext | undefined;
  /** @internal */ timerScheduler: TimerScheduler | undefined;
  /** @internal */ childSeq = 0;
  /** @internal This cell as its supervisor controls it. */
  handleView: ChildHandle | undefined;
  /** @internal This cell's children as its supervisor hooks see them. */
  childrenView: Children | undefined;

  constructor(options: CellOptions) {
    const { host, definition, parent, spawn } = options;
    this.host = host;
    this.definition = definition;
    this.address = options.address;
    this.path = options.path;
    this.name = options.name;
    this.parent = parent;
    this.config = configFor(definition, spawn, host.defaultThroughput);
    this.mailbox = new Mailbox(options.address);
    const supervision = spawn?.supervision ?? definition.supervision;
    this.supervised = supervision !== undefined || parent?.definition.supervises !== undefined;
    this.tracker = supervision?.restart?.tracker();
  }

  /** The context handed to handlers and hooks; one per cell, made on first use. */
  abstract get ctx(): AnyContext;
  /** This cell as its supervisor controls it. */
  abstract get handle(): ChildHandle;
  /** @internal Accepts an envelope for this actor. Never throws. */
  abstract enqueue(envelope: Envelope): void;
  /** @internal Queues a run of the loop (with `yieldToIo`, after I/O: a full turn is over). */
  abstract schedule(yieldToIo: boolean): void;
  /** @internal Runs a turn of the loop now, unless one is queued; only from outside every loop's turn. */
  abstract runTurn(): void;
  /** @internal The async work that held the mailbox is over: the loop goes on (or a stop or restart begins). */
  abstract proceed(): void;
  /** @internal A handler, init, save, watchdog or supervisor hook failed. */
  abstract fail(error: unknown, envelope: Envelope | undefined, phase: FailurePhase): void;
  /** @internal Begins the stop sequence now (children, onStop, mail handed back). */
  abstract beginStop(): void;
  abstract restart(delayMs: number, reason: unknown): void;
  abstract requestStop(): Promise<void>;
  abstract terminate(): Promise<void>;
}
