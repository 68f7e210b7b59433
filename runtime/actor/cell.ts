// The actor cell: one actor's mailbox and processing loop, one message at a time, in order. This file is the
// hot path (enqueue, run, invoke, complete); failure, lifecycle, children and the context live beside it.

import type { Envelope } from '../core/envelope.js';
import { tellEnvelope } from '../core/envelope.js';
import { ErrorCode } from '../core/errors.js';
import { microtask } from '../core/microtask.js';
import type { ChildHandle, FailurePhase } from '../ports/supervision.js';
import { continueAfterFailure, handleOf, processNotices } from './children.js';
import type { AnyContext } from './config.js';
import { CellContext } from './context.js';
import { armWatchdog, clearWatchdog, fail } from './failure.js';
import { isPromiseLike, keep, LENT, THREW, thrown } from './handler.js';
import {
  beginStop,
  initialize,
  pause,
  requestStop,
  restart,
  resume,
  runPendingRestart,
  terminate,
  whenStopped,
} from './lifecycle.js';
import { complete, makeRoom, reject } from './outcomes.js';
import { save } from './save.js';
import { type CellOptions, CellState } from './state.js';

/**
 * @internal One running actor. The system creates cells; users only ever see refs.
 *
 * @example
 * const cell = new ActorCell({ host, definition, address: 'n1/greeter', path: 'greeter', name: 'greeter' });
 * cell.ref = refTo(cell);
 * cell.start();
 * cell.enqueueTell({ type: 'hello' });
 */
/**
 * The clock's time as read once in the current turn of a cell's loop (-1: not read yet). Turns never
 * interleave, so one variable serves every cell; a deadline is checked against the start of the turn.
 */
let turnNow = -1;

/**
 * Messages every cell of this process may handle, together, before the event loop gets a turn. A cell's own
 * budget (`throughput`) only bounds one run; cells that keep each other busy through microtasks (an actor
 * telling itself, two actors pinging, an async handler that never waits on I/O) would otherwise chain runs
 * forever and starve every timer and socket: ask deadlines, heartbeats, the process's I/O.
 */
const LOOP_SHARE = 5_000;
/** Messages handled since the event loop last reached its check phase (reset by a setImmediate armed at 1). */
let handledSinceYield = 0;
const resetLoopShare = (): void => {
  handledSinceYield = 0;
};

export class ActorCell extends CellState {
  declare readonly parent: ActorCell | undefined;

  constructor(options: CellOptions) {
    super(options);
  }

  /** Live children by name. */
  get children(): Map<string, ActorCell> {
    this.childMap ??= new Map();
    return this.childMap as Map<string, ActorCell>;
  }

  /** Messages waiting in the mailbox (not counting stashed ones). */
  get mailboxDepth(): number {
    return this.mailbox.length;
  }

  /** True when nothing is queued and no handler runs. */
  get idle(): boolean {
    return this.mailbox.length === 0 && this.notices.length === 0 && !this.busy && !this.scheduled;
  }

  /** True when this actor supervises its children. */
  get isSupervisor(): boolean {
    return this.config.hooks !== undefined;
  }

  /** This cell as its supervisor controls it. */
  get handle(): ChildHandle {
    return handleOf(this);
  }

  /** @internal The context handed to handlers and hooks; made on first use. */
  get ctx(): AnyContext {
    this.context ??= new CellContext(this) as unknown as AnyContext;
    return this.context;
  }

  /** Resolves when the cell has stopped. */
  whenStopped(): Promise<void> {
    return whenStopped(this);
  }

  /** Runs `init` (sync or async), then starts taking messages. Messages sent meanwhile wait in order. */
  start(): void {
    initialize(this, false, undefined);
  }

  /** Asks the actor to stop after the message it is handling; resolves once stopped. */
  requestStop(): Promise<void> {
    return requestStop(this);
  }

  /** Stops now: aborts the running handler's signal and does not wait for it; children are terminated too. */
  terminate(): Promise<void> {
    return terminate(this);
  }

  /** Stops taking messages; they keep queueing in order. The running handler, if any, finishes. */
  pause(): void {
    pause(this);
  }

  /** Takes messages again, starting with those that queued while paused. */
  resume(): void {
    resume(this);
  }

  /**
   * Restarts this actor: the current message finishes, children stop, `onStop` runs, then after `delayMs`
   * `init` runs again on the same address and mailbox. Ignored while stopping or already restarting.
   */
  restart(delayMs: number, reason: unknown): void {
    restart(this, delayMs, reason);
  }

  /** Lets a failed actor that awaits its supervisor's decision go on with its state (the `resume` directive). */
  continueAfterFailure(): void {
    continueAfterFailure(this);
  }

  /** @internal */
  nextChildName(): string {
    return `$${(this.childSeq++).toString(36)}`;
  }

  /** @internal */
  fail(error: unknown, envelope: Envelope | undefined, phase: FailurePhase): void {
    fail(this, error, envelope, phase);
  }

  /** @internal */
  beginStop(): void {
    beginStop(this);
  }

  /** Accepts a plain tell (no sender, no headers) without building its envelope. Never throws. */
  enqueueTell(message: unknown): void {
    if (this.status === 'stopped' || this.mailbox.length >= this.config.capacity) {
      this.enqueue(tellEnvelope(this.address, message));
      return;
    }
    this.mailbox.pushTell(message);
    if (!this.scheduled && !this.busy && this.status === 'running') {
      this.scheduled = true;
      microtask(this.#run);
    }
  }

  /** Accepts an envelope for this actor. Never throws. */
  enqueue(envelope: Envelope): void {
    if (this.status === 'stopped') {
      this.host.undeliverable(envelope, ErrorCode.ActorStopped);
      return;
    }
    if (this.mailbox.length >= this.config.capacity && !makeRoom(this, envelope)) return;
    this.mailbox.push(envelope);
    if (!this.scheduled && !this.busy && this.status === 'running') {
      this.scheduled = true;
      microtask(this.#run);
    }
  }

  /** @internal */
  schedule(yieldToIo: boolean): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // After a full turn, yield with setImmediate so timers and sockets get their share; otherwise a microtask.
    if (yieldToIo) setImmediate(ActorCell.#resume, this);
    else microtask(this.#run);
  }

  /** @internal */
  runTurn(): void {
    if (!this.scheduled) this.#run();
  }

  /**
   * The loop's comeback after yielding to I/O: a setImmediate whose callback runs the loop in a microtask, at
   * once (before the next immediate or anything else). Run from a setImmediate (or timer) callback itself, the
   * loop would have no V8 try/catch above its JS stack: every `throw` there builds a message object (location
   * and all) in case it goes uncaught, even one the loop catches, and a handler's throw costs about 1 µs more
   * than in a microtask, which V8 runs inside one. A stream that crashes every thousand messages paid it on
   * most of its crashes. Static, with the cell as the immediate's argument: a closure per cell would add to
   * every idle actor's heap.
   */
  static #resume(cell: ActorCell): void {
    microtask(cell.#run);
  }

  // One closure per cell, made once: scheduling a run allocates nothing.
  readonly #run = (): void => {
    this.scheduled = false;
    turnNow = -1;
    if (this.busy) return;
    if (this.notices.length !== 0) processNotices(this);
    if (this.busy || this.status !== 'running') {
      if (this.stopRequested && !this.busy) beginStop(this);
      return;
    }
    let budget = this.config.throughput;
    for (;;) {
      if (this.stopRequested) {
        beginStop(this);
        return;
      }
      if (budget-- === 0 || handledSinceYield >= LOOP_SHARE) {
        if (this.mailbox.length > 0 || this.notices.length > 0) this.schedule(true);
        return;
      }
      if (this.notices.length !== 0) {
        processNotices(this);
        if (this.busy || this.status !== 'running') return;
      }
      const envelope = this.mailbox.shiftInto(LENT);
      if (envelope === undefined) return;
      if (handledSinceYield++ === 0) setImmediate(resetLoopShare);
      const handler = this.#accept(envelope);
      let went = false;
      if (handler !== undefined) {
        // The handler is called here, in the loop itself: a crashing handler's `new Error` captures a frame
        // for each function under it (a few hundred ns each on a crash's cold path), so none stands between
        // them. Tracing (a span around the call) and metrics (counts, sampled durations) are hooks of their
        // own: without them, one branch each. TurboFan compiles the try/catch into the optimized loop, so a
        // crash does not deoptimize it.
        const message = envelope.payload;
        const host = this.host;
        let result: unknown;
        if (host.traces !== undefined) result = host.traces.invoke(this, envelope, handler, message);
        else if (host.meter !== undefined) result = host.meter.call(this, handler, message);
        else {
          try {
            result = handler(message, this.ctx);
          } catch (err) {
            thrown.error = err;
            result = THREW;
          }
        }
        went = this.#outcome(envelope, result);
      }
      // The lent envelope must not pin the message until the next plain tell anywhere.
      LENT.payload = undefined;
      if (went) {
        this.busy = true;
        return;
      }
      if (this.status !== 'running') return;
    }
  };

  /** @internal The async work that held the mailbox is over: a pending restart or stop begins, or the loop goes on. */
  proceed(): void {
    this.busy = false;
    if (this.pendingRestart !== undefined && runPendingRestart(this)) return;
    if (this.stopRequested) {
      if (this.status !== 'stopped') beginStop(this);
      return;
    }
    if (this.status === 'running') this.#run();
    else if (this.notices.length > 0 && this.status === 'paused') this.schedule(false);
  }

  /**
   * Takes `envelope` as the current message and returns its handler; undefined when it has none to run (expired,
   * not a message, no handler: dead-lettered here). Never throws.
   */
  #accept(envelope: Envelope): Function | undefined {
    if (envelope.deadline !== undefined) {
      // One clock read per turn, not per message: reading the clock costs more than handling a small ask.
      if (turnNow < 0) turnNow = this.host.clock.now();
      if (envelope.deadline < turnNow) {
        this.host.undeliverable(envelope, ErrorCode.Expired);
        return undefined;
      }
    }
    const message = envelope.payload as { type?: unknown } | null;
    const type = typeof message === 'object' && message !== null ? message.type : undefined;
    if (typeof type !== 'string') {
      reject(
        this,
        keep(this, envelope),
        ErrorCode.InvalidMessage,
        'message must be an object with a string `type`',
      );
      return undefined;
    }
    const handler = this.config.handlers[type];
    if (handler === undefined) {
      reject(
        this,
        keep(this, envelope),
        ErrorCode.Unhandled,
        `${this.definition.type} at ${this.address} has no handler for "${type}"`,
      );
      return undefined;
    }
    this.current = envelope;
    this.replied = envelope.replyTo === undefined;
    this.stashedCurrent = false;
    return handler;
  }

  /**
   * What the handler of `envelope` returned (or `THREW`): a failure, an async handler to wait for, or a result;
   * returns true when the handler went async (it lets the loop proceed itself). Never throws.
   */
  #outcome(envelope: Envelope, result: unknown): boolean {
    if (result === THREW) {
      const err = thrown.error;
      thrown.error = undefined;
      fail(this, err, keep(this, envelope), 'handler');
      return false;
    }
    if (isPromiseLike(result)) {
      const own = keep(this, envelope);
      const epoch = this.epoch;
      if (this.config.handlerTimeoutMs > 0) armWatchdog(this, own, epoch);
      void result.then(
        (value) => {
          if (epoch === this.epoch) this.#settle(own, value, undefined, false);
        },
        (err: unknown) => {
          if (epoch === this.epoch) this.#settle(own, undefined, err, true);
        },
      );
      return true;
    }
    complete(this, envelope, result);
    if (this.config.persistence?.save !== undefined) return save(this, keep(this, envelope));
    return false;
  }

  /** The end of an async handler: record the outcome, then let the loop go on. */
  #settle(envelope: Envelope, value: unknown, error: unknown, failed: boolean): void {
    clearWatchdog(this);
    if (failed) fail(this, error, envelope, 'handler');
    else {
      complete(this, envelope, value);
      // When saving went async, it lets the loop proceed itself.
      if (this.config.persistence?.save !== undefined && save(this, envelope)) return;
    }
    this.proceed();
  }
}
