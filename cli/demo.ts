// `troupe demo`: a small fleet of agents on two nodes, embedded by default, over NATS/BullMQ when given URLs.

import { definePool } from '../actors/index.js';
import {
  type ActorSystem,
  createSystem,
  defineActor,
  defineTask,
  ErrorCode,
  type Reply,
  type TaskRunner,
  type Transport,
  TroupeError,
  taskPool,
} from '../runtime/index.js';
import { restartPolicy } from '../supervisor/index.js';
import { bullmqTaskRunner } from '../tasks-bullmq/index.js';
import { createLocalHub, localTransport, natsTransport } from '../transport/index.js';
import { invocation, UsageError } from './args.js';
import { isSet } from './config.js';

const USAGE = `Usage: troupe demo [--nats URL] [--redis URL]

Runs a small fleet of agents on two nodes: a coordinator fans documents out to a pool of analysts, which
hand the counting to a task; one analyst crashes and is restarted, stray messages become dead letters.
Embedded (local transport, in-process task pool) unless NATS or Redis is given (flag, NATS_URL/REDIS_URL
or the config file): then over NATS, with the tasks on BullMQ (this process is the worker node too).
`;

type Analysis = { doc: string; words: number; top: string; by: string };
type Analyst = { analyze: { doc: string; text: string } & Reply<Analysis> };
type Coordinator = { run: { docs: Record<string, string> } & Reply<Analysis[]> };

/**
 * The heavy part, as a task: it runs off the actor, on the embedded pool or on BullMQ worker nodes. Counts the
 * words of a document and finds the most frequent one, after a short "think" standing in for a model call.
 */
const wordStats = defineTask<{ text: string }, { words: number; top: string }>(
  'demo-word-stats',
  async ({ text }) => {
    await new Promise((resolve) => setTimeout(resolve, 5 + (text.length % 7)));
    const counts = new Map<string, number>();
    for (const word of text.toLowerCase().match(/[a-z']+/g) ?? [])
      counts.set(word, (counts.get(word) ?? 0) + 1);
    const top = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]?.[0] ?? '';
    return { words: [...counts.values()].reduce((a, b) => a + b, 0), top };
  },
  { concurrency: 4, attempts: 2, timeoutMs: 5000 },
);

/** A worker agent: checks the document, hands the counting to a task, answers with the result. */
const analyst = defineActor<Analyst, { handled: number }>({
  type: 'analyst',
  init: () => ({ handled: 0 }),
  handlers: {
    analyze: async (msg, ctx) => {
      if (msg.text.length === 0) throw new Error(`document ${msg.doc} is empty`);
      const stats = await ctx.runTask(wordStats, { text: msg.text });
      ctx.state.handled++;
      return { doc: msg.doc, ...stats, by: ctx.self.address };
    },
  },
  // A crash restarts the analyst (the message that caused it is retried, then dead-lettered with its error).
  supervision: { restart: restartPolicy({ maxRestarts: 10, withinMs: 10_000 }) },
});

/** Fans a batch out to the analyst pool on the other node and gathers the answers. */
function coordinator(poolAddress: string) {
  return defineActor<Coordinator, undefined>({
    type: 'coordinator',
    handlers: {
      run: async (msg, ctx) => {
        const pool = ctx.refFor<Analyst>(poolAddress);
        const settled = await Promise.allSettled(
          Object.entries(msg.docs).map(([doc, text]) =>
            pool.ask({ type: 'analyze', doc, text }, { timeout: 5000 }),
          ),
        );
        return settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
      },
    },
  });
}

const DOCS: Record<string, string> = {
  'mission.md': 'Every agent is a supervised actor with its own mailbox, addressable from any process.',
  'ops.md':
    'Heavy work goes to worker nodes; a fleet scales by adding processes and machines, then more machines.',
  'ethos.md':
    'Nothing is silently lost: a message nobody handles goes to dead letters, counted and observable.',
  'faq.md': 'Why actors? Actors process one message at a time, in order, so agents need no locks at all.',
  'empty.md': '',
};

/** Runs the demo; resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const inv = await invocation(argv, {}, USAGE);
  if (typeof inv === 'number') return inv;
  if (inv.positionals.length > 0) throw new UsageError(`unexpected argument ${inv.positionals[0]}`);
  // Embedded unless NATS or Redis is configured (flag, environment or config file).
  const values = {
    nats: isSet(inv.config, 'nats') ? inv.config.values.nats : undefined,
    redis: isSet(inv.config, 'redis') ? inv.config.values.redis : undefined,
  };
  const logger = inv.logger;
  const out = (line: string): boolean => process.stdout.write(`${line}\n`);
  const hub = createLocalHub();
  const namespace = `demo${process.pid}`;
  const transport = (): Transport =>
    values.nats ? natsTransport({ servers: values.nats, namespace, logger }) : localTransport({ hub });
  out(
    `troupe demo: two nodes over ${values.nats ? `NATS at ${values.nats}` : 'the embedded local transport (no servers)'}`,
  );
  // With Redis, tasks go through BullMQ (this process is also the worker node); without, the embedded pool.
  const tasks: TaskRunner = values.redis
    ? bullmqTaskRunner({ redis: values.redis, prefix: namespace, work: [wordStats], logger })
    : taskPool({ threads: 1 });
  out(`tasks run on ${values.redis ? `BullMQ at ${values.redis}` : 'the embedded task pool (no Redis)'}`);

  const systems: ActorSystem[] = [];
  try {
    const workers = await createSystem({ nodeId: 'workers', transport: transport(), tasks, logger });
    systems.push(workers);
    const front = await createSystem({ nodeId: 'front', transport: transport(), logger });
    systems.push(front);

    const pool = workers.spawn(definePool(analyst, { size: 3 }), { name: 'analysts' });
    const boss = front.spawn(coordinator(pool.address), { name: 'coordinator' });
    out(`spawned ${pool.address} (3 analysts) and ${boss.address}`);

    const started = performance.now();
    const results = await boss.ask({ type: 'run', docs: DOCS }, { timeout: 10_000 });
    const ms = performance.now() - started;
    out(`analyzed ${results.length} of ${Object.keys(DOCS).length} documents in ${ms.toFixed(1)} ms:`);
    for (const r of results)
      out(`  ${r.doc.padEnd(11)} ${String(r.words).padStart(3)} words, top "${r.top}" (by ${r.by})`);

    // A message nobody handles, and one to an actor that does not exist: both become dead letters.
    front.ref(pool.address).tell({ type: 'dance' });
    const missing = await front
      .ref('workers/nobody')
      .ask({ type: 'hello' }, { timeout: 2000 })
      .catch((err: unknown) => err);
    out(`ask to workers/nobody -> ${TroupeError.is(missing) ? missing.code : 'unexpected answer'}`);
    // Let the dead letters land before reporting them.
    await new Promise((resolve) => setTimeout(resolve, 50));

    const letters = [...front.deadLetters.recent(), ...workers.deadLetters.recent()];
    out(`dead letters: ${letters.length}`);
    for (const l of letters)
      out(`  ${l.reason.padEnd(15)} ${l.address}${l.error ? `: ${l.error.message}` : ''}`);
    const crashed = letters.filter((l) => l.reason === ErrorCode.ActorCrashed).length;
    const actors = workers.inspect();
    out('actors on workers:');
    for (const a of actors) {
      out(`  ${a.address.padEnd(22)} ${a.status.padEnd(8)} ${a.processed} msgs, ${a.restarts} restarts`);
    }
    const restarts = actors.reduce((sum, a) => sum + a.restarts, 0);
    out(`crashes: ${crashed} message dead-lettered after ${restarts} restarts; every analyst still running`);
    const counts = (await tasks.counts(wordStats))[wordStats.name];
    out(`task ${wordStats.name}: ${counts?.completed ?? 0} completed, ${counts?.failed ?? 0} failed`);
    const ok =
      results.length === Object.keys(DOCS).length - 1 &&
      letters.length >= 3 &&
      (counts?.completed ?? 0) >= 4 &&
      actors.every((a) => a.status === 'running');
    out(ok ? 'demo finished: ok' : 'demo finished: unexpected results');
    return ok ? 0 : 1;
  } finally {
    for (const system of systems.reverse()) await system.drain();
    await tasks.drain();
  }
}
