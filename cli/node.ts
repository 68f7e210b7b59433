// `troupe node`: a process that hosts actors on NATS (the start(system) hooks of --actors modules) and/or runs
// the tasks its --tasks modules export from BullMQ queues on Redis.

import type { ActorSystem, Logger } from '../runtime/index.js';
import { createSystem } from '../runtime/index.js';
import { type BullmqTaskRunner, bullmqTaskRunner } from '../tasks-bullmq/index.js';
import { attachTaskRunner, otelLoadMetrics } from '../telemetry/index.js';
import { natsTransport } from '../transport/index.js';
import { invocation, UsageError } from './args.js';
import { isSet } from './config.js';
import { connectTo, natsAuthOption } from './connect.js';
import { loadModules } from './modules.js';
import { type NodeState, startNodeTelemetry } from './node-telemetry.js';
import { auditRefusals, SECURITY_HELP, SECURITY_OPTION, securityOption } from './security.js';

const USAGE = `Usage: troupe node --actors MODULE [--actors MODULE...] [--nats URL] [--redis URL] [options]
       troupe node --tasks MODULE [--tasks MODULE...] [--redis URL] [options]
       troupe node --role load [--nats URL] [options]

Hosts actors on NATS and/or runs tasks from BullMQ queues on Redis. An --actors MODULE exports
start(system), which registers virtual actor types (system.register) or spawns actors. A --tasks MODULE
exports task definitions (from defineTask, as named exports or arrays); this node runs them. Start several
nodes, on one machine or many: they share the task queues and the virtual actors' shards, and take over
each other's shards when one dies or drains.

NATS is joined with --actors, or when NATS is configured (--nats, NATS_URL, the config file). Redis is used
with --tasks, or when configured (--redis, REDIS_URL, the config file): a node with --actors and Redis but
no --tasks queues the tasks its actors run (ctx.runTask) for other nodes' workers, and runs none itself.
Modules are JavaScript. A TypeScript module needs a loader: NODE_OPTIONS="--import tsx" troupe node …, or
NODE_OPTIONS=--experimental-strip-types on Node >= 22.6; or compile it first.

Options:
  --actors MODULE          a module exporting start(system) (repeatable; joins NATS)
  --tasks MODULE           a module exporting task definitions to run (repeatable; uses Redis)
  --only NAME              run only this task (repeatable; default: all exported)
  --prefix P               BullMQ key prefix shared with the callers (default: troupe, or troupe.<namespace>
                           off the default namespace, so namespaces keep their task queues apart)
  --role R                 a cluster role placement can pin actor types to (repeatable); --role load
                           also runs the load agent: this node takes part in \`troupe load run --nats\`
                           (caps: env TROUPE_LOAD_MAX_VUS, default 2000, and TROUPE_LOAD_MAX_RATE, default 50000/s)
  --node-id ID             node id on NATS, and worker name stored on the jobs it runs (default: generated)
  --metrics-host H         interface of the --metrics-port server (env TROUPE_METRICS_HOST; default 127.0.0.1,
                           0.0.0.0 in a container so probes and Prometheus reach it)
  --metrics-port P         serve /metrics (Prometheus), /healthz and /readyz on 127.0.0.1:P (env TROUPE_METRICS_PORT;
                           0 picks a free port)
  --lock-duration MS       job lock; a dead node's jobs move on after about this long (default: 30000)
  --stalled-interval MS    how often stalled jobs are looked for (default: 30000)
  --threads N              worker threads for sandboxed tasks (default: cores - 1, 1 to 4)
${SECURITY_HELP}

Logs go to stderr (--log-level, default info). SIGTERM or SIGINT drains: the node leaves the cluster,
mailboxes empty, running jobs finish, then it exits 0. A second signal stops at once.
`;

function positive(value: unknown, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new UsageError(`${flag} expects a positive integer, got ${String(value)}`);
  return n;
}

/** The role of load nodes (load/ LOAD_ROLE; the load layer is imported only by nodes that play it). */
const LOAD_ROLE = 'load';

const list = (v: unknown): string[] => (Array.isArray(v) ? (v as string[]) : []);

/** How long a node may linger after it closed (a client still reconnecting to a server that went away). */
const EXIT_GRACE_MS = 2000;

/**
 * Waits for SIGTERM/SIGINT, then drains (a second signal closes at once); resolves with the exit code. Once
 * done, a handle left open (a client retrying a server that is gone) must not keep the process alive: an
 * unref'd timer exits it if it is still there after a grace period.
 */
function untilSignal(
  stopNow: () => Promise<unknown>,
  drain: () => Promise<void>,
  log: Logger,
): Promise<number> {
  return new Promise<number>((resolve) => {
    let signals = 0;
    let ended = false;
    const done = (code: number): void => {
      if (ended) return;
      ended = true;
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      setTimeout(() => {
        log.warn('handles still open after close: exiting');
        process.exit(code);
      }, EXIT_GRACE_MS).unref();
      resolve(code);
    };
    const stop = (signal: NodeJS.Signals): void => {
      signals++;
      if (signals > 1) {
        log.warn(`${signal} again, stopping now`);
        const forced = new Promise((r) => setTimeout(r, EXIT_GRACE_MS).unref());
        void Promise.race([stopNow(), forced]).then(() => done(1));
        return;
      }
      drain().then(
        () => done(0),
        (err: unknown) => {
          log.error('drain failed', { err });
          done(1);
        },
      );
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

/** Runs a node until SIGTERM/SIGINT; resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const inv = await invocation(
    argv,
    {
      tasks: { type: 'string', multiple: true },
      actors: { type: 'string', multiple: true },
      role: { type: 'string', multiple: true },
      only: { type: 'string', multiple: true },
      prefix: { type: 'string' },
      'node-id': { type: 'string' },
      'metrics-port': { type: 'string' },
      'metrics-host': { type: 'string' },
      'lock-duration': { type: 'string' },
      'stalled-interval': { type: 'string' },
      threads: { type: 'string' },
      ...SECURITY_OPTION,
    },
    USAGE,
    { logLevel: 'info' },
  );
  if (typeof inv === 'number') return inv;
  const { values, config, logger } = inv;
  if (inv.positionals.length > 0) throw new UsageError(`unexpected argument ${inv.positionals[0]}`);
  const taskModules = list(values.tasks);
  const actorModules = list(values.actors);
  const loadNode = list(values.role).includes(LOAD_ROLE);
  const useNats = actorModules.length > 0 || isSet(config, 'nats') || loadNode;
  const useRedis = taskModules.length > 0 || isSet(config, 'redis');
  if (taskModules.length === 0 && actorModules.length === 0 && !loadNode)
    throw new UsageError(
      `give --actors MODULE (actors on NATS) and/or --tasks MODULE (tasks from Redis), or --role ${LOAD_ROLE}`,
    );
  const { nats, redis, namespace, prefix } = config.values;
  const nodeId = values['node-id'] as string | undefined;
  const security = useNats ? securityOption(values['security-file'], nodeId) : {};

  const fromTasks = await loadModules(taskModules);
  const fromActors = await loadModules(actorModules);
  // One module given to both --tasks and --actors (as docker/compose.yaml does) starts once.
  const starts = [...new Set([...fromTasks.starts, ...fromActors.starts])];
  const only = list(values.only);
  const work = only.length > 0 ? fromTasks.tasks.filter((t) => only.includes(t.name)) : fromTasks.tasks;
  if (taskModules.length > 0 && work.length === 0)
    throw new UsageError(`no task definitions found in ${taskModules.join(', ')}`);
  const lockDurationMs = positive(values['lock-duration'], '--lock-duration');
  const stalledIntervalMs = positive(values['stalled-interval'], '--stalled-interval');
  const threads = positive(values.threads, '--threads');

  const log = logger.child({ component: 'node' });
  const state: NodeState = { system: undefined, hasRunner: useRedis, draining: false, started: false };
  // Before the system: the metrics it records go to the server's meter provider.
  const telemetry = await startNodeTelemetry(
    config.values.metricsPort,
    logger,
    state,
    config.values.metricsHost,
  );
  let runner: BullmqTaskRunner | undefined;
  let system: ActorSystem | undefined;
  let detachRunner: (() => void) | undefined;
  let refusals: { close(): Promise<void> } | undefined;
  try {
    if (useRedis) {
      const r = bullmqTaskRunner({
        redis,
        prefix,
        work,
        logger,
        tracing: telemetry.tracing,
        ...(nodeId === undefined ? {} : { workerName: nodeId }),
        ...(lockDurationMs === undefined ? {} : { lockDurationMs }),
        ...(stalledIntervalMs === undefined ? {} : { stalledIntervalMs }),
        ...(threads === undefined ? {} : { threads }),
      });
      runner = r;
      await connectTo('Redis', redis, () => r.ready());
    }
    if (useNats) {
      system = await connectTo('NATS', nats, () =>
        createSystem({
          ...(nodeId === undefined ? {} : { nodeId }),
          logger,
          tracing: telemetry.tracing,
          ...(telemetry.metrics === undefined ? {} : { metrics: telemetry.metrics }),
          transport: natsTransport({
            servers: nats,
            namespace,
            logger,
            ...natsAuthOption(inv.config),
            ...security,
            ...(values.role === undefined ? {} : { cluster: { roles: list(values.role) } }),
          }),
          ...(runner === undefined ? {} : { tasks: runner }),
        }),
      );
      state.system = system;
      if (security.security !== undefined) refusals = await auditRefusals(system, namespace);
      // The load agent, named troupe-load: `troupe load run --nats` finds it by this node's role. With
      // --metrics-port its figures are exported while a run goes on.
      if (loadNode)
        (await import('../load/index.js')).startLoadAgent(
          system,
          telemetry.metrics === undefined ? {} : { metricsHook: otelLoadMetrics(telemetry.meterProvider) },
        );
      for (const start of starts) await start(system);
    }
    // A task-only node has no system to count its runs: its runner is measured directly.
    if (system === undefined && runner !== undefined && telemetry.metrics !== undefined)
      detachRunner = attachTaskRunner(telemetry.metrics, runner, nodeId ?? `pid-${process.pid}`);
    state.started = true;
  } catch (err) {
    await refusals?.close();
    await system?.close();
    await runner?.close();
    await telemetry.close();
    throw err;
  }
  const id = system?.nodeId ?? nodeId ?? `pid-${process.pid}`;
  const parts = [
    system ? `nats ${nats} namespace ${namespace}` : 'no nats',
    runner ? `redis ${redis} prefix ${prefix}` : 'no redis',
    `actors ${actorModules.join(',') || 'none'}`,
    ...(loadNode ? ['load agent'] : []),
    `tasks ${work.map((t) => t.name).join(',') || (runner ? 'none run here (queues only)' : 'none')}`,
    ...(telemetry.url === undefined ? [] : [`metrics ${telemetry.url}`]),
  ];
  log.info(`node ${id} started (${parts.join(', ')})`, { node: id, pid: process.pid });
  // A line on stdout too, for scripts that wait for the node to be up.
  process.stdout.write(
    `troupe node ${process.pid}: ` +
      (work.length > 0 ? `working on ${work.map((t) => t.name).join(', ')} from ${redis}` : 'no tasks') +
      `${system ? `; actors on NATS as ${system.nodeId}` : ''}\n`,
  );

  return untilSignal(
    () => Promise.allSettled([refusals?.close(), system?.close(), runner?.close(), telemetry.close()]),
    async () => {
      state.draining = true;
      log.info(`node ${id} draining (mailboxes empty and running jobs finish first)`, { node: id });
      await system?.drain();
      await refusals?.close();
      await runner?.drain();
      const error = (await system?.closed()) ?? (await runner?.closed());
      detachRunner?.();
      await telemetry.close();
      if (error) log.error(`node ${id} closed with an error`, { node: id, err: error });
      log.info(`node ${id} stopped`, { node: id });
      process.stdout.write('troupe node: drained\n');
    },
    log,
  );
}
