// Load-generating loops shared by scenarios: every loop is bounded by a count and a deadline and stops by itself.

import { performance } from 'node:perf_hooks';
import { BenchError, BenchErrorCode } from './errors.js';

/** Epoch milliseconds with sub-millisecond resolution, comparable between processes on one machine. */
export function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

/** Resolves on the next turn of the event loop, after pending I/O callbacks. */
export function yieldToIo(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Options of {@link pipelined}. */
export interface PipelinedOptions {
  /** Most operations to start. */
  total: number;
  /** Operations outstanding at once. */
  window: number;
  /** Epoch ms (see {@link wallNow}) after which no new operation starts. */
  deadline: number;
  /** Starts operation `i`; its promise settles when the operation completes. */
  issue: (i: number) => Promise<unknown>;
  /** Called with each operation's latency in nanoseconds, when given. */
  onLatency?: (ns: number) => void;
}

/** What a bounded loop did. */
export interface LoopResult {
  /** Operations that completed successfully. */
  completed: number;
  /** Operations that failed (the first error is kept). */
  failed: number;
  firstError: unknown;
  elapsedMs: number;
}

/**
 * Keeps `window` operations in flight until `total` were started or the deadline passed, then waits for the
 * ones in flight. With `window: 1` it is a sequential loop.
 *
 * @example
 * const r = await pipelined({ total: 10_000, window: 500, deadline: wallNow() + 5000, issue: () => ref.ask(msg) });
 */
export function pipelined(options: PipelinedOptions): Promise<LoopResult> {
  const { total, deadline, issue, onLatency } = options;
  const window = Math.max(1, Math.min(options.window, total));
  const start = performance.now();
  let started = 0;
  let settled = 0;
  let completed = 0;
  let failed = 0;
  let firstError: unknown;
  let stopped = false;
  return new Promise<LoopResult>((resolve) => {
    if (total <= 0) {
      resolve({ completed: 0, failed: 0, firstError: undefined, elapsedMs: 0 });
      return;
    }
    const finish = (): void => {
      resolve({ completed, failed, firstError, elapsedMs: performance.now() - start });
    };
    const launch = (): void => {
      const i = started++;
      const t0 = onLatency ? performance.now() : 0;
      let promise: Promise<unknown>;
      try {
        promise = issue(i);
      } catch (err) {
        promise = Promise.reject(err);
      }
      promise.then(
        () => {
          if (onLatency) onLatency((performance.now() - t0) * 1e6);
          completed++;
          next();
        },
        (err: unknown) => {
          failed++;
          firstError ??= err;
          next();
        },
      );
    };
    const next = (): void => {
      settled++;
      // Check the clock only every 64 completions: it costs more than the bookkeeping.
      if (!stopped && (settled & 63) === 0 && wallNow() > deadline) stopped = true;
      if (!stopped && started < total) launch();
      else if (settled === started) finish();
    };
    for (let i = 0; i < window; i++) launch();
  });
}

/** {@link pipelined}, as completed operations per second; rejects with the first error if any failed. */
export async function pipelinedRate(options: PipelinedOptions): Promise<number> {
  const r = await pipelined(options);
  if (r.failed > 0) throw r.firstError;
  return (r.completed / r.elapsedMs) * 1000;
}

/** Resolves with `promise`, or rejects with `BENCH_TIMEOUT` naming `what` after `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new BenchError(BenchErrorCode.Timeout, `${what} did not finish within ${ms} ms`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
