// `troupe node`: a worker process that runs the tasks its modules export, from BullMQ queues on Redis.

import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { type ActorSystem, type AnyTaskDefinition, createSystem } from '../runtime/index.js';
import { isTaskDefinition } from '../runtime/internal.js';
import { bullmqTaskRunner } from '../tasks-bullmq/index.js';
import { natsTransport } from '../transport/index.js';

const USAGE = `Usage: troupe node --redis URL --tasks MODULE [--tasks MODULE...] [options]
       troupe node --nats URL --actors MODULE [--actors MODULE...] [options]

Runs the tasks exported by each MODULE (task definitions from defineTask, as named exports or arrays) from their
BullMQ queues, and/or hosts actors on NATS: a module's exported start(system) registers virtual actor types
(system.register) or spawns actors. Start several nodes, on one machine or many: they share the task queues
and the virtual actors' shards, and take over each other's shards when one dies or drains.

Options:
  --redis URL              Redis to take jobs from (required), e.g. redis://127.0.0.1:6379
  --tasks MODULE           a JS module exporting task definitions (repeatable)
  --only NAME              run only this task (repeatable; default: all exported)
  --prefix P               Redis key prefix shared with the callers (default: troupe)
  --nats URL               join NATS as an actor node (a module may export start(system) to spawn actors)
  --actors MODULE          a JS module exporting start(system) (repeatable; needs --nats)
  --role R                 a cluster role placement can pin actor types to (repeatable)
  --namespace NS           NATS namespace (default: default)
  --node-id ID             node id on NATS, and worker name stored on the jobs it runs (default: none)
  --lock-duration MS       job lock; a dead node's jobs move on after about this long (default: 30000)
  --stalled-interval MS    how often stalled jobs are looked for (default: 30000)
  --threads N              worker threads for sandboxed tasks (default: cores - 1, 1 to 4)

SIGTERM or SIGINT drains: running jobs finish, then the node exits 0. A second signal stops at once.
`;

function positive(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} expects a positive integer, got ${value}`);
  return n;
}

/** Imports each module and collects the task definitions it exports, and its `start` hooks. */
async function loadTasks(
  modules: string[],
): Promise<{ tasks: AnyTaskDefinition[]; starts: ((system: ActorSystem) => unknown)[] }> {
  const tasks: AnyTaskDefinition[] = [];
  const starts: ((system: ActorSystem) => unknown)[] = [];
  for (const spec of modules) {
    const url = spec.startsWith('file:') ? spec : pathToFileURL(resolve(spec)).href;
    const mod = (await import(url)) as Record<string, unknown>;
    for (const [name, value] of Object.entries(mod)) {
      if (name === 'start' && typeof value === 'function')
        starts.push(value as (system: ActorSystem) => unknown);
      for (const candidate of Array.isArray(value) ? value : [value])
        if (isTaskDefinition(candidate) && !tasks.includes(candidate)) tasks.push(candidate);
    }
  }
  return { tasks, starts };
}

/** Runs a worker node until SIGTERM/SIGINT; resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      redis: { type: 'string' },
      tasks: { type: 'string', multiple: true },
      actors: { type: 'string', multiple: true },
      role: { type: 'string', multiple: true },
      only: { type: 'string', multiple: true },
      prefix: { type: 'string' },
      nats: { type: 'string' },
      namespace: { type: 'string' },
      'node-id': { type: 'string' },
      'lock-duration': { type: 'string' },
      'stalled-interval': { type: 'string' },
      threads: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const actorsOnly =
    values.redis === undefined && values.nats !== undefined && (values.actors?.length ?? 0) > 0;
  if (!actorsOnly && (values.redis === undefined || !values.tasks?.length)) {
    process.stderr.write(`troupe node: give --redis and --tasks, or --nats and --actors\n\n${USAGE}`);
    return 2;
  }
  if (values.actors?.length && values.nats === undefined) {
    process.stderr.write(`troupe node: --actors needs --nats\n\n${USAGE}`);
    return 2;
  }
  const out = (line: string): boolean => process.stdout.write(`${line}\n`);
  const loaded = await loadTasks([...(values.tasks ?? []), ...(values.actors ?? [])]);
  const only = values.only;
  const tasks = only ? loaded.tasks.filter((t) => only.includes(t.name)) : loaded.tasks;
  if (!actorsOnly && tasks.length === 0)
    throw new Error(`no task definitions found in ${values.tasks!.join(', ')}`);
  const lockDurationMs = positive(values['lock-duration'], '--lock-duration');
  const stalledIntervalMs = positive(values['stalled-interval'], '--stalled-interval');
  const threads = positive(values.threads, '--threads');
  const runner = actorsOnly
    ? undefined
    : bullmqTaskRunner({
        redis: values.redis!,
        work: tasks,
        ...(values.prefix === undefined ? {} : { prefix: values.prefix }),
        ...(values['node-id'] === undefined ? {} : { workerName: values['node-id'] }),
        ...(lockDurationMs === undefined ? {} : { lockDurationMs }),
        ...(stalledIntervalMs === undefined ? {} : { stalledIntervalMs }),
        ...(threads === undefined ? {} : { threads }),
      });
  let system: ActorSystem | undefined;
  try {
    await runner?.ready();
    if (values.nats !== undefined) {
      system = await createSystem({
        ...(values['node-id'] === undefined ? {} : { nodeId: values['node-id'] }),
        transport: natsTransport({
          servers: values.nats,
          ...(values.namespace === undefined ? {} : { namespace: values.namespace }),
          ...(values.role === undefined ? {} : { cluster: { roles: values.role } }),
        }),
        ...(runner === undefined ? {} : { tasks: runner }),
      });
      for (const start of loaded.starts) await start(system);
    }
  } catch (err) {
    await system?.close();
    await runner?.close();
    throw err;
  }
  out(
    `troupe node ${process.pid}: ` +
      (runner ? `working on ${tasks.map((t) => t.name).join(', ')} from ${values.redis}` : 'no tasks') +
      `${system ? `; actors on NATS as ${system.nodeId}` : ''}`,
  );

  return await new Promise<number>((done) => {
    let signals = 0;
    const stop = (signal: NodeJS.Signals): void => {
      signals++;
      if (signals > 1) {
        out(`troupe node: ${signal} again, stopping now`);
        void Promise.allSettled([system?.close(), runner?.close()]).then(() => done(1));
        return;
      }
      out(`troupe node: ${signal}, draining (running jobs finish first)`);
      void (async () => {
        await system?.drain();
        await runner?.drain();
        const error = await runner?.closed();
        if (error) process.stderr.write(`troupe node: closed with ${error.message}\n`);
        out('troupe node: drained');
        process.off('SIGTERM', stop);
        process.off('SIGINT', stop);
        done(0);
      })();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}
