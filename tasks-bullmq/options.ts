// What the BullMQ runner and its workers share: options and their defaults, Redis keys and connection settings.

import {
  type AnyTaskDefinition,
  type Clock,
  InvalidOptionsError,
  type Logger,
  systemClock,
  type Tracing,
} from '../runtime/index.js';
import {
  assertOptionsObject,
  clockOption,
  defaultThreadCount,
  intOption,
  loggerOption,
  tracingOption,
} from '../runtime/internal.js';

/** Options of {@link bullmqTaskRunner}. */
export interface BullmqTaskRunnerOptions {
  /** @defaultValue `redis://127.0.0.1:6379` */
  redis?: string;
  /**
   * Prefix of every Redis key: runners (callers and worker nodes) with the same prefix share their queues.
   * @defaultValue `troupe`
   */
  prefix?: string;
  /**
   * Tasks this process works on (a worker node). Without any, the runner only queues jobs and waits for results.
   * @defaultValue none
   */
  work?: readonly AnyTaskDefinition[];
  /**
   * Name of this worker, stored on each job it processes (`processedBy`; one more write per job).
   * @defaultValue none
   */
  workerName?: string;
  /**
   * Worker threads for sandboxed tasks.
   * @defaultValue the number of cores minus one, between 1 and 4
   */
  threads?: number;
  /**
   * How long a worker's lock on a job lasts without renewal; a worker that died is noticed after about this long,
   * and its job goes to another worker.
   * @defaultValue 30000
   */
  lockDurationMs?: number;
  /** @defaultValue 30000 */
  stalledIntervalMs?: number;
  /**
   * Times a job may stall (its worker died) before it fails instead of being taken over.
   * @defaultValue 1
   */
  maxStalledCount?: number;
  /** Completed jobs kept per queue (for inspection). @defaultValue 1000 */
  keepCompleted?: number;
  /** Failed jobs kept per queue. @defaultValue 5000 */
  keepFailed?: number;
  /**
   * Longest any call waits for Redis to answer before it fails with `TRANSPORT_CONNECT_FAILED`: `ready()`,
   * queuing a job in `run` (once queued, a run waits for its result), `counts()`.
   * @defaultValue 10000
   */
  connectTimeoutMs?: number;
  /** Longest `drain()` waits for the runs this process started. @defaultValue 30000 */
  drainTimeoutMs?: number;
  /** Drives task timeouts. @defaultValue the real clock */
  clock?: Clock;
  /**
   * Where the runner logs Redis connection errors (rate-limited) and reconnects, and a worker node its start
   * and stop, failed attempts (warn) and failed jobs (error) with their stack. Events carry `component: 'tasks'`.
   * @defaultValue `createLogger({ level: process.env.TROUPE_LOG_LEVEL ?? 'warn' })`
   */
  logger?: Logger;
  /**
   * Records a span per job queued (its trace context rides in the job) and, on a worker node, per job run (a child
   * of the queuing span, in another process too): `otelTracing()` from troupe/telemetry, the one given to
   * `createSystem({ tracing })`.
   * @defaultValue none
   */
  tracing?: Tracing;
}

/** {@link BullmqTaskRunnerOptions} after defaults. */
export interface ResolvedBullmqOptions {
  readonly url: string;
  readonly prefix: string;
  readonly work: readonly AnyTaskDefinition[];
  readonly workerName: string | undefined;
  readonly threads: number;
  readonly lockDurationMs: number;
  readonly stalledIntervalMs: number;
  readonly maxStalledCount: number;
  readonly keepCompleted: number;
  readonly keepFailed: number;
  readonly connectTimeoutMs: number;
  readonly drainTimeoutMs: number;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly tracing: Tracing | undefined;
}

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
export const DEFAULT_PREFIX = 'troupe';

/** Applies defaults and validates; never mutates `options`. Throws {@link InvalidOptionsError} naming the field. */
export function resolveBullmqOptions(options: BullmqTaskRunnerOptions = {}): ResolvedBullmqOptions {
  assertOptionsObject(options, 'options');
  const url = options.redis ?? DEFAULT_REDIS_URL;
  if (typeof url !== 'string' || !/^rediss?:\/\//.test(url))
    throw new InvalidOptionsError('redis', `expected a redis:// URL, got ${String(url)}`);
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  if (typeof prefix !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(prefix))
    throw new InvalidOptionsError('prefix', `expected 1-64 of A-Z a-z 0-9 _ . -, got ${String(prefix)}`);
  const work = options.work ?? [];
  const resolved = {
    url,
    prefix,
    work,
    threads: intOption(options.threads, 'threads', defaultThreadCount(), 1),
    lockDurationMs: intOption(options.lockDurationMs, 'lockDurationMs', 30_000, 100),
    stalledIntervalMs: intOption(options.stalledIntervalMs, 'stalledIntervalMs', 30_000, 100),
    maxStalledCount: intOption(options.maxStalledCount, 'maxStalledCount', 1, 0),
    keepCompleted: intOption(options.keepCompleted, 'keepCompleted', 1000, 0),
    keepFailed: intOption(options.keepFailed, 'keepFailed', 5000, 0),
    connectTimeoutMs: intOption(options.connectTimeoutMs, 'connectTimeoutMs', 10_000, 1),
    drainTimeoutMs: intOption(options.drainTimeoutMs, 'drainTimeoutMs', 30_000, 0),
  };
  const workerName = options.workerName;
  if (workerName !== undefined && (typeof workerName !== 'string' || workerName.length === 0))
    throw new InvalidOptionsError('workerName', `expected a non-empty string, got ${String(workerName)}`);
  const clock = clockOption(options.clock, systemClock);
  if (!Array.isArray(work)) throw new InvalidOptionsError('work', 'expected an array of task definitions');
  const names = new Set<string>();
  for (const task of work) {
    if (typeof task !== 'object' || task === null || typeof task.name !== 'string')
      throw new InvalidOptionsError('work', 'expected task definitions from defineTask()');
    if (names.has(task.name)) throw new InvalidOptionsError('work', `task ${task.name} is listed twice`);
    names.add(task.name);
  }
  const logger = loggerOption(options.logger).child({ component: 'tasks' });
  return { ...resolved, workerName, clock, logger, tracing: tracingOption(options.tracing) };
}

/** `url` without its password, fit for a log line. */
export function redactUrl(url: string): string {
  return url.replace(/^(rediss?:\/\/)([^@/]*)@/, (_m, scheme: string, auth: string) =>
    auth.includes(':') ? `${scheme}${auth.slice(0, auth.indexOf(':'))}:***@` : `${scheme}***@`,
  );
}

/** Job data as stored in Redis: short keys, JSON. */
export interface JobData {
  /** input */
  i: unknown;
  /** timeout of one attempt, ms (absent: none) */
  t?: number;
  /** trace context of the queuing span (`traceparent`, `tracestate`), when the caller traces */
  c?: Record<string, string>;
}

/** The pub/sub channel on which callers tell workers to abort a running job (the message is the job id). */
export function cancelChannel(prefix: string): string {
  return `${prefix}:troupe:cancel`;
}

/** The Redis stream of one queue's events (BullMQ's key scheme). */
export function eventsKey(prefix: string, queue: string): string {
  return `${prefix}:${queue}:events`;
}

/** SCAN pattern of every queue's meta key under `prefix`, and the queue name such a key names. */
export function metaPattern(prefix: string): string {
  return `${prefix}:*:meta`;
}
export function queueOfMetaKey(prefix: string, key: string): string {
  return key.slice(prefix.length + 1, -':meta'.length);
}

/** Blocking connections (workers, queue events) must retry forever, or a Redis restart would end them. */
export function blockingConnection(url: string): { url: string; maxRetriesPerRequest: null } {
  return { url, maxRetriesPerRequest: null };
}

/**
 * The connection jobs are added on. A command ioredis holds while Redis is away would be sent after the run gave
 * up on it, and its job would run for nobody: with no offline queue such a command fails at once instead (the run
 * retries it until its deadline), and with maxRetriesPerRequest 0 one cut off by a lost connection fails at once
 * too (never resent, never stuck).
 */
export function adderConnection(url: string): {
  url: string;
  enableOfflineQueue: false;
  maxRetriesPerRequest: 0;
} {
  return { url, enableOfflineQueue: false, maxRetriesPerRequest: 0 };
}

/** An add that failed because it was not sent (Redis away) or was cut off (never resent): safe to retry. */
export function isConnectionError(err: unknown): boolean {
  const message = err instanceof Error ? err.message : String(err);
  return /enableOfflineQueue|max retries per request|Connection is closed|ECONNREFUSED|ECONNRESET|EPIPE/i.test(
    message,
  );
}
