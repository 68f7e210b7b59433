// Logs of a real cluster: two nodes on a nats-server, each with a JSON logger writing to an array. Crashes come
// with their stack, restarts and escalations are written, a flood of dead letters gives a handful of lines with
// counts, joins, leaves, shard moves and reconnects are written, and errors keep stack and cause across the wire.

import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type ActorSystem,
  createLogger,
  createSystem,
  defineActor,
  defineTask,
  ErrorCode,
  type LogFields,
  type Reply,
  TroupeError,
} from '../../runtime/index.js';
import { defineSupervisor, restartPolicy } from '../../supervisor/index.js';
import { bullmqTaskRunner } from '../../tasks-bullmq/index.js';
import { type ServerProcess, startNats, startRedis } from '../../testing/index.js';
import { natsTransport } from '../../transport/index.js';
import { until } from '../helpers/fixtures.js';

let server: ServerProcess;
beforeAll(async () => {
  server = await startNats({ jetstream: false });
});
afterAll(() => server?.stop());

const systems: ActorSystem[] = [];
afterEach(async () => {
  await Promise.all(systems.splice(0).map((s) => s.close()));
});

/** A node whose logger writes JSON lines into `lines`. */
async function node(nodeId: string, namespace: string, lines: LogFields[]): Promise<ActorSystem> {
  const logger = createLogger({
    level: 'info',
    format: 'json',
    write: (line) => lines.push(JSON.parse(line)),
  });
  const system = await createSystem({
    nodeId,
    logger,
    transport: natsTransport({
      servers: server.url,
      namespace,
      cluster: { heartbeatMs: 100, failureTimeoutMs: 1000 },
    }),
  });
  systems.push(system);
  return system;
}

const find = (lines: LogFields[], msg: string, extra: LogFields = {}) =>
  lines.filter((l) => l.msg === msg && Object.entries(extra).every(([k, v]) => l[k] === v));

type Fragile = { crash: Reply<number>; refuse: Reply<number>; ping: Reply<string> };

const fragile = defineActor<Fragile>({
  type: 'fragile',
  supervision: {
    restart: restartPolicy({ maxRestarts: 10, withinMs: 10_000, backoff: { minMs: 5, maxMs: 5 } }),
  },
  handlers: {
    crash: () => {
      throw new Error('boom', { cause: new Error('root') });
    },
    refuse: (_m, ctx) => {
      ctx.fail(new Error('boom', { cause: new Error('root') }));
      return undefined;
    },
    ping: () => 'pong',
  },
});

const { supervision: _unused, ...unsupervised } = fragile;
/** The same actor without a restart policy of its own: its supervisor decides. */
const plainFragile = defineActor<Fragile>(unsupervised);

const counter = defineActor<{ add: Reply<number> }, number>({
  type: 'counter',
  init: () => 0,
  handlers: { add: (_m, ctx) => ++ctx.state },
});

describe('logs of a cluster', () => {
  it('crash with stack, restart, escalation, dead letters with counts, joins, leaves and shard moves', async () => {
    const ns = `t${randomBytes(4).toString('hex')}`;
    const la: LogFields[] = [];
    const lb: LogFields[] = [];
    const a = await node('a', ns, la);
    a.register('counter', counter);
    const b = await node('b', ns, lb);
    b.register('counter', counter);

    // The transport took its system's logger: node id and component bound.
    expect(find(la, 'NATS transport bound')[0]).toMatchObject({
      node: 'a',
      component: 'nats',
      servers: server.url,
    });
    await until(() => find(la, 'member joined', { member: 'b' }).length === 1, 5000, 'a sees b join');
    await until(() => find(lb, 'shards moved').length > 0, 5000, 'b claims shards');
    expect(find(la, 'shards moved')[0]).toMatchObject({ level: 'info', claimed: 64 });
    await until(
      () => find(la, 'shards moved').some((l) => (l.released as number) > 0),
      5000,
      'a hands shards over',
    );

    // A crash: error line with the stack and cause, then a restart with its attempt and delay.
    b.spawn(fragile, { name: 'fragile' });
    const crashed = await a
      .ref<Fragile>('b/fragile')
      .ask({ type: 'crash' })
      .catch((e: unknown) => e as TroupeError);
    expect(crashed).toBeInstanceOf(TroupeError);
    const crash = find(lb, 'actor crashed', { address: 'b/fragile' })[0];
    expect(crash).toMatchObject({
      level: 'error',
      node: 'b',
      actorType: 'fragile',
      messageType: 'crash',
      phase: 'handler',
      error: { name: 'Error', message: 'boom', cause: { message: 'root' } },
    });
    expect((crash!.error as LogFields).stack).toContain('logs.test.ts');
    await until(
      () => find(lb, 'actor restarting', { address: 'b/fragile' }).length > 0,
      5000,
      'restart line',
    );
    expect(find(lb, 'actor restarting')[0]).toMatchObject({
      level: 'info',
      attempt: 1,
      delayMs: 5,
      reason: 'boom',
    });
    expect(await a.ref<Fragile>('b/fragile').ask({ type: 'ping' })).toBe('pong');

    // Escalation: a supervisor allowed no restart fails in turn, and, unsupervised, stops.
    b.spawn(
      defineSupervisor({
        intensity: { maxRestarts: 0, withinMs: 10_000 },
        children: [{ name: 'child', actor: plainFragile }],
      }),
      { name: 'strict' },
    );
    await a
      .ref<Fragile>('b/strict/child')
      .ask({ type: 'crash' })
      .catch(() => undefined);
    await until(
      () => find(lb, 'actor stopped after failure', { address: 'b/strict' }).length === 1,
      5000,
      'gave up',
    );
    expect(find(lb, 'supervisor escalates', { address: 'b/strict' })[0]).toMatchObject({
      level: 'error',
      phase: 'supervision',
      error: { code: 'RESTART_INTENSITY_EXCEEDED' },
    });

    // 1000 dead letters: one line at once, then summaries with counts, not 1000 lines.
    const nobody = a.ref<{ hello: { n: number } }>('b/nobody');
    for (let n = 0; n < 1000; n++) nobody.tell({ type: 'hello', n });
    await until(() => b.deadLetters.count >= 1000, 10_000, '1000 dead letters on b');
    const firsts = find(lb, 'dead letter', { reason: ErrorCode.ActorNotFound }).filter(
      (l) => l.summary !== true,
    );
    expect(firsts).toHaveLength(1);
    expect(firsts[0]).toMatchObject({ level: 'warn', address: 'b/nobody', messageType: 'hello' });

    // The second node leaves (its pending summary is written as it closes), then comes back.
    await b.drain();
    const summaries = find(lb, 'dead letter', { reason: ErrorCode.ActorNotFound, summary: true });
    expect(summaries.length).toBeGreaterThanOrEqual(1);
    expect(summaries.length).toBeLessThanOrEqual(3);
    expect(1 + summaries.reduce((sum, l) => sum + (l.count as number), 0)).toBe(1000);
    expect(find(lb, 'NATS transport closed')).toHaveLength(1);
    await until(() => find(la, 'member left', { member: 'b' }).length === 1, 5000, 'a sees b leave');
    await until(() => find(la, 'shards moved').some((l) => l.owned === 64), 5000, 'a takes its shards back');
    const again: LogFields[] = [];
    const b2 = await node('b', ns, again);
    b2.register('counter', counter);
    await until(() => find(la, 'member joined', { member: 'b' }).length === 2, 5000, 'a sees b join again');
    expect(la.filter((l) => l.level === 'error')).toEqual([]);
  });

  it('errors keep their stack and cause across the wire; a plain Error from a handler is HANDLER_ERROR', async () => {
    const ns = `t${randomBytes(4).toString('hex')}`;
    const a = await node('a', ns, []);
    const b = await node('b', ns, []);
    b.spawn(fragile, { name: 'fragile' });
    const remote = a.ref<Fragile>('b/fragile');

    // ctx.fail with a plain Error: the asker gets HANDLER_ERROR, with the remote stack and the cause.
    const refused = (await remote.ask({ type: 'refuse' }).catch((e: unknown) => e)) as TroupeError;
    expect(TroupeError.is(refused, ErrorCode.HandlerError)).toBe(true);
    expect(refused.message).toBe('Error: boom');
    expect(refused.stack).toMatch(/^remote b: Error: boom\n/);
    expect(refused.stack).toContain('logs.test.ts');
    expect(refused.cause).toBeInstanceOf(TroupeError);
    expect((refused.cause as TroupeError).message).toBe('Error: root');
    expect((refused.cause as TroupeError).stack).toContain('logs.test.ts');

    // A handler that throws: the actor crashed (ACTOR_CRASHED); what it threw is the cause, HANDLER_ERROR.
    const crashed = (await remote.ask({ type: 'crash' }).catch((e: unknown) => e)) as TroupeError;
    expect(TroupeError.is(crashed, ErrorCode.ActorCrashed)).toBe(true);
    expect(crashed.stack).toMatch(/^remote b: /);
    const thrown = crashed.cause as TroupeError;
    expect(thrown.code).toBe(ErrorCode.HandlerError);
    expect(thrown.message).toBe('Error: boom');
    expect(thrown.stack).toContain('logs.test.ts');
    expect((thrown.cause as TroupeError).message).toBe('Error: root');

    // A local ask of the same handler is not labelled remote.
    const local = (await b
      .ref<Fragile>('b/fragile')
      .ask({ type: 'refuse' })
      .catch((e: unknown) => e)) as TroupeError;
    expect(local.code).toBe(ErrorCode.HandlerError);
    expect(local.stack).not.toMatch(/^remote /);
  });

  it('a huge error still fits in its reply frame', async () => {
    const ns = `t${randomBytes(4).toString('hex')}`;
    const a = await node('a', ns, []);
    const b = await node('b', ns, []);
    b.spawn(
      defineActor<{ go: Reply<number> }>({
        type: 'deep',
        handlers: {
          go: (_m, ctx) => {
            let error = new Error('bottom');
            for (let i = 0; i < 50; i++) {
              error = new Error(`level ${i}`, { cause: error });
              error.stack = `Error: level ${i}\n${'    at somewhere (x.js:1:1)\n'.repeat(5000)}`;
            }
            ctx.fail(error);
            return undefined;
          },
        },
      }),
      { name: 'deep' },
    );
    const err = (await a
      .ref<{ go: Reply<number> }>('b/deep')
      .ask({ type: 'go' })
      .catch((e: unknown) => e)) as TroupeError;
    expect(err.code).toBe(ErrorCode.HandlerError);
    expect(err.stack!.length).toBeLessThan(4096 + 64);
    let depth = 0;
    for (
      let c = err.cause as TroupeError | undefined;
      c !== undefined;
      c = c.cause as TroupeError | undefined
    )
      depth++;
    expect(depth).toBe(3);
  });

  it('logs a disconnect and a reconnect when the server restarts', async () => {
    const own = await startNats({ jetstream: false });
    let system: ActorSystem | undefined;
    try {
      const lines: LogFields[] = [];
      const logger = createLogger({
        level: 'info',
        format: 'json',
        write: (line) => lines.push(JSON.parse(line)),
      });
      system = await createSystem({
        nodeId: 'r',
        transport: natsTransport({ servers: own.url, logger }),
      });
      await own.restart(100);
      await until(() => find(lines, 'NATS reconnected').length === 1, 15_000, 'reconnect line');
      expect(find(lines, 'NATS disconnected')[0]).toMatchObject({
        level: 'warn',
        node: 'r',
        component: 'nats',
      });
      // The system itself kept the default logger (silent in tests): only the transport's lines are here.
      expect(lines.every((l) => l.component === 'nats')).toBe(true);
    } finally {
      // Closed before its server stops: a connection left reconnecting to nothing would outlive the test.
      await system?.close();
      await own.stop();
    }
  });

  it('a BullMQ worker logs its start and stop, failed attempts and failed jobs; the caller gets the stack', async () => {
    const redis = await startRedis();
    const lines: LogFields[] = [];
    const logger = createLogger({
      level: 'info',
      format: 'json',
      write: (line) => lines.push(JSON.parse(line)),
    });
    const prefix = `t${randomBytes(4).toString('hex')}`;
    const flaky = defineTask(
      'flaky-remote',
      () => {
        throw new Error('no luck', { cause: new Error('root') });
      },
      { attempts: 2, backoffMs: 10 },
    );
    const worker = bullmqTaskRunner({ redis: redis.url, prefix, work: [flaky], logger, workerName: 'w1' });
    const caller = bullmqTaskRunner({ redis: redis.url, prefix });
    try {
      await worker.ready();
      expect(find(lines, 'task worker started')[0]).toMatchObject({
        tasks: ['flaky-remote'],
        workerName: 'w1',
      });
      const err = (await caller.run(flaky, {}).catch((e: unknown) => e)) as TroupeError;
      expect(err.code).toBe(ErrorCode.TaskFailed);
      // The rejected run carries the worker's stack and cause.
      expect(err.stack).toMatch(/^TaskError: /);
      const cause = err.cause as TroupeError;
      expect(cause.message).toBe('Error: no luck');
      expect(cause.stack).toContain('logs.test.ts');
      expect((cause.cause as TroupeError).message).toBe('Error: root');
      await until(() => find(lines, 'task failed').length === 1, 5000, 'final failure line');
      expect(find(lines, 'task attempt failed')[0]).toMatchObject({ level: 'warn', attempt: 1, attempts: 2 });
      const failed = find(lines, 'task failed')[0]!;
      expect(failed).toMatchObject({ level: 'error', component: 'tasks', task: 'flaky-remote', attempt: 2 });
      expect((failed.error as LogFields).stack).toContain('logs.test.ts');
    } finally {
      await caller.close();
      await worker.close();
      await redis.stop();
    }
    expect(find(lines, 'task worker stopped')).toHaveLength(1);
  });
});
