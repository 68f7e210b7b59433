// Tasks on BullMQ against a real redis-server: round trips from actors, retries, timeouts, cancellation, restarts.

import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type ActorSystem,
  createSystem,
  defineActor,
  defineTask,
  ErrorCode,
  type Reply,
  type TaskProgress,
  type TaskRunner,
  TroupeError,
} from '../../runtime/index.js';
import { type BullmqTaskRunnerOptions, bullmqTaskRunner } from '../../tasks-bullmq/index.js';
import { type ServerProcess, startRedis } from '../../testing/index.js';
import { until } from '../helpers/fixtures.js';

let redis: ServerProcess;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(() => redis?.stop());

const disposables: { drain?: () => Promise<void>; close(): Promise<void> }[] = [];
afterEach(async () => {
  // Systems first, then callers, then workers: nothing is left waiting on a closed connection.
  for (const d of disposables.splice(0).reverse()) await d.close();
});

/** A runner on the shared Redis with this test's own prefix; closed after the test. */
function runner(prefix: string, options: Omit<BullmqTaskRunnerOptions, 'redis' | 'prefix'> = {}) {
  const r = bullmqTaskRunner({ redis: redis.url, prefix, ...options });
  disposables.push(r);
  return r;
}

async function system(tasks: TaskRunner): Promise<ActorSystem> {
  const s = await createSystem({ tasks });
  disposables.push(s);
  return s;
}

function newPrefix(): string {
  return `t${randomBytes(4).toString('hex')}`;
}

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });
}

const wordCount = defineTask<{ text: string }, { words: number; longest: string }>(
  'word-count',
  (input, ctx) => {
    ctx.progress(50);
    const words = input.text.split(/\s+/).filter(Boolean);
    return { words: words.length, longest: words.reduce((a, b) => (b.length > a.length ? b : a), '') };
  },
);

describe('tasks on BullMQ', () => {
  it('runs a typed task from an actor and returns its output, with progress', async () => {
    const prefix = newPrefix();
    const worker = runner(prefix, { work: [wordCount] });
    await worker.ready();
    const caller = runner(prefix);
    const sys = await system(caller);
    const progress: TaskProgress[] = [];
    type Api = { count: { text: string } & Reply<{ words: number; longest: string }> };
    const api = sys.spawn(
      defineActor<Api>({
        handlers: {
          count: (msg, ctx) =>
            ctx.runTask(wordCount, { text: msg.text }, { onProgress: (p) => progress.push(p) }),
        },
      }),
    );
    const out = await api.ask({ type: 'count', text: 'actors stay responsive always' }, { timeout: 10_000 });
    expect(out).toEqual({ words: 4, longest: 'responsive' });
    expect(progress).toEqual([50]);
    const counts = await caller.counts(wordCount);
    expect(counts['word-count']).toMatchObject({ waiting: 0, active: 0, completed: 1, failed: 0 });
    // Without a task argument, every queue under the prefix is listed.
    expect(Object.keys(await caller.counts())).toEqual(['word-count']);
  });

  it('retries a throwing task through its attempts, then fails clearly', async () => {
    const prefix = newPrefix();
    const seen: number[] = [];
    const flaky = defineTask<{ n: number }, number>(
      'flaky',
      (_input, ctx) => {
        seen.push(ctx.attempt);
        throw new Error(`disk on fire (try ${ctx.attempt})`);
      },
      { attempts: 3, backoffMs: 10 },
    );
    runner(prefix, { work: [flaky] });
    const caller = runner(prefix);
    const err = await caller.run(flaky, { n: 1 }).catch((e: unknown) => e);
    expect(TroupeError.is(err, ErrorCode.TaskFailed)).toBe(true);
    expect((err as Error).message).toContain('attempt 3/3');
    expect((err as Error).message).toContain('disk on fire (try 3)');
    expect((err as TroupeError).data).toMatchObject({ task: 'flaky', attempt: 3, attempts: 3 });
    expect(seen).toEqual([1, 2, 3]);
    expect((await caller.counts('flaky')).flaky).toMatchObject({ failed: 1, completed: 0 });
  });

  it('times out an attempt: the handler sees its signal abort and the caller gets TASK_TIMEOUT', async () => {
    const prefix = newPrefix();
    let aborted: unknown;
    const stuck = defineTask<{}, string>(
      'stuck',
      async (_input, ctx) => {
        await sleep(60_000, ctx.signal).catch((reason: unknown) => {
          aborted = reason;
        });
        return 'too late';
      },
      { timeoutMs: 200 },
    );
    runner(prefix, { work: [stuck] });
    const caller = runner(prefix);
    const err = await caller.run(stuck, {}).catch((e: unknown) => e);
    expect(TroupeError.is(err, ErrorCode.TaskTimeout)).toBe(true);
    expect((err as Error).message).toContain('timed out after 200 ms');
    expect(TroupeError.is(aborted, ErrorCode.TaskTimeout)).toBe(true);
  });

  it('cancels a waiting job: it is removed and never runs', async () => {
    const prefix = newPrefix();
    const gate = deferred();
    const ran: string[] = [];
    const serial = defineTask<{ id: string }, string>('serial', async (input) => {
      ran.push(input.id);
      if (input.id === 'first') await gate.promise;
      return input.id;
    });
    runner(prefix, { work: [serial] });
    const caller = runner(prefix);
    const first = caller.run(serial, { id: 'first' });
    await until(() => ran.length === 1, 10_000, 'the first job to start');
    const controller = new AbortController();
    const second = caller.run(serial, { id: 'second' }, { signal: controller.signal });
    await until(() => false, 300).catch(() => undefined); // let the second job reach the queue
    expect((await caller.counts(serial)).serial?.waiting).toBe(1);
    controller.abort();
    const err = await second.catch((e: unknown) => e);
    expect(TroupeError.is(err, ErrorCode.TaskCancelled)).toBe(true);
    await until(() => false, 200).catch(() => undefined);
    expect((await caller.counts(serial)).serial?.waiting).toBe(0);
    gate.resolve();
    expect(await first).toBe('first');
    // Give the worker the chance to (wrongly) pick the removed job up.
    const third = await caller.run(serial, { id: 'third' });
    expect(third).toBe('third');
    expect(ran).toEqual(['first', 'third']);
  });

  it('cancels a running job: its handler sees the signal abort and it is not retried', async () => {
    const prefix = newPrefix();
    const started = deferred();
    let attempts = 0;
    let abortedWith: unknown;
    const long = defineTask<{}, string>(
      'long',
      async (_input, ctx) => {
        attempts++;
        started.resolve();
        try {
          await sleep(60_000, ctx.signal);
        } catch (reason) {
          abortedWith = reason;
          throw reason;
        }
        return 'done';
      },
      { attempts: 3, backoffMs: 10 },
    );
    runner(prefix, { work: [long] });
    const caller = runner(prefix);
    const controller = new AbortController();
    const run = caller.run(long, {}, { signal: controller.signal });
    await started.promise;
    controller.abort(new Error('user pressed stop'));
    const err = await run.catch((e: unknown) => e);
    expect(TroupeError.is(err, ErrorCode.TaskCancelled)).toBe(true);
    await until(() => abortedWith !== undefined, 10_000, 'the handler to see its signal abort');
    expect(TroupeError.is(abortedWith, ErrorCode.TaskCancelled)).toBe(true);
    await until(() => false, 300).catch(() => undefined);
    const counts = (await caller.counts(long)).long;
    expect(counts).toMatchObject({ active: 0, waiting: 0, delayed: 0, failed: 1 });
    expect(attempts).toBe(1);
  });

  it('delivers the result as a message to the actor address, even after the actor was restarted', async () => {
    const prefix = newPrefix();
    const gate = deferred();
    const slow = defineTask<{ n: number }, number>('slow-square', async (input) => {
      await gate.promise;
      return input.n * input.n;
    });
    const failing = defineTask<{}, number>('always-fails', async () => {
      await gate.promise;
      throw new Error('nope');
    });
    runner(prefix, { work: [slow, failing] });
    const caller = runner(prefix);
    const sys = await system(caller);
    type Calc = {
      start: { n: number };
      squared: { value: number };
      failed: { code: string };
      result: Reply<{ values: number[]; errors: string[]; generation: number }>;
    };
    let generation = 0;
    const calc = defineActor<Calc, { values: number[]; errors: string[]; generation: number }>({
      init: () => ({ values: [], errors: [], generation: ++generation }),
      handlers: {
        start: (msg, ctx) => {
          ctx.runTask(
            slow,
            { n: msg.n },
            {
              deliver: {
                ok: (value) => ({ type: 'squared', value }),
                error: (e) => ({ type: 'failed', code: e.code }),
              },
            },
          );
          ctx.runTask(
            failing,
            {},
            {
              deliver: {
                ok: (value) => ({ type: 'squared', value }),
                error: (e) => ({ type: 'failed', code: e.code }),
              },
            },
          );
        },
        squared: (msg, ctx) => {
          ctx.state.values.push(msg.value);
        },
        failed: (msg, ctx) => {
          ctx.state.errors.push(msg.code);
        },
        result: (_msg, ctx) => ctx.state,
      },
    });
    const first = sys.spawn(calc, { name: 'calc' });
    first.tell({ type: 'start', n: 7 });
    await until(() => false, 200).catch(() => undefined);
    // The instance that asked goes away; a new one takes its address before the result arrives.
    await sys.stop(first);
    const second = sys.spawn(calc, { name: 'calc' });
    gate.resolve();
    // Both outcomes arrive as messages (they were processed when the actor has handled two besides the asks).
    await until(() => (sys.inspect().find((a) => a.address === second.address)?.processed ?? 0) >= 2, 10_000);
    const state = await second.ask({ type: 'result' });
    expect(state).toEqual({ generation: 2, values: [49], errors: [ErrorCode.TaskFailed] });
  });

  it('without a task runner, ctx.runTask fails with NO_TASK_RUNNER', async () => {
    const sys = await createSystem();
    disposables.push(sys);
    type Api = { go: Reply<unknown> };
    const ref = sys.spawn(
      defineActor<Api>({ handlers: { go: (_m, ctx) => ctx.runTask(wordCount, { text: 'x' }) } }),
    );
    const err = await ref.ask({ type: 'go' }).catch((e: unknown) => e);
    expect((err as Error).message).toContain('no task runner');
  });

  it('fails a run with TASK_LOST when Redis comes back without its job, and closes twice safely', async () => {
    const own = await startRedis();
    let restarted: ServerProcess | undefined;
    // No worker: the job waits in Redis, which then restarts without persistence and forgets it.
    const caller = bullmqTaskRunner({ redis: own.url, prefix: newPrefix() });
    try {
      const run = caller.run(wordCount, { text: 'never picked up' });
      await until(() => false, 300).catch(() => undefined);
      expect((await caller.counts(wordCount))['word-count']?.waiting).toBe(1);
      own.kill();
      restarted = await startRedis({ port: own.port });
      const err = await run.catch((e: unknown) => e);
      expect(TroupeError.is(err, ErrorCode.TaskLost)).toBe(true);
      expect((err as Error).message).toContain('gone from Redis');
    } finally {
      await caller.close();
      await caller.close();
      await caller[Symbol.asyncDispose]();
      await restarted?.stop();
      await own.stop();
    }
    expect(
      TroupeError.is(
        await caller.run(wordCount, { text: 'x' }).catch((e: unknown) => e),
        ErrorCode.SystemClosed,
      ),
    ).toBe(true);
  });

  it('carries on after Redis restarts: workers and callers reconnect', async () => {
    const own = await startRedis();
    let restarted: ServerProcess | undefined;
    const prefix = newPrefix();
    const worker = bullmqTaskRunner({ redis: own.url, prefix, work: [wordCount] });
    const caller = bullmqTaskRunner({ redis: own.url, prefix });
    try {
      await worker.ready();
      expect((await caller.run(wordCount, { text: 'before the restart' })).words).toBe(3);
      own.kill();
      await until(() => false, 200).catch(() => undefined);
      // Queued while Redis is down: the job waits in the client until Redis is back.
      const during = caller.run(wordCount, { text: 'while redis was down' });
      restarted = await startRedis({ port: own.port });
      expect((await during).words).toBe(4);
      expect((await caller.run(wordCount, { text: 'after it came back up' })).words).toBe(5);
    } finally {
      await caller.close();
      await worker.close();
      await restarted?.stop();
      await own.stop();
    }
  });
});
