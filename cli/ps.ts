// `troupe ps`: every actor of a cluster with its node, supervisor, state, restarts and mailbox depth (redrawn
// with --watch); with `--tasks`, job counts of every task queue under the namespace's Redis prefix.

import type { ActorInfo, ActorSystem } from '../runtime/index.js';
import { bullmqTaskRunner } from '../tasks-bullmq/index.js';
import { type Invocation, invocation, millis, printJson, table } from './args.js';
import { cliNode, connectTo } from './connect.js';
import { everyUntilSignal } from './watch.js';

const USAGE = `Usage: troupe ps [--nats URL] [--namespace NS] [--wait MS] [--watch [--interval MS]] [--json]
       troupe ps --tasks [--redis URL] [--prefix P] [--json]

Lists every actor on every node of the namespace: address, the NODE it runs on (virtual actors too), type,
supervisor, state (starting, running, paused, restarting, stopping), restarts, mailbox depth, messages
processed and last error.
With --tasks: each task queue's waiting (queue depth), active, delayed, completed and failed jobs.
Completed and failed count the jobs Redis still keeps (the newest 1000 and 5000 by default).

Options:
  --wait MS                how long nodes have to answer (default 500)
  --watch                  redraw every --interval until Ctrl-C (with --json: one JSON line per round)
  --interval MS            time between rounds of --watch (default 2000)
  --tasks                  task queue counts instead of actors (needs Redis)
  --prefix P               BullMQ key prefix (default: troupe, or troupe.<namespace>)
`;

function nodeOf(info: ActorInfo): string {
  return info.node ?? info.address.slice(0, info.address.indexOf('/'));
}

function render(actors: ActorInfo[], namespace: string): string {
  if (actors.length === 0) return `no actors answered in namespace ${namespace}\n`;
  const rows = actors.map((a) => [
    a.address,
    nodeOf(a),
    a.type,
    a.supervisor ?? '-',
    a.status,
    String(a.restarts),
    String(a.mailboxDepth),
    String(a.processed),
    a.lastError === undefined ? '' : `${a.lastError.code}: ${a.lastError.message}`.slice(0, 60),
  ]);
  const head = [
    'ACTOR',
    'NODE',
    'TYPE',
    'SUPERVISOR',
    'STATE',
    'RESTARTS',
    'MAILBOX',
    'PROCESSED',
    'LAST ERROR',
  ];
  return table(head, rows, new Set([5, 6, 7]));
}

async function snapshot(system: ActorSystem, waitMs: number): Promise<ActorInfo[]> {
  // The CLI's own node hosts nothing: leave it out.
  const actors = (await system.ps({ timeoutMs: waitMs })).filter((a) => a.node !== system.nodeId);
  return actors.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
}

/** Prints the actors once, or every `interval` until SIGINT/SIGTERM with --watch. */
async function listActors(inv: Invocation<Record<string, unknown>>): Promise<number> {
  const waitMs = millis(inv.values.wait, '--wait', 500);
  const intervalMs = millis(inv.values.interval, '--interval', 2000);
  const { namespace } = inv.config.values;
  const system = await cliNode(inv.config, inv.logger);
  try {
    if (inv.values.watch !== true) {
      const actors = await snapshot(system, waitMs);
      if (inv.json) printJson(actors);
      else process.stdout.write(render(actors, namespace));
      return 0;
    }
    await everyUntilSignal(intervalMs, async (stopped) => {
      const actors = await snapshot(system, waitMs);
      if (stopped()) return;
      if (inv.json) printJson({ at: new Date().toISOString(), actors });
      else {
        // Clear the screen and home the cursor on a terminal; plain rounds one after another elsewhere.
        const clear = process.stdout.isTTY ? '\x1b[2J\x1b[H' : '';
        process.stdout.write(
          `${clear}${new Date().toISOString()}  namespace ${namespace}\n${render(actors, namespace)}\n`,
        );
      }
    });
    return 0;
  } finally {
    await system.close();
  }
}

/** Prints the task queues' counts. */
async function listTasks(inv: Invocation<Record<string, unknown>>): Promise<number> {
  const { redis, prefix } = inv.config.values;
  const runner = bullmqTaskRunner({ redis, prefix, connectTimeoutMs: 3000, logger: inv.logger });
  try {
    const counts = await connectTo('Redis', redis, async () => {
      await runner.ready();
      return runner.counts();
    });
    if (inv.json) {
      printJson(counts);
      return 0;
    }
    const entries = Object.entries(counts);
    if (entries.length === 0) {
      process.stdout.write(`no task queues under prefix ${prefix}\n`);
      return 0;
    }
    const cols = ['waiting', 'active', 'delayed', 'completed', 'failed'] as const;
    const rows = entries.map(([name, c]) => [name, ...cols.map((k) => String(c[k]))]);
    process.stdout.write(
      table(['TASK', ...cols.map((c) => c.toUpperCase())], rows, new Set([1, 2, 3, 4, 5])),
    );
    return 0;
  } finally {
    await runner.close();
  }
}

/** Runs `troupe ps`; resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const inv = await invocation(
    argv,
    {
      tasks: { type: 'boolean' },
      wait: { type: 'string' },
      watch: { type: 'boolean' },
      interval: { type: 'string' },
      prefix: { type: 'string' },
    },
    USAGE,
  );
  if (typeof inv === 'number') return inv;
  return inv.values.tasks === true ? listTasks(inv) : listActors(inv);
}
