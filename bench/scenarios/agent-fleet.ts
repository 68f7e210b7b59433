// Scenario `agent-fleet`: asks spread over 1,000 agent actors that each run a no-op task through BullMQ, vs plain libraries.
//
// Processes: the runner drives asks over NATS; a `fleet` child holds the agents (troupe node `fleet`) and the plain
// nats.js responder; a `worker` child runs the task (troupe worker node and plain BullMQ `Worker`, same
// concurrency). Troupe: ask → agent → `await ctx.runTask()` → reply. Baseline: `nc.request()` → `msg.respond()`
// after a plain `queue.add()` completed (QueueEvents, as tasks-latency's baseline).

import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  type ActorRef,
  type ActorSystem,
  createSystem,
  defineActor,
  type Reply,
} from '../../runtime/index.js';
import { bullmqTaskRunner } from '../../tasks-bullmq/index.js';
import { natsTransport } from '../../transport/index.js';
import { Histogram } from '../histogram.js';
import { type LoopResult, pipelined } from '../load.js';
import { baselineSubject } from '../payload.js';
import type { Figure, MetricSpec, RoleCommands, Scenario, ScenarioContext } from '../scenario.js';
import type { WorkerHandle } from '../worker-client.js';
import {
  type BaselineClient,
  noopTask,
  openBaseline,
  prefixes,
  type TaskWorkerInit,
  taskWorkerRole,
  WORKER_CONCURRENCY,
} from './tasks-throughput.js';

/** Agent actors on the fleet node. */
export const AGENTS = 1_000;
/** Requests in flight at once, spread round-robin over the agents (both sides). */
export const WINDOW = 200;
/** Node id of the fleet process; agent `i` is `fleet/agent-<i>`. */
const FLEET_NODE = 'fleet';
/** Asks and requests time out after this long only in a broken run. */
const REQUEST_TIMEOUT_MS = 60_000;
/** The percentiles reported, as metric id → histogram percentile. */
const PERCENTILES: ReadonlyArray<[string, number]> = [
  ['p50', 50],
  ['p90', 90],
  ['p99', 99],
];

/** The protocol of an agent: one request, answered once its task is done. */
export type AgentProtocol = { handle: { n: number } & Reply<number> };

/** Subject prefix of the plain responder; agent `i`'s requests go to `<prefix>.<i>`. */
function agentSubject(namespace: string): string {
  return baselineSubject(namespace, 'agents');
}

/** What the parent passes to {@link agentFleetRole}. */
export interface AgentFleetInit {
  natsUrl: string;
  redisUrl: string;
  namespace: string;
  agents: number;
}

/** Marks a failed plain request in its reply (nats.js has no error replies of its own). */
const FAILED = '!';

/**
 * Fleet role (a child process): a troupe node with `agents` agent actors over NATS whose handlers await a no-op
 * task through BullMQ, and a plain nats.js responder that adds a plain BullMQ job, waits for it and responds.
 */
export async function agentFleetRole(init: unknown): Promise<RoleCommands> {
  const { natsUrl, redisUrl, namespace, agents } = init as AgentFleetInit;
  const p = prefixes(namespace);
  const nc = await connect({ servers: natsUrl, name: 'bench-fleet' });
  const tasks = bullmqTaskRunner({ redis: redisUrl, prefix: p.troupe });
  let system: ActorSystem | undefined;
  let baseline: BaselineClient | undefined;
  const close = async (): Promise<void> => {
    await Promise.allSettled([system?.close(), baseline?.close()]);
    await Promise.allSettled([tasks.close(), nc.close()]);
  };
  try {
    system = await createSystem({
      nodeId: FLEET_NODE,
      transport: natsTransport({ connection: nc, namespace }),
      tasks,
    });
    const agent = defineActor<AgentProtocol, undefined>({
      type: 'agent',
      handlers: {
        // The agent waits for its task: one request at a time per agent, as an agent that works through a tool.
        handle: async (msg, ctx) => (await ctx.runTask(noopTask, { n: msg.n })).n,
      },
    });
    for (let i = 0; i < agents; i++) system.spawn(agent, { name: `agent-${i}` });
    const plain = await openBaseline(redisUrl, p.baseline);
    baseline = plain;
    nc.subscribe(`${agentSubject(namespace)}.*`, {
      callback: (err, msg) => {
        if (err) return;
        plain.run(Number(msg.string())).then(
          () => msg.respond(msg.data),
          (e: unknown) => msg.respond(`${FAILED}${String(e)}`),
        );
      },
    });
    await nc.flush();
  } catch (err) {
    await close();
    throw err;
  }
  return { close };
}

/** The driving side in the runner's process: one request each way to agent `i % agents`. */
interface FleetClient {
  troupe(i: number): Promise<unknown>;
  baseline(i: number): Promise<unknown>;
  close(): Promise<void>;
}

async function openFleetClient(ctx: ScenarioContext, agents: number): Promise<FleetClient> {
  const natsUrl = ctx.natsUrl;
  const redisUrl = ctx.redisUrl;
  if (natsUrl === undefined || redisUrl === undefined) throw new Error('agent-fleet needs NATS and Redis');
  const workers: WorkerHandle[] = [];
  let nc: NatsConnection | undefined;
  let system: ActorSystem | undefined;
  const close = async (): Promise<void> => {
    await system?.close();
    await nc?.close();
    await Promise.allSettled(workers.splice(0).map((w) => w.close()));
  };
  try {
    ctx.progress(`starting the task worker and the fleet of ${agents} agents`);
    workers.push(
      await ctx.fork('worker', { redisUrl, namespace: ctx.namespace, layouts: [1] } satisfies TaskWorkerInit),
    );
    workers.push(
      await ctx.fork('fleet', {
        natsUrl,
        redisUrl,
        namespace: ctx.namespace,
        agents,
      } satisfies AgentFleetInit),
    );
    nc = await connect({ servers: natsUrl, name: 'bench-fleet-client' });
    system = await createSystem({
      nodeId: 'client',
      transport: natsTransport({ connection: nc, namespace: ctx.namespace }),
    });
  } catch (err) {
    await close();
    throw err;
  }
  const conn = nc;
  const sys = system;
  const refs: ActorRef<AgentProtocol>[] = Array.from({ length: agents }, (_, i) =>
    sys.ref<AgentProtocol>(`${FLEET_NODE}/agent-${i}`),
  );
  const subject = agentSubject(ctx.namespace);
  const client: FleetClient = {
    troupe: (i) => refs[i % agents]!.ask({ type: 'handle', n: i }, { timeout: REQUEST_TIMEOUT_MS }),
    async baseline(i) {
      const reply = await conn.request(`${subject}.${i % agents}`, String(i), {
        timeout: REQUEST_TIMEOUT_MS,
      });
      const text = reply.string();
      if (text.startsWith(FAILED)) throw new Error(`plain responder: ${text.slice(FAILED.length)}`);
      return text;
    },
    close,
  };
  try {
    // The first request of each side opens queues and event readers; keep that out of the measurement.
    await client.troupe(0);
    await client.baseline(0);
  } catch (err) {
    await close();
    throw err;
  }
  return client;
}

/** `agent-fleet`: see the file comment. */
export const agentFleet: Scenario = {
  name: 'agent-fleet',
  description: `asks (${WINDOW} in flight) over ${AGENTS.toLocaleString('en-US')} agent actors in another process, each awaiting a no-op task on a worker process (concurrency ${WORKER_CONCURRENCY}) vs a plain nats.js responder adding a plain BullMQ job and waiting for it`,
  needs: ['nats', 'redis'],
  metrics: () => [
    {
      id: 'throughput',
      label: `agent requests (window ${WINDOW})`,
      unit: 'req/s',
      kind: 'throughput',
      better: 'higher',
    },
    ...PERCENTILES.map(
      ([id]): MetricSpec => ({
        id,
        label: `agent request latency ${id}`,
        unit: 'µs',
        kind: 'latency',
        better: 'lower',
      }),
    ),
  ],
  roles: { worker: taskWorkerRole, fleet: agentFleetRole },
  async open(ctx) {
    const client = await openFleetClient(ctx, AGENTS);
    let next = 1;
    return {
      async round(budget) {
        const total = ctx.count(2_000, 10_000, budget);
        // Interleaved in ABBA order, half of the requests at a time: both sides see the same background load.
        const half = Math.max(1, Math.floor(total / 2));
        const order = ['troupe', 'baseline', 'baseline', 'troupe'] as const;
        const histograms = { troupe: new Histogram(), baseline: new Histogram() };
        const done = { troupe: 0, baseline: 0 };
        const ms = { troupe: 0, baseline: 0 };
        for (const side of order) {
          ctx.progress(
            `${side}: ${half} agent requests, ${WINDOW} in flight (${done[side] + half} of ${half * 2})`,
          );
          const first = next;
          next += half;
          const histogram = histograms[side];
          const r: LoopResult = await pipelined({
            total: half,
            window: WINDOW,
            deadline: budget.deadline(),
            issue: (i) => client[side](first + i),
            onLatency: (ns) => histogram.record(ns),
          });
          if (r.failed > 0) throw r.firstError;
          done[side] += r.completed;
          ms[side] += r.elapsedMs;
        }
        const rate = (side: 'troupe' | 'baseline'): number => (done[side] / Math.max(ms[side], 0.001)) * 1000;
        const figures: Record<string, Figure> = {
          throughput: { troupe: rate('troupe'), baseline: rate('baseline') },
        };
        for (const [id, p] of PERCENTILES) {
          figures[id] = {
            troupe: histograms.troupe.percentile(p) / 1000,
            baseline: histograms.baseline.percentile(p) / 1000,
          };
        }
        return { figures, latency: histograms };
      },
      close: () => client.close(),
    };
  },
};
