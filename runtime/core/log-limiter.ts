// Rate-limited logging of events that can come in floods (dead letters, connection errors): the first of a kind
// is written at once, the rest are counted and summed up in one line per kind per window.

import type { Clock, TimerHandle } from './clock.js';
import type { LogFields, Logger, LogLevel } from './logger.js';

/** How long a summary window lasts. */
export const DEFAULT_LOG_WINDOW_MS = 5000;
/** Kinds tracked one by one; events of further kinds share one entry. */
const MAX_KINDS = 256;
const OTHER_KINDS = 'OTHER';

/** Options of {@link LogLimiter}. */
export interface LogLimiterOptions {
  logger: Logger;
  /** Its timers never keep a process alive when it is the system clock (they are unref'd). */
  clock: Clock;
  level: Exclude<LogLevel, 'silent'>;
  /** The field that names an event's kind in the lines written (`reason` for dead letters). */
  kindField: string;
  /** @defaultValue 5000 */
  windowMs?: number;
}

interface Kind {
  /** Events counted since the last line written for this kind. */
  count: number;
  /** Until then, events of this kind are counted rather than written. */
  quietUntil: number;
  timer: TimerHandle | undefined;
  msg: string;
}

/**
 * @internal Writes the first event of each kind at once, then at most one line per kind per window with the
 * count of events it stands for (`count`), so a flood of 10⁶ dead letters writes a handful of lines.
 *
 * @example
 * const deadLetters = new LogLimiter({ logger, clock, level: 'warn', kindField: 'reason' });
 * deadLetters.note('UNHANDLED', 'dead letter', () => ({ address }));
 */
export class LogLimiter {
  readonly #o: Required<LogLimiterOptions>;
  readonly #kinds = new Map<string, Kind>();
  /** The kind noted last and its entry: a flood repeats one kind, found without hashing its name again. */
  #lastKind: string | undefined;
  #last: Kind | undefined;

  constructor(options: LogLimiterOptions) {
    this.#o = { windowMs: DEFAULT_LOG_WINDOW_MS, ...options };
  }

  /**
   * Counts one event of kind `kind` when its kind is already being counted (its summary is due), and returns
   * true; false when the event may have to be written, for {@link note} to decide. A flood's events past the
   * first take this path: no clock read, no fields, one map lookup (none when the kind repeats).
   */
  counted(kind: string, msg: string): boolean {
    let entry = this.#last;
    if (entry === undefined || this.#lastKind !== kind) {
      entry =
        this.#kinds.get(kind) ?? (this.#kinds.size < MAX_KINDS ? undefined : this.#kinds.get(OTHER_KINDS));
      if (entry === undefined) return false;
      this.#last = entry;
      this.#lastKind = kind;
    }
    // A count above zero has its summary timer set (the first count sets it, the summary resets both).
    if (entry.count === 0) return false;
    entry.count++;
    entry.msg = msg;
    return true;
  }

  /** One event of kind `kind`; `fields` is called only when the event is written on its own. */
  note(kind: string, msg: string, fields?: () => LogFields): void {
    if (this.counted(kind, msg)) return;
    const now = this.#o.clock.now();
    const key = this.#kinds.has(kind) || this.#kinds.size < MAX_KINDS ? kind : OTHER_KINDS;
    let entry = this.#kinds.get(key);
    if (entry === undefined) {
      entry = { count: 0, quietUntil: 0, timer: undefined, msg };
      this.#kinds.set(key, entry);
    }
    if (now >= entry.quietUntil && entry.count === 0) {
      entry.quietUntil = now + this.#o.windowMs;
      this.#write(msg, { [this.#o.kindField]: kind, ...fields?.() });
      return;
    }
    entry.count++;
    entry.msg = msg;
    if (entry.timer === undefined) {
      entry.timer = this.#o.clock.setTimeout(() => this.#summarize(key), Math.max(0, entry.quietUntil - now));
    }
  }

  /** Writes the summaries of events counted so far and stops the timers (on close). */
  flush(): void {
    for (const [key, entry] of this.#kinds) {
      if (entry.timer !== undefined) this.#o.clock.clearTimeout(entry.timer);
      entry.timer = undefined;
      if (entry.count > 0) this.#summarize(key);
    }
  }

  #summarize(key: string): void {
    const entry = this.#kinds.get(key);
    if (entry === undefined) return;
    entry.timer = undefined;
    const count = entry.count;
    if (count === 0) return;
    entry.count = 0;
    // The summary opens the next window: a steady flood writes one line per window.
    entry.quietUntil = this.#o.clock.now() + this.#o.windowMs;
    this.#write(entry.msg, { [this.#o.kindField]: key, count, windowMs: this.#o.windowMs, summary: true });
  }

  #write(msg: string, fields: LogFields): void {
    this.#o.logger[this.#o.level](msg, fields);
  }
}
