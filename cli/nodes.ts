// `troupe nodes`: the live nodes of a cluster with their roles, hosted types and load, and the task-only
// workers seen on Redis.

import { type BullmqWorkerInfo, listBullmqWorkers } from '../tasks-bullmq/index.js';
import { listNatsNodes } from '../transport/index.js';
import { invocation, millis, printJson, table } from './args.js';
import { isSet } from './config.js';
import { connectTo, natsAuth } from './connect.js';

const USAGE = `Usage: troupe nodes [--nats URL] [--namespace NS] [--redis URL [--prefix P]] [--wait MS] [--json]

Lists the live nodes of the namespace (actor nodes on NATS: their actors, mailbox depth, roles and types).
With --redis (or REDIS_URL, or redis in the config file) also lists the BullMQ workers connected to Redis
under the namespace's prefix: task-only nodes (troupe node --tasks without --nats) show up only there.

Options:
  --wait MS                how long to listen for the nodes' heartbeats (default 500)
  --prefix P               BullMQ key prefix (default: troupe, or troupe.<namespace>)
`;

/** One worker process as `troupe nodes` shows it: its connections grouped by name (or by address if unnamed). */
interface WorkerRow {
  worker: string;
  addr: string;
  tasks: string[];
}

function groupWorkers(workers: BullmqWorkerInfo[]): WorkerRow[] {
  const byKey = new Map<string, WorkerRow>();
  for (const w of workers) {
    const key = w.name ?? w.addr;
    const row = byKey.get(key) ?? { worker: w.name ?? '(unnamed)', addr: w.addr, tasks: [] };
    if (!row.tasks.includes(w.queue)) row.tasks.push(w.queue);
    byKey.set(key, row);
  }
  return [...byKey.values()].sort((a, b) => (a.worker < b.worker ? -1 : a.worker > b.worker ? 1 : 0));
}

/** Runs `troupe nodes`; resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const inv = await invocation(argv, { wait: { type: 'string' }, prefix: { type: 'string' } }, USAGE);
  if (typeof inv === 'number') return inv;
  const waitMs = millis(inv.values.wait, '--wait', 500);
  const { nats, namespace, redis, prefix } = inv.config.values;
  const withRedis = isSet(inv.config, 'redis');
  const [nodes, workers] = await Promise.all([
    connectTo('NATS', nats, () => listNatsNodes(nats, namespace, waitMs, natsAuth(inv.config))),
    withRedis
      ? connectTo('Redis', redis, () => listBullmqWorkers({ redis, prefix, connectTimeoutMs: 3000 }))
      : undefined,
  ]);
  const grouped = workers === undefined ? undefined : groupWorkers(workers);
  if (inv.json) {
    printJson(grouped === undefined ? nodes : { nodes, workers: grouped });
    return 0;
  }
  if (nodes.length === 0) process.stdout.write(`no nodes answered in namespace ${namespace}\n`);
  else
    process.stdout.write(
      table(
        ['NODE', 'ACTORS', 'MAILBOX', 'ROLES', 'TYPES'],
        nodes.map((n) => [
          n.id,
          String(n.load.actors),
          String(n.load.mailbox),
          n.roles.join(',') || '-',
          n.types.join(',') || '-',
        ]),
        new Set([1, 2]),
      ),
    );
  if (grouped !== undefined) {
    process.stdout.write('\n');
    if (grouped.length === 0) process.stdout.write(`no task workers under prefix ${prefix}\n`);
    else
      process.stdout.write(
        table(
          ['WORKER', 'ADDRESS', 'TASKS'],
          grouped.map((w) => [w.worker, w.addr, w.tasks.join(',')]),
        ),
      );
  }
  return 0;
}
