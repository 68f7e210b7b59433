// What a cell does when something fails: ask the decider, retry the message or dead-letter it (poison), tell
// the supervisor or restart within the restart policy, and the handler-timeout watchdog.

import type { Envelope } from '../core/envelope.js';
import { ErrorCode, TroupeError } from '../core/errors.js';
import type { Directive, FailurePhase } from '../ports/supervision.js';
import { notify, underSupervisor } from './children.js';
import type { CellState } from './state.js';

/** @internal The text of an error, for messages that wrap it. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** @internal The `ACTOR_CRASHED` error a message that failed for good ends with. */
export function crashError(cell: CellState, error: unknown): TroupeError {
  return new TroupeError(
    ErrorCode.ActorCrashed,
    `${cell.definition.type} at ${cell.address} crashed: ${messageOf(error)}`,
    { cause: error },
  );
}

/** @internal The message failed for good: the asker gets `ACTOR_CRASHED`, the message becomes a dead letter. */
export function deadLetterCrash(cell: CellState, envelope: Envelope, error: unknown): void {
  cell.processed++;
  const host = cell.host;
  if (!cell.replied) {
    cell.replied = true;
    host.reply(envelope, TroupeError.toWire(crashError(cell, error)), true);
    // The asker has its answer; the dead letter must not answer a second time.
    host.undeliverable({ ...envelope, replyTo: undefined }, ErrorCode.ActorCrashed, error);
  } else {
    host.undeliverable(envelope, ErrorCode.ActorCrashed, error);
  }
}

/** Stops the cell after a failure nobody restarts (or a `stop` directive). */
function giveUp(cell: CellState, reason: 'failed' | 'stopped'): void {
  cell.exitReason ??= reason;
  cell.stopRequested = true;
  if (!cell.busy) cell.beginStop();
}

/** The decider's directive for this failure; a throwing decider counts as `escalate`. */
function decide(
  cell: CellState,
  error: unknown,
  envelope: Envelope | undefined,
  phase: FailurePhase,
  attempts: number,
): Directive {
  const decider = cell.config.decider;
  if (decider === undefined) return 'restart';
  try {
    return decider(error, { error, phase, message: envelope?.payload, attempts });
  } catch {
    return 'escalate';
  }
}

/**
 * @internal A handler, init, save, watchdog or supervisor hook failed. Without supervision the actor stops
 * and the message is a dead letter. With it, the message is retried first thing (up to `maxAttempts`, then
 * dead-lettered as poison) and the decider's directive applies: resume, stop, or restart, decided by the
 * supervisor actor above or else by the actor's own restart policy.
 */
export function fail(
  cell: CellState,
  error: unknown,
  envelope: Envelope | undefined,
  phase: FailurePhase,
): void {
  cell.lastError = error;
  clearWatchdog(cell);
  if (envelope !== undefined && cell.current === envelope) cell.current = undefined;
  cell.host.failed(cell, error, envelope, phase);
  if (!cell.supervised || cell.stopRequested) {
    if (envelope !== undefined && phase === 'persistence' && cell.stopRequested && envelope.delivery) {
      // Stopping anyway (passivation, a shard move, a stop): a durable message whose effect was not
      // saved is not done with. It leads the mail handed on to the next activation (or the next owner).
      cell.mailbox.unshift(envelope);
    } else if (envelope !== undefined) {
      // Without supervision, a crashed actor stops (its mail goes to dead letters).
      deadLetterCrash(cell, envelope, error);
    }
    giveUp(cell, 'failed');
    return;
  }
  const attempts = envelope === undefined ? 0 : cell.retrying === envelope ? cell.retryCount + 1 : 1;
  let directive = decide(cell, error, envelope, phase, attempts);
  // After a failed save the state in memory holds an effect the store lacks: resuming would apply the
  // retried message twice, so only a restart (which reloads the saved state) will do.
  if (phase === 'persistence' && directive === 'resume') directive = 'restart';
  if (envelope !== undefined) {
    if (directive === 'stop' || attempts >= cell.config.maxAttempts) {
      cell.retrying = undefined;
      cell.retryCount = 0;
      deadLetterCrash(cell, envelope, error);
    } else {
      // Retried first thing by the next instance (or this one, on resume): nothing behind it overtakes it.
      cell.retrying = envelope;
      cell.retryCount = attempts;
      cell.mailbox.unshift(envelope);
    }
  }
  if (directive === 'resume') return;
  if (directive === 'stop') {
    giveUp(cell, 'stopped');
    return;
  }
  if (underSupervisor(cell)) {
    // The supervisor decides (restart, or escalate by failing itself); mail waits meanwhile. A handler fails
    // in its cell's own turn or in a callback, never inside another cell's turn: the supervisor may decide now.
    cell.status = 'restarting';
    cell.awaitingDecision = true;
    notify(
      cell.parent,
      { kind: 'failed', failure: { child: cell.handle, error, phase, directive } },
      phase === 'handler',
    );
    return;
  }
  const tracker = cell.tracker;
  const delay =
    directive !== 'restart' ? undefined : tracker === undefined ? 0 : tracker.next(cell.host.clock.now());
  if (delay === undefined) {
    if (directive === 'restart') {
      cell.lastError = new TroupeError(
        ErrorCode.RestartLimit,
        `${cell.definition.type} at ${cell.address} gave up after ${cell.restarts} restarts: ${messageOf(error)}`,
        { cause: error },
      );
    }
    giveUp(cell, 'failed');
    return;
  }
  cell.restart(delay, error);
}

/** @internal Starts the handler-timeout watchdog for an async handler of `envelope`. */
export function armWatchdog(cell: CellState, envelope: Envelope, epoch: number): void {
  const timeoutMs = cell.config.handlerTimeoutMs;
  cell.watchdog = cell.host.clock.setTimeout(() => {
    cell.watchdog = undefined;
    if (epoch !== cell.epoch || cell.current !== envelope) return;
    // Abandon the running handler: its late outcome is ignored, its signal tells it to give up.
    cell.epoch++;
    const error = new TroupeError(
      ErrorCode.HandlerTimeout,
      `${cell.definition.type} at ${cell.address} ran past its ${timeoutMs} ms deadline on "${(envelope.payload as { type: string }).type}"`,
    );
    cell.lifetime?.abort(error);
    cell.lifetime = undefined;
    fail(cell, error, envelope, 'timeout');
    cell.proceed();
  }, timeoutMs);
}

/** @internal Stops the watchdog, if one runs. */
export function clearWatchdog(cell: CellState): void {
  if (cell.watchdog === undefined) return;
  cell.host.clock.clearTimeout(cell.watchdog);
  cell.watchdog = undefined;
}
