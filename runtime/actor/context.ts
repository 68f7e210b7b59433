// The handler context (`ctx`): what a handler sees of its actor (state, sender, headers, signal), replies,
// stash, children, timers and tasks. One small object per actor, its methods on the prototype.

import type { Clock } from '../core/clock.js';
import { type Envelope, tellEnvelope } from '../core/envelope.js';
import { ErrorCode, TroupeError } from '../core/errors.js';
import type { Children } from '../ports/supervision.js';
import type { AnyTaskDefinition } from '../tasks/definition.js';
import { runTaskFor } from '../tasks/delivery.js';
import { childrenOf } from './children.js';
import type { ActorDefinition, Replier, SpawnOptions } from './definition.js';
import { keep } from './handler.js';
import { abortSignalOf } from './lifecycle.js';
import type { Protocol } from './protocol.js';
import type { AnyActorRef } from './ref.js';
import type { CellState } from './state.js';
import { TimerScheduler } from './timers.js';

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/** The timers of `cell`, made on first use; they tell the actor's own address. */
function timersOf(cell: CellState): TimerScheduler {
  cell.timerScheduler ??= new TimerScheduler(cell.host.clock, (message) =>
    cell.enqueue(tellEnvelope(cell.address, message, cell.address)),
  );
  return cell.timerScheduler;
}

/** A replier for `envelope` that answers at most once. */
function replierFor(cell: CellState, envelope: Envelope): Replier<unknown> {
  let done = false;
  return {
    reply: (value) => {
      if (done) return;
      done = true;
      cell.host.reply(envelope, value, false);
    },
    fail: (error) => {
      if (done) return;
      done = true;
      cell.host.reply(envelope, TroupeError.toWire(error), true);
    },
  };
}

// The context and its timers are classes with methods on the prototype, not object literals of closures:
// one small object per actor instead of two dozen closures, which matters at 100k actors per node.

/** @internal `ctx.timers`: the actor's keyed timers. */
class CellTimers {
  readonly #cell: CellState;
  constructor(cell: CellState) {
    this.#cell = cell;
  }
  startSingle(key: string, message: unknown, delayMs: number): void {
    timersOf(this.#cell).startSingle(key, message, delayMs);
  }
  startPeriodic(key: string, message: unknown, intervalMs: number): void {
    timersOf(this.#cell).startPeriodic(key, message, intervalMs);
  }
  cancel(key: string): void {
    this.#cell.timerScheduler?.cancel(key);
  }
  cancelAll(): void {
    this.#cell.timerScheduler?.cancelAll();
  }
  isActive(key: string): boolean {
    return this.#cell.timerScheduler?.isActive(key) ?? false;
  }
}

/** @internal The `ctx` of one actor; typed as `ActorContext` where it is handed out. */
export class CellContext {
  readonly #cell: CellState;
  #timers: CellTimers | undefined;
  constructor(cell: CellState) {
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
    const sender = this.#cell.current?.sender;
    if (sender === undefined) return undefined;
    try {
      return this.#cell.host.refFor(sender);
    } catch {
      // A sender from the wire that is no address (forged): there is no one to answer.
      return undefined;
    }
  }
  get headers(): Readonly<Record<string, string>> {
    return this.#cell.current?.headers ?? NO_HEADERS;
  }
  get signal(): AbortSignal {
    return abortSignalOf(this.#cell);
  }
  get clock(): Clock {
    return this.#cell.host.clock;
  }
  get timers(): unknown {
    this.#timers ??= new CellTimers(this.#cell);
    return this.#timers;
  }
  reply(value: unknown): void {
    const cell = this.#cell;
    const envelope = cell.current;
    if (!envelope || cell.replied) return;
    cell.replied = true;
    cell.host.reply(envelope, value, false);
  }
  fail(error: unknown): void {
    const cell = this.#cell;
    const envelope = cell.current;
    if (!envelope || cell.replied) return;
    cell.replied = true;
    cell.host.reply(envelope, TroupeError.toWire(error), true);
  }
  forward(target: AnyActorRef): void {
    const cell = this.#cell;
    if (!cell.current) return;
    // The target now owns the reply; this actor must not answer (or report NO_REPLY) as well.
    cell.replied = true;
    cell.host.forward(keep(cell, cell.current), target.address);
  }
  deferReply(): Replier<unknown> | undefined {
    const cell = this.#cell;
    const envelope = cell.current;
    if (!envelope || cell.replied) return undefined;
    cell.replied = true;
    return replierFor(cell, envelope);
  }
  spawn(definition: ActorDefinition<Protocol, unknown>, options?: SpawnOptions): AnyActorRef {
    return this.#cell.host.spawnChild(this.#cell, definition, options);
  }
  get children(): Children {
    return childrenOf(this.#cell);
  }
  stop(child?: AnyActorRef): void {
    const cell = this.#cell;
    if (child === undefined || child.address === cell.address) {
      cell.exitReason ??= 'normal';
      cell.stopRequested = true;
      if (!cell.busy && (cell.status === 'running' || cell.status === 'paused')) cell.schedule(false);
      return;
    }
    for (const c of cell.childMap?.values() ?? []) {
      if (c.address === child.address) void c.requestStop();
    }
  }
  stash(): void {
    const cell = this.#cell;
    if (!cell.current || cell.stashedCurrent) return;
    cell.stash ??= [];
    const capacity = cell.config.stashCapacity;
    if (cell.stash.length >= capacity) {
      throw new TroupeError(ErrorCode.StashFull, `stash of ${cell.address} is full (${capacity})`);
    }
    cell.stash.push(keep(cell, cell.current));
    cell.stashedCurrent = true;
  }
  unstashAll(): void {
    const cell = this.#cell;
    const stashed = cell.stash ?? [];
    cell.stash = undefined;
    for (let i = stashed.length - 1; i >= 0; i--) cell.mailbox.unshift(stashed[i]!);
  }
  refFor(address: string): AnyActorRef {
    return this.#cell.host.refFor(address);
  }
  // Results are told to the address, not to this cell, so they reach the actor after a restart.
  runTask(task: AnyTaskDefinition, input: unknown, options?: Parameters<typeof runTaskFor>[5]): unknown {
    const cell = this.#cell;
    const host = cell.host;
    return runTaskFor(host.tasks, (address) => host.refFor(address), cell.address, task, input, options);
  }
}
