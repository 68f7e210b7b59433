// Structured logging: the Logger contract systems, transports and task runners log through, and its default
// implementation (one JSON line per event, or readable lines on a TTY).

import { InvalidOptionsError } from './errors.js';

/** Severity of a log event; `silent` as a logger's level turns every event off. */
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

/** Structured fields of a log event. `Error` values are written with their name, code, stack and causes. */
export type LogFields = Record<string, unknown>;

/**
 * Where troupe writes what happens: crashes, restarts, dead letters, joins and leaves, task failures.
 * Any logger can be adapted to it (pino's and bunyan's methods have this shape: `logger.warn(msg, fields)` maps
 * to `pino.warn(fields, msg)`).
 *
 * @example
 * const logger = createLogger({ level: 'info' });
 * logger.info('started', { node: 'n1' });
 * const log = logger.child({ node: 'n1' }); // every event of `log` carries node=n1
 */
export interface Logger {
  /** The least severe level written. */
  readonly level: LogLevel;
  /** True when events at `level` are written: check it before building costly fields. */
  enabled(level: LogLevel): boolean;
  trace(msg: string, fields?: LogFields): void;
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  fatal(msg: string, fields?: LogFields): void;
  /** A logger that adds `bindings` to every event it writes (same level and destination). */
  child(bindings: LogFields): Logger;
}

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** @defaultValue 'info' */
  level?: LogLevel;
  /**
   * `json`: one JSON object per line (`time`, `level`, `msg`, then bindings and fields); `pretty`:
   * `HH:MM:SS.mmm LEVEL msg key=value …` with error stacks indented below; `auto`: pretty when writing to
   * standard error and it is a terminal, else json.
   * @defaultValue 'auto'
   */
  format?: 'json' | 'pretty' | 'auto';
  /** Receives each line (without its newline). @defaultValue a write to `process.stderr` */
  write?: (line: string) => void;
  /** Fields added to every event. */
  bindings?: LogFields;
}

/** Numeric order of the levels: a logger writes events whose rank is at least its own. */
const RANK: Record<LogLevel, number> = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
  silent: 100,
};
const LEVELS = Object.keys(RANK) as LogLevel[];

/** True when `value` names a level. */
export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === 'string' && Object.hasOwn(RANK, value);
}

/** Longest stack written per error, in characters. */
export const MAX_LOGGED_STACK = 4096;
/** Stack characters written per event across an error and its causes. */
export const MAX_LOGGED_STACKS = 16_384;
/** Causes followed below an error. */
export const MAX_CAUSE_DEPTH = 3;

/** `text` cut to `max` characters, saying how long it was. */
export function capText(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(0, max))}… (${text.length} chars)`;
}

/** An error as a log event holds it: `{ name, message, code, stack, cause }`, stacks and depth capped. */
export function serializeError(error: unknown, budget = { left: MAX_LOGGED_STACKS }, depth = 0): LogFields {
  if (!(error instanceof Error)) {
    if (typeof error === 'object' && error !== null && 'message' in error) {
      // A wire error ({ code, message, stack?, cause? }): already plain, but its size is ours to bound.
      const wire = error as { code?: unknown; message?: unknown; stack?: unknown; cause?: unknown };
      return withStackAndCause(
        { code: wire.code, message: String(wire.message) },
        wire.stack,
        wire.cause,
        budget,
        depth,
      );
    }
    return { message: String(error) };
  }
  const out: LogFields = { name: error.name, message: error.message };
  const code = (error as { code?: unknown }).code;
  if (code !== undefined) out.code = code;
  return withStackAndCause(out, error.stack, error.cause, budget, depth);
}

function withStackAndCause(
  out: LogFields,
  stack: unknown,
  cause: unknown,
  budget: { left: number },
  depth: number,
): LogFields {
  if (typeof stack === 'string' && budget.left > 0) {
    const kept = capText(stack, Math.min(MAX_LOGGED_STACK, budget.left));
    budget.left -= kept.length;
    out.stack = kept;
  }
  if (cause !== undefined && depth < MAX_CAUSE_DEPTH) out.cause = serializeError(cause, budget, depth + 1);
  return out;
}

/** JSON.stringify's replacer for log fields: errors, bigints and binary data get a readable form. */
function replacer(this: unknown, _key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) return serializeError(value);
  if (ArrayBuffer.isView(value)) return `[binary: ${value.byteLength} bytes]`;
  return value;
}

/** `value` as JSON; a value JSON cannot hold (a cycle, say) becomes a note rather than an exception. */
function toJson(value: unknown): string {
  try {
    return JSON.stringify(value, replacer) ?? 'null';
  } catch (err) {
    return JSON.stringify(`[unserializable: ${(err as Error).message}]`);
  }
}

function pad(n: number, width: number): string {
  return n.toString().padStart(width, '0');
}

/** `HH:MM:SS.mmm`, local time. */
function clockTime(date: Date): string {
  return `${pad(date.getHours(), 2)}:${pad(date.getMinutes(), 2)}:${pad(date.getSeconds(), 2)}.${pad(date.getMilliseconds(), 3)}`;
}

/** A field value on a pretty line: bare when it is a plain word, else JSON. */
function prettyValue(value: unknown): string {
  if (typeof value === 'string') return /^[\w./:@$-]+$/.test(value) ? value : JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined)
    return String(value);
  return toJson(value);
}

/** The stack (or first line) of an error and of its causes, indented below a pretty line. */
function prettyError(error: LogFields, indent: string): string {
  const stack =
    typeof error.stack === 'string'
      ? error.stack
      : `${String(error.name ?? 'Error')}: ${String(error.message)}`;
  let text = `\n${indent}${stack.split('\n').join(`\n${indent}`)}`;
  const cause = error.cause as LogFields | undefined;
  if (cause !== undefined) text += `\n${indent}caused by:${prettyError(cause, `${indent}  `)}`;
  return text;
}

type Line = (
  level: LogLevel,
  msg: string,
  bindings: LogFields | undefined,
  fields: LogFields | undefined,
) => string;

function jsonLine(
  level: LogLevel,
  msg: string,
  bindings: LogFields | undefined,
  fields: LogFields | undefined,
): string {
  const event: LogFields = { time: new Date().toISOString(), level, msg };
  if (bindings !== undefined) Object.assign(event, bindings);
  if (fields !== undefined) {
    // Errors share one stack budget per event; other values go through the replacer.
    const budget = { left: MAX_LOGGED_STACKS };
    for (const key of Object.keys(fields)) {
      const value = fields[key];
      if (value === undefined) continue;
      event[key] = value instanceof Error ? serializeError(value, budget) : value;
    }
  }
  try {
    return JSON.stringify(event, replacer);
  } catch (err) {
    // A field JSON cannot hold (a cycle, say): the event is still written, with a note instead of its fields.
    return toJson({ time: event.time, level, msg, ...bindings, unserializable: (err as Error).message });
  }
}

function prettyLine(
  level: LogLevel,
  msg: string,
  bindings: LogFields | undefined,
  fields: LogFields | undefined,
): string {
  let line = `${clockTime(new Date())} ${level.toUpperCase().padEnd(5)} ${msg}`;
  let errors = '';
  const budget = { left: MAX_LOGGED_STACKS };
  for (const source of [bindings, fields]) {
    if (source === undefined) continue;
    for (const key of Object.keys(source)) {
      const value = source[key];
      if (value === undefined) continue;
      if (value instanceof Error) {
        const error = serializeError(value, budget);
        line += ` ${key}=${prettyValue(`${String(error.name)}: ${String(error.message)}`)}`;
        errors += prettyError(error, '    ');
      } else line += ` ${key}=${prettyValue(value)}`;
    }
  }
  return line + errors;
}

function defaultWrite(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** The default logger: filters by level, formats, writes; children share the destination. */
class LineLogger implements Logger {
  readonly level: LogLevel;
  readonly #rank: number;
  readonly #line: Line;
  readonly #write: (line: string) => void;
  readonly #bindings: LogFields | undefined;

  constructor(level: LogLevel, line: Line, write: (line: string) => void, bindings: LogFields | undefined) {
    this.level = level;
    this.#rank = RANK[level];
    this.#line = line;
    this.#write = write;
    this.#bindings = bindings;
  }

  enabled(level: LogLevel): boolean {
    return RANK[level] >= this.#rank && level !== 'silent';
  }

  trace(msg: string, fields?: LogFields): void {
    if (this.#rank <= 10) this.#emit('trace', msg, fields);
  }
  debug(msg: string, fields?: LogFields): void {
    if (this.#rank <= 20) this.#emit('debug', msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    if (this.#rank <= 30) this.#emit('info', msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    if (this.#rank <= 40) this.#emit('warn', msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    if (this.#rank <= 50) this.#emit('error', msg, fields);
  }
  fatal(msg: string, fields?: LogFields): void {
    if (this.#rank <= 60) this.#emit('fatal', msg, fields);
  }

  child(bindings: LogFields): Logger {
    assertFields(bindings, 'bindings');
    const merged = this.#bindings === undefined ? { ...bindings } : { ...this.#bindings, ...bindings };
    return new LineLogger(this.level, this.#line, this.#write, merged);
  }

  #emit(level: LogLevel, msg: string, fields: LogFields | undefined): void {
    try {
      this.#write(this.#line(level, String(msg), this.#bindings, fields));
    } catch {
      // Logging must never be the reason something fails (a closed pipe, a throwing sink).
    }
  }
}

class SilentLogger implements Logger {
  readonly level: LogLevel = 'silent';
  enabled(): boolean {
    return false;
  }
  trace(): void {}
  debug(): void {}
  info(): void {}
  warn(): void {}
  error(): void {}
  fatal(): void {}
  child(): Logger {
    return this;
  }
}

/** A logger that writes nothing. */
export const silentLogger: Logger = new SilentLogger();

function assertFields(value: unknown, field: string): asserts value is LogFields {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new InvalidOptionsError(field, 'expected an object of fields');
}

/**
 * Creates a logger. Throws {@link InvalidOptionsError} naming a bad option (`invalid level` for a level that is
 * not one of trace, debug, info, warn, error, fatal, silent).
 *
 * @example
 * const logger = createLogger({ level: 'debug', format: 'json' });
 * const lines: string[] = [];
 * const captured = createLogger({ format: 'json', write: (line) => lines.push(line) });
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  if (typeof options !== 'object' || options === null)
    throw new InvalidOptionsError('options', 'expected an object');
  const level = options.level ?? 'info';
  if (!isLogLevel(level))
    throw new InvalidOptionsError(
      'level',
      `invalid level ${JSON.stringify(level)}: expected one of ${LEVELS.join(', ')}`,
    );
  const format = options.format ?? 'auto';
  if (format !== 'json' && format !== 'pretty' && format !== 'auto')
    throw new InvalidOptionsError('format', `expected json, pretty or auto, got ${JSON.stringify(format)}`);
  if (options.write !== undefined && typeof options.write !== 'function')
    throw new InvalidOptionsError('write', 'expected a function');
  if (options.bindings !== undefined) assertFields(options.bindings, 'bindings');
  if (level === 'silent') return silentLogger;
  const write = options.write ?? defaultWrite;
  // Only the default destination can be known to be a terminal.
  const pretty =
    format === 'pretty' ||
    (format === 'auto' && options.write === undefined && process.stderr.isTTY === true);
  const bindings = options.bindings === undefined ? undefined : { ...options.bindings };
  return new LineLogger(level, pretty ? prettyLine : jsonLine, write, bindings);
}

/**
 * The library's logger when none is given: `TROUPE_LOG_LEVEL` (default `warn`), written to standard error.
 * An unknown `TROUPE_LOG_LEVEL` throws `INVALID_OPTIONS` naming it.
 */
export function defaultLogger(): Logger {
  const fromEnv = process.env.TROUPE_LOG_LEVEL;
  return createLogger({ level: (fromEnv === undefined || fromEnv === '' ? 'warn' : fromEnv) as LogLevel });
}

/** @internal Reads a `logger` option: the given logger, checked, or the default. */
export function loggerOption(value: unknown, field = 'logger'): Logger {
  if (value === undefined) return defaultLogger();
  const logger = value as Partial<Logger> | null;
  if (
    typeof logger !== 'object' ||
    logger === null ||
    typeof logger.enabled !== 'function' ||
    typeof logger.child !== 'function' ||
    typeof logger.error !== 'function'
  )
    throw new InvalidOptionsError(field, 'expected a Logger (level, enabled, trace … fatal, child)');
  return logger as Logger;
}
