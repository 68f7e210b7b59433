// What a node writes to its logger: crashes with their stack, restarts, escalations, actors that gave up, and
// dead letters, the floods among them rate-limited. Every call here is on a failure or lifecycle path, never on the message path.

import type { CellState } from '../actor/state.js';
import type { Clock } from '../core/clock.js';
import type { DeadLetter, DeadLetters } from '../core/dead-letters.js';
import type { Envelope } from '../core/envelope.js';
import { LogLimiter } from '../core/log-limiter.js';
import type { LogFields, Logger } from '../core/logger.js';
import type { FailurePhase } from '../ports/supervision.js';

/** What {@link SystemLog} needs from its system. */
export interface SystemLogOptions {
  /** The system's logger, node id bound. */
  logger: Logger;
  clock: Clock;
  deadLetters: DeadLetters;
  /** Window of the dead-letter summaries. @defaultValue 5000 */
  windowMs?: number;
}

function typeOf(message: unknown): string | undefined {
  const type = (message as { type?: unknown } | null | undefined)?.type;
  return typeof type === 'string' ? type : undefined;
}

/** The fields of a crash's line: where, which message, and the error (written with its stack). */
function fieldsOf(
  cell: CellState,
  error: unknown,
  envelope: Envelope | undefined,
  phase: FailurePhase | 'stop' | undefined,
): LogFields {
  const f: LogFields = { address: cell.address, actorType: cell.definition.type };
  if (envelope !== undefined) f.messageType = typeOf(envelope.payload);
  if (phase !== undefined) f.phase = phase;
  f.error = error;
  return f;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** @internal One node's log of actor failures, restarts and dead letters. */
export class SystemLog {
  readonly logger: Logger;
  readonly #limiter: LogLimiter | undefined;
  readonly #unsubscribe: (() => void) | undefined;
  /**
   * Crashes and restarts come in floods too (an actor failing on every message of a stream restarts thousands
   * of times a second): the first of each kind is written with its stack, the rest are counted per window.
   */
  readonly #crashes: LogLimiter | undefined;
  readonly #restarts: LogLimiter | undefined;
  /** The kind of the last crash noted, and what it was made of (see `#crashKind`). */
  #lastCrash:
    | { actorType: string; phase: FailurePhase | 'stop' | undefined; tag: string; kind: string }
    | undefined;

  constructor(options: SystemLogOptions) {
    const logger = options.logger;
    this.logger = logger;
    const window = options.windowMs !== undefined && { windowMs: options.windowMs };
    if (logger.enabled('error'))
      this.#crashes = new LogLimiter({
        logger,
        clock: options.clock,
        level: 'error',
        kindField: 'crash',
        ...window,
      });
    if (logger.enabled('info'))
      this.#restarts = new LogLimiter({
        logger,
        clock: options.clock,
        level: 'info',
        kindField: 'restarts',
        ...window,
      });
    // Nothing subscribes when dead letters would not be written: a flood then costs nothing here.
    if (logger.enabled('warn')) {
      const limiter = new LogLimiter({
        logger,
        clock: options.clock,
        level: 'warn',
        kindField: 'reason',
        ...window,
      });
      this.#limiter = limiter;
      this.#unsubscribe = options.deadLetters.subscribe((letter) =>
        limiter.note(letter.reason, 'dead letter', () => this.#letterFields(letter)),
      );
    }
  }

  /** A handler, init, save, watchdog, supervisor hook or onStop failed. */
  failed(
    cell: CellState,
    error: unknown,
    envelope: Envelope | undefined,
    phase: FailurePhase | 'stop' | undefined,
  ): void {
    const crashes = this.#crashes;
    if (crashes === undefined) return;
    // A supervisor failing in its own hooks is an escalation (too many restarts, or a child's `escalate`): rare
    // and decisive, always written.
    if (phase === 'supervision') {
      this.logger.error('supervisor escalates', fieldsOf(cell, error, envelope, phase));
      return;
    }
    const kind = this.#crashKind(cell.definition.type, phase, error);
    const msg = phase === 'persistence' ? 'actor state not saved' : 'actor crashed';
    // Past the first of a flood, a crash is only counted: nothing more is worked out for it.
    if (crashes.counted(kind, msg)) return;
    crashes.note(kind, msg, () => fieldsOf(cell, error, envelope, phase));
  }

  /**
   * The kind a crash is counted under: actor type, phase, and the error's code (else its name, else its
   * `typeof`). The last one is kept: a flood builds no new string for each crash, and the limiter finds the
   * kind it saw last by identity.
   */
  #crashKind(actorType: string, phase: FailurePhase | 'stop' | undefined, error: unknown): string {
    const code = (error as { code?: unknown } | null | undefined)?.code;
    const tag = typeof code === 'string' ? code : error instanceof Error ? error.name : typeof error;
    const last = this.#lastCrash;
    if (last !== undefined && last.actorType === actorType && last.phase === phase && last.tag === tag)
      return last.kind;
    const kind = `${actorType} ${phase ?? 'handler'} ${tag}`;
    this.#lastCrash = { actorType, phase, tag, kind };
    return kind;
  }

  restarting(cell: CellState, reason: unknown, delayMs: number | undefined): void {
    const restarts = this.#restarts;
    if (restarts === undefined || restarts.counted(cell.definition.type, 'actor restarting')) return;
    restarts.note(cell.definition.type, 'actor restarting', () => ({
      address: cell.address,
      actorType: cell.definition.type,
      attempt: cell.restarts + 1,
      delayMs: delayMs ?? 0,
      ...(reason !== undefined && { reason: messageOf(reason) }),
    }));
  }

  /** An actor stopped; one that stopped because it failed (no restart left, or none wanted) is an error. */
  stopped(cell: CellState): void {
    if (cell.exitReason !== 'failed') {
      if (this.logger.enabled('debug'))
        this.logger.debug('actor stopped', { address: cell.address, actorType: cell.definition.type });
      return;
    }
    if (!this.logger.enabled('error')) return;
    const error = cell.lastError;
    const code = (error as { code?: unknown } | undefined)?.code;
    this.logger.error('actor stopped after failure', {
      address: cell.address,
      actorType: cell.definition.type,
      restarts: cell.restarts,
      ...(code !== undefined && { code }),
      ...(error !== undefined && { reason: messageOf(error) }),
    });
  }

  /** Writes the dead-letter counts not written yet and stops listening (on close). */
  close(): void {
    this.#unsubscribe?.();
    this.#limiter?.flush();
    this.#crashes?.flush();
    this.#restarts?.flush();
  }

  #letterFields(letter: DeadLetter): LogFields {
    const fields: LogFields = { address: letter.address };
    const type = typeOf(letter.message);
    if (type !== undefined) fields.messageType = type;
    if (letter.sender !== undefined) fields.sender = letter.sender;
    // The message only: a crash's stack was written with the crash, and the rest are the router's own frames.
    const error = letter.error;
    if (error !== undefined) {
      if (error.code !== letter.reason) fields.code = error.code;
      fields.error = error.message;
    }
    return fields;
  }
}
