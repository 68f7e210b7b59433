// The options of a system: what users pass to createSystem, and the same after defaults and checks.

import { randomBytes } from 'node:crypto';
import { type Clock, systemClock } from '../core/clock.js';
import { assertValidName } from '../core/envelope.js';
import { InvalidOptionsError } from '../core/errors.js';
import { type Logger, loggerOption } from '../core/logger.js';
import { assertOptionsObject, clockOption, intOption } from '../core/options.js';
import type { Metrics } from '../ports/metrics.js';
import { type Tracing, tracingOption } from '../ports/tracing.js';
import type { Transport } from '../ports/transport.js';
import type { TaskRunner } from '../tasks/runner.js';
import { MAX_TIMEOUT_MS } from './checks.js';

/** Options of {@link createSystem}. */
export interface SystemOptions {
  /**
   * This node's id: the first segment of every local address, unique among the nodes on one transport.
   * @defaultValue a random id such as `n3f9a1c2e`
   */
  nodeId?: string;
  /**
   * Carries messages to other nodes. Without one the system is a single in-process node: addresses on other
   * nodes are unreachable (asks fail with `NO_RESPONDERS`, tells become dead letters).
   * @defaultValue none
   */
  transport?: Transport;
  /**
   * Runs `ctx.runTask`: `bullmqTaskRunner()` for worker nodes over Redis, `taskPool()` in-process. The system
   * uses it but does not own it: close it after the system.
   * @defaultValue none (`ctx.runTask` fails with `NO_TASK_RUNNER`)
   */
  tasks?: TaskRunner;
  /**
   * Counts messages in and out per actor type, failures, restarts, asks by outcome and samples handle
   * durations, read with the dead letters, the transport's and the task runner's figures when collected:
   * `otelMetrics()` from troupe/telemetry. Without it nothing is counted.
   * @defaultValue none
   */
  metrics?: Metrics;
  /**
   * Records spans for tells, asks, handlers, spawns, activations and durable mail, with W3C trace context in
   * envelope headers: `otelTracing()` from troupe/telemetry. Without it, no span and no header.
   * @defaultValue none
   */
  tracing?: Tracing;
  /** @defaultValue the real clock */
  clock?: Clock;
  /** @defaultValue 5000 */
  askTimeoutMs?: number;
  /**
   * Messages an actor handles per turn before yielding to others and to I/O.
   * @defaultValue 300
   */
  throughput?: number;
  /**
   * Most virtual actors active at once on this node; past it the least recently used idle ones are passivated.
   * @defaultValue unlimited
   */
  maxActiveVirtual?: number;
  /**
   * How many recent dead letters are kept for `deadLetters.recent()`.
   * @defaultValue 1000
   */
  deadLetterBuffer?: number;
  /**
   * Longest `drain()` waits for mailboxes to empty before it stops actors anyway.
   * @defaultValue 10000
   */
  drainTimeoutMs?: number;
  /**
   * Where the system writes crashes (with their stack), restarts, escalations and dead letters (rate-limited:
   * the first of each reason at once, then one line per reason per 5 s with the count). Its events carry
   * `node`, this node's id.
   * @defaultValue `createLogger({ level: process.env.TROUPE_LOG_LEVEL ?? 'warn' })`
   */
  logger?: Logger;
}

/** {@link SystemOptions} after defaults. */
export interface ResolvedSystemOptions {
  nodeId: string;
  transport: Transport | undefined;
  tasks: TaskRunner | undefined;
  metrics: Metrics | undefined;
  tracing: Tracing | undefined;
  clock: Clock;
  askTimeoutMs: number;
  throughput: number;
  deadLetterBuffer: number;
  drainTimeoutMs: number;
  maxActiveVirtual: number;
  /** The logger with this node's id bound. */
  logger: Logger;
}

export const DEFAULT_ASK_TIMEOUT_MS = 5000;
export const DEFAULT_THROUGHPUT = 300;
export const DEFAULT_DEAD_LETTER_BUFFER = 1000;
export const DEFAULT_DRAIN_TIMEOUT_MS = 10_000;

function resolveTasks(tasks: TaskRunner | undefined): TaskRunner | undefined {
  if (tasks !== undefined && (typeof tasks !== 'object' || tasks === null || typeof tasks.run !== 'function'))
    throw new InvalidOptionsError('tasks', 'expected a TaskRunner');
  return tasks;
}

function resolveMetrics(metrics: Metrics | undefined): Metrics | undefined {
  if (metrics !== undefined && typeof metrics?.attach !== 'function')
    throw new InvalidOptionsError('metrics', 'expected a Metrics (otelMetrics() from troupe/telemetry)');
  return metrics;
}

/** Applies defaults and validates; never mutates `options`. Throws {@link InvalidOptionsError} naming the field. */
export function resolveSystemOptions(options: SystemOptions = {}): ResolvedSystemOptions {
  assertOptionsObject(options, 'options');
  const nodeId = options.nodeId ?? `n${randomBytes(4).toString('hex')}`;
  try {
    assertValidName(nodeId, 'node id');
  } catch (err) {
    throw new InvalidOptionsError('nodeId', (err as Error).message);
  }
  const clock = clockOption(options.clock, systemClock);
  if (options.transport !== undefined && typeof options.transport?.bind !== 'function') {
    throw new InvalidOptionsError('transport', 'expected a Transport');
  }
  return {
    nodeId,
    transport: options.transport,
    tasks: resolveTasks(options.tasks),
    metrics: resolveMetrics(options.metrics),
    tracing: tracingOption(options.tracing),
    clock,
    askTimeoutMs: intOption(options.askTimeoutMs, 'askTimeoutMs', DEFAULT_ASK_TIMEOUT_MS, 1, MAX_TIMEOUT_MS),
    throughput: intOption(options.throughput, 'throughput', DEFAULT_THROUGHPUT, 1),
    deadLetterBuffer: intOption(options.deadLetterBuffer, 'deadLetterBuffer', DEFAULT_DEAD_LETTER_BUFFER, 0),
    drainTimeoutMs: intOption(options.drainTimeoutMs, 'drainTimeoutMs', DEFAULT_DRAIN_TIMEOUT_MS, 0),
    maxActiveVirtual: intOption(options.maxActiveVirtual, 'maxActiveVirtual', Number.MAX_SAFE_INTEGER, 1),
    logger: loggerOption(options.logger).child({ node: nodeId }),
  };
}
