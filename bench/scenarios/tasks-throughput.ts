// Scenario `tasks-throughput`: no-op tasks started by actors, run by 1 and N worker node processes, vs plain BullMQ.

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
import { bullmqTaskRunner } from '../../tasks-bullmq/index.js';
import { pipelined } from '../load.js';
import type {
  Figure,
  MetricSpec,
  RoleCommands,
  Scenario,
  ScenarioContext,
  ScenarioSettings,
} from '../scenario.js';
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

/**
 * Key prefixes of the two sides of one run with `workers` worker processes: each process count has its own
 * queues, so the worker processes not part of a measurement cannot take its jobs.
 */
export function prefixes(namespace: string, workers = 1): { troupe: string; baseline: string } {
  const safe = namespace.replace(/[^A-Za-z0-9_.-]/g, '-');
  const tag = workers === 1 ? '' : `-w${workers}`;
  return { troupe: `${safe}${tag}-troupe`, baseline: `${safe}${tag}-bullmq` };
}

/** What the parent passes to {@link taskWorkerRole}. */
export interface TaskWorkerInit {
  redisUrl: string;
  namespace: string;
  /** The worker-process counts (see {@link prefixes}) this process serves; all of them are > its index. */
  layouts?: number[];
}

/**
 * Worker role (a child process): for each process count it takes part in, one troupe worker node for the no-op
 * task and one plain BullMQ `Worker` with the same processor and concurrency, on separate prefixes. An idle one
 * only waits on Redis.
 */
export async function taskWorkerRole(init: unknown): Promise<RoleCommands> {
  const { redisUrl, namespace, layouts = [1] } = init as TaskWorkerInit;
  const closers: Array<() => Promise<void>> = [];
  const close = async (): Promise<void> => {
    // One failing close does not stop the others.
    await Promise.allSettled(closers.splice(0).map((c) => c()));
  };
  try {
    for (const workers of layouts) {
      const p = prefixes(namespace, workers);
      const node = bullmqTaskRunner({ redis: redisUrl, prefix: p.troupe, work: [noopTask] });
      closers.push(() => node.close());
      await node.ready();
      const plain = new Worker(NOOP_TASK, async (job) => ({ n: (job.data as { n: number }).n }), {
        connection: { url: redisUrl, maxRetriesPerRequest: null },
        prefix: p.baseline,
        concurrency: WORKER_CONCURRENCY,
      });
      closers.push(() => plain.close());
      await plain.waitUntilReady();
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { close };
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

/** Both callers of one worker-process count. */
export interface TaskSides {
  /** Worker processes serving these callers' queues. */
  workers: number;
  troupe: TroupeClient;
  baseline: BaselineClient;
}

/** Worker processes and callers of the task scenarios; `sides` in the order of the counts asked for. */
export interface TaskBench {
  sides: TaskSides[];
  close(): Promise<void>;
}

/**
 * Forks as many worker processes as the largest of `workerCounts` (worker `i` serves every count above `i`) and
 * opens both callers for each count.
 */
export async function openTaskBench(
  ctx: ScenarioContext,
  actors: number,
  workerCounts: readonly number[] = [1],
): Promise<TaskBench> {
  const redisUrl = ctx.redisUrl;
  if (redisUrl === undefined) throw new Error('the task scenarios need Redis');
  const counts = [...new Set(workerCounts)].sort((a, b) => a - b);
  const most = Math.max(...counts);
  const workers: WorkerHandle[] = [];
  const sides: TaskSides[] = [];
  const close = async (): Promise<void> => {
    for (const side of sides.splice(0)) {
      await Promise.allSettled([side.troupe.close(), side.baseline.close()]);
    }
    await Promise.allSettled(workers.splice(0).map((w) => w.close()));
  };
  try {
    ctx.progress(`starting ${most} task worker process${most > 1 ? 'es' : ''}`);
    const forked = await Promise.all(
      Array.from({ length: most }, (_, i) =>
        ctx.fork('worker', {
          redisUrl,
          namespace: ctx.namespace,
          layouts: counts.filter((n) => n > i),
        } satisfies TaskWorkerInit),
      ),
    );
    workers.push(...forked);
    for (const n of counts) {
      const p = prefixes(ctx.namespace, n);
      const troupe = await openTroupe(redisUrl, p.troupe, actors);
      const baseline = await openBaseline(redisUrl, p.baseline).catch(async (err: unknown) => {
        await troupe.close();
        throw err;
      });
      sides.push({ workers: n, troupe, baseline });
      await baseline.run(-1);
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { sides: workerCounts.map((n) => sides.find((s) => s.workers === n)!), close };
}

/** Jobs in flight at once during the throughput phase (both sides). */
const WINDOW = 200;
/** Actors starting the tasks. */
const ACTORS = 8;

/** The worker-process counts measured: `--nodes` (1 and 2 by default, 1 with `--quick`). */
export function workerCounts(settings: ScenarioSettings): number[] {
  return [...new Set(settings.nodes)].sort((a, b) => a - b);
}

/** Metric id for `workers` worker processes: plain `throughput` for one (it carries the target). */
export function tasksMetricId(workers: number): string {
  return workers === 1 ? 'throughput' : `throughput-1x${workers}`;
}

/** Measures one process count: interleaved ABBA slices; returns jobs/s of each side. */
async function measureSides(ctx: ScenarioContext, side: TaskSides, total: number, deadline: () => number) {
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
  const tag = `${side.workers} worker${side.workers > 1 ? 's' : ''}`;
  for (const which of order) {
    ctx.progress(`${which}, ${tag}: ${slice} no-op tasks (${done[which] + slice} of ${slice * 4})`);
    const r = await pipelined({
      total: slice,
      window: WINDOW,
      deadline: deadline(),
      issue: which === 'troupe' ? side.troupe.run : side.baseline.run,
    });
    if (r.failed > 0) throw r.firstError;
    done[which] += r.completed;
    ms[which] += r.elapsedMs;
  }
  const rate = (which: 'troupe' | 'baseline'): number => (done[which] / Math.max(ms[which], 0.001)) * 1000;
  return { troupe: rate('troupe'), baseline: rate('baseline') };
}

/** `tasks-throughput`: see the file comment. */
export const tasksThroughput: Scenario = {
  name: 'tasks-throughput',
  description: `no-op tasks from ${ACTORS} actors through 1 and N worker node processes (--nodes; concurrency ${WORKER_CONCURRENCY} each, ${WINDOW} in flight) vs plain BullMQ add → completed, same job, concurrency and processes`,
  needs: ['redis'],
  metrics: (settings) =>
    workerCounts(settings).map(
      (n): MetricSpec => ({
        id: tasksMetricId(n),
        label: `task throughput, ${n} worker process${n > 1 ? 'es' : ''}`,
        unit: 'jobs/s',
        kind: 'throughput',
        better: 'higher',
        ...(n === 1 ? { target: 0.85 } : {}),
        processes: { clients: 1, nodes: n },
      }),
    ),
  roles: { worker: taskWorkerRole },
  async open(ctx) {
    const bench = await openTaskBench(ctx, ACTORS, workerCounts(ctx.settings));
    return {
      async round(budget) {
        const total = ctx.count(3_000, 20_000, budget);
        const figures: Record<string, Figure> = {};
        for (const side of bench.sides) {
          figures[tasksMetricId(side.workers)] = await measureSides(ctx, side, total, () =>
            budget.deadline(),
          );
        }
        return { figures };
      },
      close: () => bench.close(),
    };
  },
};
