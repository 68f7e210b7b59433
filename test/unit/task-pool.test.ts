// The task contract and the embedded pool: options, retries with backoff, timeouts, cancellation, priorities, limits.

import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createSystem,
  defineActor,
  defineTask,
  ErrorCode,
  InvalidOptionsError,
  ManualClock,
  type Reply,
  type TaskOptions,
  type TaskRunner,
  TroupeError,
  taskPool,
} from '../../runtime/index.js';
import { resolveTaskOptions } from '../../runtime/internal.js';
import { until } from '../helpers/fixtures.js';

const spinModule = new URL('../integration/fixtures/spin-handler.mjs', import.meta.url);

const runners: TaskRunner[] = [];
afterEach(async () => {
  for (const r of runners.splice(0)) await r.close();
});

function pool(clock?: ManualClock, threads?: number): TaskRunner {
  const r = taskPool({ ...(clock ? { clock } : {}), ...(threads ? { threads } : {}) });
  runners.push(r);
  return r;
}

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

function waitForAbort(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
}

describe('defineTask and resolveTaskOptions', () => {
  it('fills in defaults without touching the caller object', () => {
    const given: TaskOptions = { attempts: 3 };
    const resolved = resolveTaskOptions(given);
    expect(resolved).toEqual({
      concurrency: 1,
      attempts: 3,
      backoffMs: 1000,
      timeoutMs: 0,
      priority: 0,
      rateLimit: undefined,
      sandbox: false,
    });
    expect(given).toEqual({ attempts: 3 });
    expect(Object.isFrozen(resolved)).toBe(true);
  });

  it('names the bad field', () => {
    const field = (options: unknown): string | undefined => {
      try {
        resolveTaskOptions(options as TaskOptions);
      } catch (err) {
        expect(err).toBeInstanceOf(InvalidOptionsError);
        return (err as InvalidOptionsError).field;
      }
      return undefined;
    };
    expect(field({ concurrency: 0 })).toBe('concurrency');
    expect(field({ attempts: 1.5 })).toBe('attempts');
    expect(field({ backoffMs: -1 })).toBe('backoffMs');
    expect(field({ timeoutMs: '5' })).toBe('timeoutMs');
    expect(field({ priority: 3_000_000 })).toBe('priority');
    expect(field({ rateLimit: { max: 0, intervalMs: 10 } })).toBe('rateLimit.max');
    expect(field({ rateLimit: { max: 1 } })).toBe('rateLimit.intervalMs');
    expect(field({ sandbox: 'yes' })).toBe('sandbox');
    expect(field({})).toBeUndefined();
  });

  it('rejects bad names, and sandboxing without a module', () => {
    expect(() => defineTask('a:b', () => 1)).toThrow(/invalid task name/);
    expect(() => defineTask('ok', () => 1, { sandbox: true })).toThrow(InvalidOptionsError);
    expect(() => defineTask('ok', { module: './relative.js' })).toThrow(/absolute path/);
    const t = defineTask('spin', { module: spinModule }, { sandbox: true });
    expect(t.module).toEqual({ url: spinModule.href, export: 'default' });
    expect(defineTask('by-path', { module: fileURLToPath(spinModule) }).module?.url).toBe(spinModule.href);
  });
});

describe('taskPool', () => {
  it('runs a typed task from an actor, with progress', async () => {
    const tasks = pool();
    await using system = await createSystem({ tasks });
    const double = defineTask<{ n: number }, number>('double', (input, ctx) => {
      ctx.progress('halfway');
      return input.n * 2;
    });
    const seen: unknown[] = [];
    type Api = { go: { n: number } & Reply<number> };
    const ref = system.spawn(
      defineActor<Api>({
        handlers: {
          go: (msg, ctx) => ctx.runTask(double, { n: msg.n }, { onProgress: (p) => seen.push(p) }),
        },
      }),
    );
    expect(await ref.ask({ type: 'go', n: 21 })).toBe(42);
    expect(seen).toEqual(['halfway']);
    expect((await tasks.counts()).double).toEqual({
      waiting: 0,
      active: 0,
      delayed: 0,
      completed: 1,
      failed: 0,
    });
  });

  it('retries with exponential backoff on the injected clock, then fails with the last error', async () => {
    const clock = new ManualClock();
    const tasks = pool(clock);
    const attempts: number[] = [];
    const flaky = defineTask<{}, never>(
      'flaky',
      (_input, ctx) => {
        attempts.push(ctx.attempt);
        throw new Error(`boom ${ctx.attempt}`);
      },
      { attempts: 3, backoffMs: 100 },
    );
    let outcome: unknown;
    tasks.run(flaky, {}).catch((err: unknown) => {
      outcome = err;
    });
    await until(() => attempts.length === 1);
    await until(() => clock.pending === 1);
    expect((await tasks.counts(flaky)).flaky?.delayed).toBe(1);
    clock.advance(99);
    expect(attempts).toEqual([1]);
    clock.advance(1);
    await until(() => attempts.length === 2);
    await until(() => clock.pending === 1);
    clock.advance(199);
    expect(attempts).toEqual([1, 2]);
    clock.advance(1);
    await until(() => outcome !== undefined);
    expect(attempts).toEqual([1, 2, 3]);
    expect(TroupeError.is(outcome, ErrorCode.TaskFailed)).toBe(true);
    expect((outcome as Error).message).toContain('attempt 3/3) failed: boom 3');
    expect((await tasks.counts(flaky)).flaky).toMatchObject({ failed: 1, delayed: 0, completed: 0 });
  });

  it('times an attempt out: the signal aborts and the run fails with TASK_TIMEOUT', async () => {
    const clock = new ManualClock();
    const tasks = pool(clock);
    let aborted: unknown;
    const stuck = defineTask<{}, string>(
      'stuck',
      (_input, ctx) =>
        waitForAbort(ctx.signal).catch((reason: unknown) => {
          aborted = reason;
          return 'ignored';
        }),
      { timeoutMs: 5000 },
    );
    let outcome: unknown;
    tasks.run(stuck, {}).catch((err: unknown) => {
      outcome = err;
    });
    clock.advance(4999);
    await until(() => false, 20).catch(() => undefined);
    expect(outcome).toBeUndefined();
    clock.advance(1);
    await until(() => outcome !== undefined);
    expect(TroupeError.is(outcome, ErrorCode.TaskTimeout)).toBe(true);
    expect(TroupeError.is(aborted, ErrorCode.TaskTimeout)).toBe(true);
  });

  it('cancels waiting and running jobs; a cancelled job is not retried', async () => {
    const tasks = pool(new ManualClock());
    const started: string[] = [];
    let abortedRunning = false;
    const serial = defineTask<{ id: string }, string>(
      'serial',
      async (input, ctx) => {
        started.push(input.id);
        await waitForAbort(ctx.signal).catch((reason: unknown) => {
          abortedRunning = true;
          throw reason;
        });
        return input.id;
      },
      { attempts: 3 },
    );
    const a = new AbortController();
    const b = new AbortController();
    const first = tasks.run(serial, { id: 'a' }, { signal: a.signal });
    const second = tasks.run(serial, { id: 'b' }, { signal: b.signal });
    expect((await tasks.counts(serial)).serial).toMatchObject({ active: 1, waiting: 1 });
    b.abort();
    expect(TroupeError.is(await second.catch((e: unknown) => e), ErrorCode.TaskCancelled)).toBe(true);
    expect((await tasks.counts(serial)).serial).toMatchObject({ active: 1, waiting: 0 });
    a.abort();
    expect(TroupeError.is(await first.catch((e: unknown) => e), ErrorCode.TaskCancelled)).toBe(true);
    await until(() => abortedRunning);
    await until(() => false, 20).catch(() => undefined);
    expect(started).toEqual(['a']);
    expect((await tasks.counts(serial)).serial).toMatchObject({
      active: 0,
      waiting: 0,
      delayed: 0,
      failed: 2,
    });
    // Already aborted: fails at once.
    expect(
      TroupeError.is(
        await tasks.run(serial, { id: 'c' }, { signal: a.signal }).catch((e: unknown) => e),
        ErrorCode.TaskCancelled,
      ),
    ).toBe(true);
  });

  it('serves jobs without priority first, then by priority, first in first out within one', async () => {
    const tasks = pool(new ManualClock());
    const gate = deferred();
    const order: string[] = [];
    const job = defineTask<{ id: string }, void>('ordered', async (input) => {
      order.push(input.id);
      if (input.id === 'blocker') await gate.promise;
    });
    const runs = [tasks.run(job, { id: 'blocker' })];
    runs.push(tasks.run(job, { id: 'low' }, { priority: 5 }));
    runs.push(tasks.run(job, { id: 'high-1' }, { priority: 1 }));
    runs.push(tasks.run(job, { id: 'plain' }));
    runs.push(tasks.run(job, { id: 'high-2' }, { priority: 1 }));
    gate.resolve();
    await Promise.all(runs);
    expect(order).toEqual(['blocker', 'plain', 'high-1', 'high-2', 'low']);
  });

  it('honours concurrency and the rate limit (jobs per interval) on the injected clock', async () => {
    const clock = new ManualClock();
    const tasks = pool(clock);
    const done: number[] = [];
    const limited = defineTask<{ n: number }, number>('limited', (input) => input.n, {
      concurrency: 4,
      rateLimit: { max: 2, intervalMs: 1000 },
    });
    const runs = [1, 2, 3, 4, 5].map((n) => tasks.run(limited, { n }).then((v) => done.push(v)));
    await until(() => done.length === 2);
    await until(() => false, 20).catch(() => undefined);
    expect(done).toEqual([1, 2]);
    clock.advance(1000);
    await until(() => done.length === 4);
    clock.advance(1000);
    await Promise.all(runs);
    expect(done).toEqual([1, 2, 3, 4, 5]);
  });

  it('delivers outcome and progress as messages to the actor address', async () => {
    const tasks = pool();
    await using system = await createSystem({ tasks });
    const square = defineTask<{ n: number }, number>('square', (input, ctx) => {
      ctx.progress(input.n);
      if (input.n < 0) throw new Error('negative');
      return input.n * input.n;
    });
    type Api = {
      go: { n: number };
      progress: { value: unknown };
      ok: { value: number };
      err: { code: string; message: string };
      log: Reply<string[]>;
    };
    const ref = system.spawn(
      defineActor<Api, string[]>({
        init: () => [],
        handlers: {
          go: (msg, ctx) => {
            ctx.runTask(
              square,
              { n: msg.n },
              {
                deliver: {
                  ok: (value) => ({ type: 'ok', value }),
                  error: (e) => ({ type: 'err', code: e.code, message: e.message }),
                  progress: (value) => ({ type: 'progress', value }),
                },
              },
            );
          },
          progress: (msg, ctx) => {
            ctx.state.push(`progress ${String(msg.value)}`);
          },
          ok: (msg, ctx) => {
            ctx.state.push(`ok ${msg.value}`);
          },
          err: (msg, ctx) => {
            ctx.state.push(`${msg.code} ${msg.message.includes('negative')}`);
          },
          log: (_msg, ctx) => ctx.state,
        },
      }),
    );
    ref.tell({ type: 'go', n: 3 });
    ref.tell({ type: 'go', n: -1 });
    let log: string[] = [];
    for (let i = 0; log.length < 4 && i < 100; i++) {
      await until(() => false, 5).catch(() => undefined);
      log = await ref.ask({ type: 'log' });
    }
    expect(log.sort()).toEqual(['TASK_FAILED true', 'ok 9', 'progress -1', 'progress 3']);
  });

  it('runs sandboxed tasks on a worker thread and terminates a CPU-bound job that ignores its abort', async () => {
    const clock = new ManualClock();
    const tasks = pool(clock, 1);
    const spin = defineTask<{ ms: number }, { threadId: number; loops: boolean }>(
      'spin',
      { module: spinModule },
      { sandbox: true, timeoutMs: 50 },
    );
    const progress: unknown[] = [];
    const hog = tasks.run(spin, { ms: 600_000 });
    await until(() => false, 100).catch(() => undefined);
    clock.advance(50);
    expect(TroupeError.is(await hog.catch((e: unknown) => e), ErrorCode.TaskTimeout)).toBe(true);
    // One thread only: this job runs only once the spinning thread has been terminated and replaced.
    const quick = await tasks.run(spin, { ms: 1 }, { onProgress: (p) => progress.push(p) });
    expect(quick.loops).toBe(true);
    expect(quick.threadId).toBeGreaterThan(0);
    expect(progress).toEqual([100]);
  });

  it('drains in-flight jobs, refuses new ones, and closes twice safely', async () => {
    const tasks = taskPool();
    const gate = deferred();
    const slow = defineTask<{}, string>('slow', async () => {
      await gate.promise;
      return 'finished';
    });
    const inFlight = tasks.run(slow, {});
    const draining = tasks.drain();
    expect(TroupeError.is(await tasks.run(slow, {}).catch((e: unknown) => e), ErrorCode.SystemClosed)).toBe(
      true,
    );
    gate.resolve();
    expect(await inFlight).toBe('finished');
    await draining;
    await tasks.close();
    await tasks[Symbol.asyncDispose]();
    expect(await tasks.closed()).toBeUndefined();

    const other = taskPool();
    const never = defineTask<{}, void>('never', () => new Promise(() => undefined));
    const forever = other.run(never, {}).catch((e: unknown) => e);
    await other.close();
    expect(TroupeError.is(await forever, ErrorCode.TaskCancelled)).toBe(true);
    expect(await other.closed()).toBeUndefined();
  });
});
