// `troupe ps`: every actor of a cluster with its supervisor, state, restarts and mailbox depth; with
// `--tasks`, job counts of every task queue under a Redis prefix.

import { parseArgs } from 'node:util';
import type { ActorInfo } from '../runtime/index.js';
import { bullmqTaskRunner } from '../tasks-bullmq/index.js';
import { cliNode } from './control.js';

const USAGE = `Usage: troupe ps --nats URL [--namespace NS] [--wait MS] [--json]
       troupe ps --tasks --redis URL [--prefix P] [--json]

Lists every actor on every node of the namespace: address, type, supervisor, state (starting, running,
paused, restarting, stopping), restarts, mailbox depth, messages processed and last error.
With --tasks: each task queue's waiting (queue depth), active, delayed, completed and failed jobs.
Completed and failed count the jobs Redis still keeps (the newest 1000 and 5000 by default).
`;

/** Prints the actors of every node that answers within `waitMs`; resolves with the exit code. */
async function listActors(url: string, namespace: string, waitMs: number, json: boolean): Promise<number> {
  const system = await cliNode(url, namespace);
  let actors: ActorInfo[];
  try {
    actors = await system.ps({ timeoutMs: waitMs });
  } finally {
    await system.close();
  }
  actors.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
  if (json) {
    process.stdout.write(`${JSON.stringify(actors)}\n`);
    return 0;
  }
  if (actors.length === 0) {
    process.stdout.write(`no actors answered in namespace ${namespace}\n`);
    return 0;
  }
  const rows = actors.map((a) => [
    a.address,
    a.type,
    a.supervisor ?? '-',
    a.status,
    String(a.restarts),
    String(a.mailboxDepth),
    String(a.processed),
    a.lastError === undefined ? '' : `${a.lastError.code}: ${a.lastError.message}`.slice(0, 60),
  ]);
  const head = ['ACTOR', 'TYPE', 'SUPERVISOR', 'STATE', 'RESTARTS', 'MAILBOX', 'PROCESSED', 'LAST ERROR'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const numeric = new Set([4, 5, 6]);
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (numeric.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  process.stdout.write(`${[line(head), ...rows.map(line)].join('\n')}\n`);
  return 0;
}

/** Prints the task queues' counts; resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      tasks: { type: 'boolean' },
      redis: { type: 'string' },
      nats: { type: 'string' },
      namespace: { type: 'string', default: 'default' },
      wait: { type: 'string', default: '500' },
      prefix: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (!values.tasks) {
    if (values.nats === undefined) {
      process.stderr.write(`troupe ps: --nats URL is required (or --tasks --redis URL)\n\n${USAGE}`);
      return 2;
    }
    const waitMs = Number(values.wait);
    if (!(Number.isFinite(waitMs) && waitMs > 0)) {
      process.stderr.write('troupe ps: --wait must be a positive number of milliseconds\n');
      return 2;
    }
    return listActors(values.nats, values.namespace, waitMs, values.json === true);
  }
  // ---- --tasks: task queue counts ----
  if (values.redis === undefined) {
    process.stderr.write(`troupe ps --tasks: --redis URL is required\n\n${USAGE}`);
    return 2;
  }
  const runner = bullmqTaskRunner({
    redis: values.redis,
    connectTimeoutMs: 3000,
    ...(values.prefix === undefined ? {} : { prefix: values.prefix }),
  });
  try {
    await runner.ready();
    const counts = await runner.counts();
    if (values.json) {
      process.stdout.write(`${JSON.stringify(counts)}\n`);
      return 0;
    }
    const rows = Object.entries(counts);
    if (rows.length === 0) {
      process.stdout.write(`no task queues under prefix ${values.prefix ?? 'troupe'}\n`);
      return 0;
    }
    const width = Math.max(4, ...rows.map(([name]) => name.length));
    const cols = ['waiting', 'active', 'delayed', 'completed', 'failed'] as const;
    process.stdout.write(
      `${'TASK'.padEnd(width)}  ${cols.map((c) => c.toUpperCase().padStart(9)).join(' ')}\n`,
    );
    for (const [name, c] of rows)
      process.stdout.write(`${name.padEnd(width)}  ${cols.map((k) => String(c[k]).padStart(9)).join(' ')}\n`);
    return 0;
  } finally {
    await runner.close();
  }
}
