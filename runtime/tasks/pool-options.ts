// The embedded task pool's options: what `taskPool()` accepts and the defaults applied once, at creation.

import { type Clock, systemClock } from '../core/clock.js';
import { type Logger, loggerOption } from '../core/logger.js';
import { assertOptionsObject, clockOption, intOption } from '../core/options.js';
import { type Tracing, tracingOption } from '../ports/tracing.js';
import { defaultThreadCount } from './threads.js';

/** Options of {@link taskPool}. */
export interface TaskPoolOptions {
  /**
   * Worker threads for sandboxed tasks (started on first use).
   * @defaultValue the number of cores minus one, between 1 and 4
   */
  threads?: number;
  /** Drives timeouts, backoff and rate limits. @defaultValue the real clock */
  clock?: Clock;
  /**
   * Where failed attempts (warn) and failed runs (error) are logged, with the error's stack.
   * @defaultValue `createLogger({ level: process.env.TROUPE_LOG_LEVEL ?? 'warn' })`
   */
  logger?: Logger;
  /**
   * Records a span per run queued and per attempt (its child): `otelTracing()` from troupe/telemetry.
   * @defaultValue none
   */
  tracing?: Tracing;
}

/** {@link TaskPoolOptions} after defaults. */
export interface ResolvedTaskPoolOptions {
  readonly threads: number;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly tracing: Tracing | undefined;
}

/** Applies defaults to pool options and validates them; never mutates `options`. Throws `INVALID_OPTIONS`. */
export function resolveTaskPoolOptions(options: TaskPoolOptions = {}): ResolvedTaskPoolOptions {
  assertOptionsObject(options, 'options', 'expected { threads?, clock?, logger?, tracing? }');
  return {
    threads: intOption(options.threads, 'threads', defaultThreadCount(), 1),
    clock: clockOption(options.clock, systemClock),
    logger: loggerOption(options.logger).child({ component: 'tasks' }),
    tracing: tracingOption(options.tracing),
  };
}
