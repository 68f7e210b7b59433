// Task runs with an idempotency key, on both runners: one job per key and task, a done job's stored output (or
// failure) for later runs, joiners that only stop waiting when they abort, and a cancel that frees the key.

import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type AnyTaskDefinition,
  defineTask,
  type TaskRunner,
  TroupeError,
  taskPool,
} from '../../runtime/index.js';
import { bullmqTaskRunner } from '../../tasks-bullmq/index.js';
import { type ServerProcess, startRedis } from '../../testing/index.js';
import { sleep } from '../helpers/models.js';

let redis: ServerProcess;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(() => redis?.stop());

const closers: TaskRunner[] = [];
afterEach(async () => {
  for (const r of closers.splice(0)) await r.close();
});

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return TroupeError.is(err) ? err.code : String(err);
  }
  return 'fulfilled';
}

const runners: [string, (tasks: AnyTaskDefinition[]) => Promise<{ a: TaskRunner; b: TaskRunner }>][] = [
  [
    'pool',
    async () => {
      const pool = taskPool();
      closers.push(pool);
      return { a: pool, b: pool };
    },
  ],
  [
    'bullmq',
    async (tasks) => {
      const prefix = `t${randomBytes(4).toString('hex')}`;
      const worker = bullmqTaskRunner({ redis: redis.url, prefix, work: tasks });
      const other = bullmqTaskRunner({ redis: redis.url, prefix });
      closers.push(other, worker);
      await worker.ready();
      return { a: worker, b: other };
    },
  ],
];

describe.each(runners)('idempotency keys on the %s runner', (_kind, make) => {
  it('runs one job per key: joiners wait for it, later runs get its stored output', async () => {
    let runs = 0;
    const task = defineTask<{ n: number }, number>('double', async ({ n }) => {
      runs++;
      await sleep(100);
      return n * 2;
    });
    const { a, b } = await make([task]);
    const key = 'run-1:call-1';
    const results = await Promise.all([
      a.run(task, { n: 2 }, { idempotencyKey: key }),
      a.run(task, { n: 2 }, { idempotencyKey: key }),
      b.run(task, { n: 2 }, { idempotencyKey: key }),
    ]);
    expect(results).toEqual([4, 4, 4]);
    expect(runs).toBe(1);
    expect(await b.run(task, { n: 2 }, { idempotencyKey: key })).toBe(4);
    expect(runs).toBe(1);
    expect(await a.run(task, { n: 2 }, { idempotencyKey: 'run-1:call-2' })).toBe(4);
    expect(await a.run(task, { n: 2 })).toBe(4);
    expect(runs).toBe(3);
  });

  it('keeps a failure for its key, and refuses an empty key', async () => {
    let runs = 0;
    const task = defineTask<{ n: number }, number>('fail-once', () => {
      runs++;
      throw new Error('nope');
    });
    const { a, b } = await make([task]);
    expect(await codeOf(a.run(task, { n: 1 }, { idempotencyKey: 'k' }))).toBe('TASK_FAILED');
    expect(await codeOf(b.run(task, { n: 1 }, { idempotencyKey: 'k' }))).toBe('TASK_FAILED');
    expect(runs).toBe(1);
    expect(await codeOf(a.run(task, { n: 1 }, { idempotencyKey: '' }))).toBe('INVALID_OPTIONS');
  });

  it('a joiner that aborts only stops waiting; cancelling the job frees its key', async () => {
    let runs = 0;
    const task = defineTask<{ ms: number }, string>(
      'hold',
      async ({ ms }, ctx) => {
        runs++;
        await new Promise<void>((resolve, reject) => {
          const t = setTimeout(resolve, ms);
          ctx.signal.addEventListener('abort', () => {
            clearTimeout(t);
            reject(ctx.signal.reason);
          });
        });
        return 'done';
      },
      { concurrency: 2 },
    );
    const { a, b } = await make([task]);
    const first = a.run(task, { ms: 300 }, { idempotencyKey: 'j' });
    const impatient = new AbortController();
    const joiner = a.run(task, { ms: 300 }, { idempotencyKey: 'j', signal: impatient.signal });
    impatient.abort();
    expect(await codeOf(joiner)).toBe('TASK_CANCELLED');
    expect(await first).toBe('done');
    expect(runs).toBe(1);

    // Cancelled while running.
    const owner = new AbortController();
    const cancelled = a.run(task, { ms: 400 }, { idempotencyKey: 'c', signal: owner.signal });
    await sleep(100);
    owner.abort();
    expect(await codeOf(cancelled)).toBe('TASK_CANCELLED');
    // The cancelled job left no outcome under its key: the next run runs it.
    await sleep(100);
    expect(await a.run(task, { ms: 400 }, { idempotencyKey: 'c' })).toBe('done');
    expect(runs).toBe(3);

    // Cancelled while waiting (both slots busy): the key runs again later, and is not cancelled on arrival.
    const blockers = [a.run(task, { ms: 400 }), a.run(task, { ms: 400 })];
    const waiting = new AbortController();
    const queued = a.run(task, { ms: 10 }, { idempotencyKey: 'w', signal: waiting.signal });
    await sleep(50);
    // Another caller joins the waiting job; the job's cancel ends its wait too.
    const joined = b.run(task, { ms: 10 }, { idempotencyKey: 'w' });
    await sleep(50);
    waiting.abort();
    expect(await codeOf(queued)).toBe('TASK_CANCELLED');
    expect(await codeOf(joined)).toBe('TASK_CANCELLED');
    expect(await a.run(task, { ms: 10 }, { idempotencyKey: 'w' })).toBe('done');
    await Promise.all(blockers);
    expect(runs).toBe(6);
  });
});
