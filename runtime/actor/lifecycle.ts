// A cell's life: init (sync, async, with persistence), pause and resume, restart on the same address and
// mailbox, graceful stop and terminate, and the signal that tells running handlers their instance is gone.

import type { Envelope } from '../core/envelope.js';
import { ErrorCode, TroupeError } from '../core/errors.js';
import { microtask } from '../core/microtask.js';
import { notify, stopChildren, underSupervisor } from './children.js';
import { clearWatchdog, crashError, fail } from './failure.js';
import { isPromiseLike } from './handler.js';
import type { CellState } from './state.js';

/** @internal Runs `init` (sync or async, then `persistence.load`), then lets the loop take messages. */
export function initialize(cell: CellState, restarted: boolean, reason: unknown): void {
  cell.busy = true;
  // Notices that came in while restarting were about the old instance's children.
  if (restarted && cell.notices.length !== 0) cell.notices.drainAll();
  const epoch = cell.epoch;
  let result: unknown;
  try {
    result = cell.definition.init?.(cell.ctx);
  } catch (err) {
    initFailed(cell, epoch, err);
    return;
  }
  const persistence = cell.config.persistence;
  if (!isPromiseLike(result) && persistence === undefined) {
    initDone(cell, epoch, result, restarted, reason);
    return;
  }
  const load = async (): Promise<unknown> => {
    let state = await result;
    if (persistence !== undefined) {
      cell.state = state;
      const loaded = await persistence.load(cell.ctx);
      if (loaded !== undefined) state = loaded;
    }
    return state;
  };
  void load().then(
    (state) => initDone(cell, epoch, state, restarted, reason),
    (err: unknown) => initFailed(cell, epoch, err),
  );
}

function initDone(cell: CellState, epoch: number, state: unknown, restarted: boolean, reason: unknown): void {
  if (epoch !== cell.epoch) return;
  cell.busy = false;
  cell.initFailures = 0;
  cell.state = state;
  if (cell.stopRequested) {
    beginStop(cell);
    return;
  }
  cell.status = cell.paused ? 'paused' : 'running';
  if (restarted) cell.host.event(cell, 'restarted', reason);
  else cell.host.started(cell);
  if (cell.mailbox.length === 0 && cell.notices.length === 0) return;
  // A restart ends in a callback of its own (a microtask, a timer, a promise), outside every loop's turn: the
  // new instance takes its mail now. A first start runs inside `spawn`, so its loop waits for a turn.
  if (restarted) cell.runTurn();
  else cell.schedule(false);
}

function initFailed(cell: CellState, epoch: number, error: unknown): void {
  if (epoch !== cell.epoch) return;
  cell.busy = false;
  cell.initFailures++;
  fail(cell, error, undefined, 'init');
}

/** @internal Stops taking messages; they keep queueing in order. The running handler, if any, finishes. */
export function pause(cell: CellState): void {
  if (cell.paused || cell.status === 'stopping' || cell.status === 'stopped') return;
  cell.paused = true;
  if (cell.status === 'running') cell.status = 'paused';
  cell.host.event(cell, 'paused');
}

/** @internal Takes messages again, starting with those that queued while paused. */
export function resume(cell: CellState): void {
  if (!cell.paused) return;
  cell.paused = false;
  if (cell.status === 'paused') {
    cell.status = 'running';
    if (cell.mailbox.length > 0 || cell.notices.length > 0) cell.schedule(false);
  }
  cell.host.event(cell, 'resumed');
}

/** @internal See `ActorCell.restart`. */
export function restart(cell: CellState, delayMs: number, reason: unknown): void {
  if (cell.stopRequested || cell.status === 'stopping' || cell.status === 'stopped') return;
  if (cell.restarting || cell.pendingRestart !== undefined) return;
  cell.awaitingDecision = false;
  cell.status = 'restarting';
  cell.host.event(cell, 'restarting', reason, delayMs);
  if (cell.busy) {
    cell.pendingRestart = { delayMs, reason };
    return;
  }
  runRestart(cell, delayMs, reason);
}

/** @internal Begins a restart asked for while the cell was busy; false when there is none. */
export function runPendingRestart(cell: CellState): boolean {
  const pending = cell.pendingRestart;
  if (pending === undefined || cell.stopRequested) return false;
  cell.pendingRestart = undefined;
  runRestart(cell, pending.delayMs, pending.reason);
  return true;
}

/** True when the restart begun at `epoch` was overtaken by a stop or a terminate. */
function abandoned(cell: CellState, epoch: number): boolean {
  return epoch !== cell.epoch || cell.stopRequested;
}

/**
 * Ends the old instance (timers, notices, stash back in front, children stopped, `onStop`, signal aborted),
 * waits out the backoff, then runs `init` again. The common case, a leaf actor without `onStop` restarted at
 * once, takes a single microtask; the general one awaits each step.
 */
function runRestart(cell: CellState, delayMs: number, reason: unknown): void {
  cell.restarting = true;
  cell.busy = true;
  const epoch = ++cell.epoch;
  clearWatchdog(cell);
  cell.timerScheduler?.cancelAll();
  // Notices were about the old instance's children, which are going away.
  if (cell.notices.length !== 0) cell.notices.drainAll();
  // Stashed mail goes back in front, in order: the new instance sees it first.
  const stash = cell.stash;
  if (stash !== undefined) for (let i = stash.length - 1; i >= 0; i--) cell.mailbox.unshift(stash[i]!);
  cell.stash = undefined;
  const plain =
    (cell.childMap === undefined || cell.childMap.size === 0) &&
    cell.definition.onStop === undefined &&
    delayMs <= 0 &&
    cell.initFailures === 0;
  if (plain) {
    endLifetime(cell);
    microtask(() => finishRestart(cell, epoch, reason));
    return;
  }
  void endInstance(cell, epoch, delayMs).then(() => finishRestart(cell, epoch, reason));
}

/** The old instance's children stop, its cleanup runs, its signal aborts; then the backoff passes. */
async function endInstance(cell: CellState, epoch: number, delayMs: number): Promise<void> {
  await stopChildren(cell);
  const onStop = cell.definition.onStop;
  if (onStop !== undefined && !abandoned(cell, epoch)) {
    try {
      await onStop(cell.ctx);
    } catch (err) {
      cell.host.failed(cell, err, undefined, 'stop');
    }
  }
  endLifetime(cell);
  // An init that keeps failing must not spin in microtasks: give the event loop a turn between attempts.
  if (!abandoned(cell, epoch) && delayMs <= 0 && cell.initFailures > 0)
    await new Promise((resolve) => setImmediate(resolve));
  if (!abandoned(cell, epoch) && delayMs > 0) await backoff(cell, delayMs);
}

/** The new instance starts, unless a stop or terminate overtook the restart. */
function finishRestart(cell: CellState, epoch: number, reason: unknown): void {
  cell.restarting = false;
  if (abandoned(cell, epoch)) {
    if (epoch === cell.epoch && cell.stopping === undefined) {
      cell.busy = false;
      beginStop(cell);
    }
    return;
  }
  cell.restarts++;
  cell.state = undefined;
  initialize(cell, true, reason);
}

/** Waits out a restart's backoff on the cell's clock; a stop meanwhile cuts it short. */
function backoff(cell: CellState, delayMs: number): Promise<void> {
  const clock = cell.host.clock;
  return new Promise<void>((resolve) => {
    const timer = clock.setTimeout(() => {
      cell.wakeRestart = undefined;
      resolve();
    }, delayMs);
    cell.wakeRestart = () => {
      cell.wakeRestart = undefined;
      clock.clearTimeout(timer);
      resolve();
    };
  });
}

/** Aborts the old instance's signal, if anyone asked for it; the next instance gets a signal of its own. */
function endLifetime(cell: CellState): void {
  if (cell.lifetime !== undefined && !cell.lifetime.signal.aborted)
    cell.lifetime.abort(new TroupeError(ErrorCode.ActorStopped, `${cell.address} restarting`));
  cell.lifetime = undefined;
}

/** @internal The signal of the running instance; aborted on stop, terminate and restart. */
export function abortSignalOf(cell: CellState): AbortSignal {
  if (cell.lifetime === undefined) {
    cell.lifetime = new AbortController();
    if (cell.status === 'stopped')
      cell.lifetime.abort(new TroupeError(ErrorCode.ActorStopped, `${cell.address} stopped`));
  }
  return cell.lifetime.signal;
}

/** @internal Resolves when the cell has stopped. */
export function whenStopped(cell: CellState): Promise<void> {
  cell.stoppedPromise ??=
    cell.status === 'stopped'
      ? Promise.resolve()
      : new Promise((resolve) => {
          cell.resolveStopped = resolve;
        });
  return cell.stoppedPromise;
}

/** @internal Asks the actor to stop after the message it is handling; resolves once stopped. */
export function requestStop(cell: CellState): Promise<void> {
  if (cell.status === 'stopped' || cell.stopping !== undefined) return whenStopped(cell);
  cell.stopRequested = true;
  cell.exitReason ??= 'stopped';
  cell.wakeRestart?.();
  if (!cell.busy) beginStop(cell);
  return whenStopped(cell);
}

/** @internal Stops now: aborts the running handler's signal and does not wait for it; children too. */
export function terminate(cell: CellState): Promise<void> {
  if (cell.status === 'stopped') return whenStopped(cell);
  cell.terminated = true;
  cell.stopRequested = true;
  cell.exitReason ??= 'stopped';
  cell.epoch++;
  clearWatchdog(cell);
  const error = new TroupeError(ErrorCode.ActorStopped, `${cell.address} terminated`);
  cell.lifetime?.abort(error);
  const current = cell.current;
  if (current !== undefined && cell.busy) {
    cell.current = undefined;
    if (!cell.replied && !cell.stashedCurrent) {
      cell.replied = true;
      cell.host.reply(current, TroupeError.toWire(error), true);
    }
  }
  cell.busy = false;
  cell.restarting = false;
  cell.pendingRestart = undefined;
  cell.wakeRestart?.();
  if (cell.childMap) for (const child of cell.childMap.values()) void child.terminate();
  beginStop(cell);
  return whenStopped(cell);
}

/** @internal Begins the stop sequence (once). */
export function beginStop(cell: CellState): void {
  if (cell.stopping !== undefined || cell.status === 'stopped') return;
  cell.status = 'stopping';
  cell.stopping = runStop(cell);
}

async function runStop(cell: CellState): Promise<void> {
  cell.timerScheduler?.cancelAll();
  clearWatchdog(cell);
  await stopChildren(cell);
  const onStop = cell.definition.onStop;
  if (onStop) {
    try {
      await onStop(cell.ctx);
    } catch (err) {
      cell.lastError = err;
      cell.host.failed(cell, err, undefined, 'stop');
    }
  }
  // The aborted signal stays: handlers asking for it after the stop get it, aborted.
  if (cell.lifetime !== undefined && !cell.lifetime.signal.aborted)
    cell.lifetime.abort(new TroupeError(ErrorCode.ActorStopped, `${cell.address} stopped`));
  cell.status = 'stopped';
  const unhandled = handOver(cell);
  cell.notices.drainAll();
  cell.host.stopped(cell, unhandled);
  if (underSupervisor(cell)) {
    const reason = cell.exitReason ?? 'stopped';
    notify(cell.parent, {
      kind: 'exited',
      exit: {
        name: cell.name,
        address: cell.address,
        reason,
        error: reason === 'failed' ? cell.lastError : undefined,
      },
    });
  }
  cell.resolveStopped?.();
}

/**
 * Empties the stash and the mailbox of a stopped cell. Durable mail not handled yet is returned in order
 * (stashed first, as it came first): it must reach the next activation before anything newer, which a
 * redelivery by the store would not promise. The rest becomes dead letters.
 */
function handOver(cell: CellState): Envelope[] {
  const unhandled: Envelope[] = [];
  const host = cell.host;
  for (const envelope of cell.stash ?? []) {
    if (envelope.delivery !== undefined) unhandled.push(envelope);
    else host.undeliverable(envelope, ErrorCode.ActorStopped);
  }
  cell.stash = undefined;
  const mailbox = cell.mailbox;
  for (let env = mailbox.shift(); env !== undefined; env = mailbox.shift()) {
    if (env === cell.retrying) {
      // The message that crashed the actor keeps its error in the dead letter.
      host.undeliverable(env, ErrorCode.ActorCrashed, crashError(cell, cell.lastError));
    } else if (env.delivery !== undefined) unhandled.push(env);
    else host.undeliverable(env, ErrorCode.ActorStopped);
  }
  return unhandled;
}
