// Scenario `tasks-throughput`: no-op tasks started by actors, run by one worker node process, vs plain BullMQ.

import { Queue, QueueEvents, Worker } from 'bullmq';
import {
  type ActorRef,
  type ActorSystem,
  createSystem,
  defineActor,
  defineTask,
  type Reply,
  type TaskRunner,
} from '../../runtime/index.js';
import { bullmqTaskRunner } from '../../transport/index.js';
import { pipelined } from '../load.js';
import type { RoleCommands, Scenario, ScenarioContext } from '../scenario.js';
import type { WorkerHandle } from '../worker-client.js';

/** Queue (task) name on both sides; each side has its own key prefix. */
export const NOOP_TASK = 'noop';
/** Jobs one worker node runs at once, the same for troupe and the baseline. */
export const WORKER_CONCURRENCY = 50;
/** Jobs kept in Redis after they finish, the same for both (troupe's default). */
const KEEP = { removeOnComplete: { count: 1000 }, removeOnFail: { count: 5000 } };

/** The no-op task: same job, same concurrency as the baseline's worker. */
export const noopTask = defineTask<{ n: number }, { n: number }>('noop', (input) => ({ n: input.n }), {
  concurrency: WORKER_CONCURRENCY,
});

/** Key prefixes of the two sides of one run. */
export function prefixes(namespace: string): { troupe: string; baseline: string } {
  const safe = namespace.replace(/[^A-Za-z0-9_.-]/g, '-');
  return { troupe: `${safe}-troupe`, baseline: `${safe}-bullmq` };
}

/**
 * Worker role (a child process): one troupe worker node for the no-op task and one plain BullMQ `Worker` with the
 * same processor and concurrency, on separate prefixes. An idle one only waits on Redis.
 */
export async function taskWorkerRole(init: unknown): Promise<RoleCommands> {
  const { redisUrl, namespace } = init as { redisUrl: string; namespace: string };
  const p = prefixes(namespace);
  const node = bullmqTaskRunner({ redis: redisUrl, prefix: p.troupe, work: [noopTask] });
  await node.ready();
  const plain = new Worker(NOOP_TASK, async (job) => ({ n: (job.data as { n: number }).n }), {
    connection: { url: redisUrl, maxRetriesPerRequest: null },
    prefix: p.baseline,
    concurrency: WORKER_CONCURRENCY,
  });
  await plain.waitUntilReady();
  return {
    async close() {
      await node.close();
      await plain.close();
    },
  };
}

/** The caller's side of plain BullMQ: `queue.add` and one `completed` listener resolving by job id. */
export interface BaselineClient {
  run(n: number): Promise<unknown>;
  close(): Promise<void>;
}

export async function openBaseline(redisUrl: string, prefix: string): Promise<BaselineClient> {
  const connection = { url: redisUrl, maxRetriesPerRequest: null };
  const queue = new Queue(NOOP_TASK, { connection, prefix, defaultJobOptions: KEEP });
  const events = new QueueEvents(NOOP_TASK, { connection, prefix });
  const waiting = new Map<string, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  events.on('completed', ({ jobId, returnvalue }) => {
    const w = waiting.get(jobId);
    waiting.delete(jobId);
    w?.resolve(returnvalue);
  });
  events.on('failed', ({ jobId, failedReason }) => {
    const w = waiting.get(jobId);
    waiting.delete(jobId);
    w?.reject(new Error(failedReason));
  });
  await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
  // Give the events reader time to block on the stream, so the first job's completion is not missed.
  await new Promise((resolve) => setTimeout(resolve, 100));
  let seq = 0;
  return {
    run(n) {
      const jobId = `b${seq++}`;
      return new Promise((resolve, reject) => {
        waiting.set(jobId, { resolve, reject });
        queue.add(NOOP_TASK, { n }, { jobId }).catch((err: unknown) => {
          waiting.delete(jobId);
          reject(err);
        });
      });
    },
    async close() {
      await events.close();
      await queue.close();
    },
  };
}

/** The protocol of the actors that start tasks. */
export type StarterProtocol = { run: { n: number } & Reply<{ n: number }> };

/** The troupe caller: a system with the BullMQ runner and `actors` starters, each answering asks off-mailbox. */
export interface TroupeClient {
  run(n: number): Promise<unknown>;
  close(): Promise<void>;
}

export async function openTroupe(redisUrl: string, prefix: string, actors: number): Promise<TroupeClient> {
  const tasks: TaskRunner = bullmqTaskRunner({ redis: redisUrl, prefix });
  const system: ActorSystem = await createSystem({ tasks });
  const starter = defineActor<StarterProtocol>({
    type: 'task-starter',
    handlers: {
      // The actor stays responsive: it starts the task and answers the ask when the result comes back.
      run: (msg, ctx) => {
        const replier = ctx.deferReply();
        ctx.runTask(noopTask, { n: msg.n }).then(
          (out) => replier?.reply(out),
          (err: unknown) => replier?.fail(err),
        );
      },
    },
  });
  const refs: ActorRef<StarterProtocol>[] = Array.from({ length: actors }, (_, i) =>
    system.spawn(starter, { name: `starter-${i}` }),
  );
  // The first run opens the queue and its event reader; keep that out of the measurement.
  await refs[0]!.ask({ type: 'run', n: -1 }, { timeout: 30_000 });
  return {
    run: (n) => refs[n % refs.length]!.ask({ type: 'run', n }, { timeout: 60_000 }),
    async close() {
      await system.close();
      await tasks.close();
    },
  };
}

/** Forks the worker node and opens both callers. */
export async function openTaskBench(
  ctx: ScenarioContext,
  actors: number,
): Promise<{ worker: WorkerHandle; troupe: TroupeClient; baseline: BaselineClient; close(): Promise<void> }> {
  const redisUrl = ctx.redisUrl;
  if (redisUrl === undefined) throw new Error('the task scenarios need Redis');
  const p = prefixes(ctx.namespace);
  const worker = await ctx.fork('worker', { redisUrl, namespace: ctx.namespace });
  const troupe = await openTroupe(redisUrl, p.troupe, actors);
  const baseline = await openBaseline(redisUrl, p.baseline);
  await baseline.run(-1);
  return {
    worker,
    troupe,
    baseline,
    async close() {
      await troupe.close();
      await baseline.close();
      await worker.close();
    },
  };
}

/** Jobs in flight at once during the throughput phase (both sides). */
const WINDOW = 200;
/** Actors starting the tasks. */
const ACTORS = 8;

/** `tasks-throughput`: see the file comment. */
export const tasksThroughput: Scenario = {
  name: 'tasks-throughput',
  description: `no-op tasks from ${ACTORS} actors through one worker node process (concurrency ${WORKER_CONCURRENCY}, ${WINDOW} in flight) vs plain BullMQ add → completed, same job and concurrency`,
  needs: ['redis'],
  metrics: () => [
    {
      id: 'throughput',
      label: 'task throughput',
      unit: 'jobs/s',
      kind: 'throughput',
      better: 'higher',
      target: 0.85,
    },
  ],
  roles: { worker: taskWorkerRole },
  async open(ctx) {
    const bench = await openTaskBench(ctx, ACTORS);
    return {
      async round(budget) {
        const total = ctx.count(3_000, 20_000, budget);
        // Interleaved in ABBA order, a quarter of the jobs at a time: both sides see the same background load
        // (this is a shared machine) and the same Redis warm-up, which one long phase each would not give them.
        const slice = Math.max(1, Math.floor(total / 4));
        const order = [
          'troupe',
          'baseline',
          'baseline',
          'troupe',
          'baseline',
          'troupe',
          'troupe',
          'baseline',
        ] as const;
        const done = { troupe: 0, baseline: 0 };
        const ms = { troupe: 0, baseline: 0 };
        for (const side of order) {
          ctx.progress(`${side}: ${slice} no-op tasks (${done[side] + slice} of ${slice * 4})`);
          const r = await pipelined({
            total: slice,
            window: WINDOW,
            deadline: budget.deadline(),
            issue: side === 'troupe' ? bench.troupe.run : bench.baseline.run,
          });
          if (r.failed > 0) throw r.firstError;
          done[side] += r.completed;
          ms[side] += r.elapsedMs;
        }
        const rate = (side: 'troupe' | 'baseline'): number => (done[side] / Math.max(ms[side], 0.001)) * 1000;
        return { figures: { throughput: { troupe: rate('troupe'), baseline: rate('baseline') } } };
      },
      close: () => bench.close(),
    };
  },
};
