// The state-backends part of scenario `memory`: StateStore save and load per backend (NATS KV, Redis, PostgreSQL)
// against the raw client doing the same thing (KV put/get, ioredis SET/GET, a pg upsert/select), the same value,
// keys and operations in flight on both sides.

import { type KV, Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import pg from 'pg';
import { postgresStateStore, redisStateStore } from '../../memory/index.js';
import type { StateStore } from '../../runtime/index.js';
import { type PostgresServer, startPostgres } from '../../testing/index.js';
import { natsKvStateStore } from '../../transport/index.js';
import { pipelinedRate } from '../load.js';
import type { Figure, MetricSpec, RoundBudget, ScenarioContext } from '../scenario.js';

/** Operations in flight at once, the same for troupe and the baseline. */
const STATE_WINDOW = 32;
/** Distinct keys written and read round-robin: a fleet of actors, each saving its own state. */
const STATE_KEYS = 1000;
/** A typical actor state snapshot. */
const STATE_BYTES = 1024;

const BACKENDS = ['kv', 'redis', 'postgres'] as const;
type Backend = (typeof BACKENDS)[number];
const RAW: Record<Backend, string> = {
  kv: 'NATS KV put/get',
  redis: 'ioredis SET/GET',
  postgres: 'pg upsert/select',
};

export const STATE_METRICS: MetricSpec[] = BACKENDS.flatMap((b) => [
  {
    id: `state-save-${b}`,
    label: `state save on ${b} (${STATE_WINDOW} in flight, ${STATE_BYTES} B) vs ${RAW[b].split('/')[0]}`,
    unit: 'op/s',
    kind: 'throughput' as const,
    better: 'higher' as const,
  },
  {
    id: `state-load-${b}`,
    label: `state load on ${b} (${STATE_WINDOW} in flight, ${STATE_BYTES} B) vs ${RAW[b].replace(/ \w+\//, ' ')}`,
    unit: 'op/s',
    kind: 'throughput' as const,
    better: 'higher' as const,
  },
]);

interface RawSide {
  save(key: string, value: Uint8Array): Promise<unknown>;
  load(key: string): Promise<unknown>;
}

/** Opens the state part: the three stores and their raw clients, each pair on its own keys. */
export async function openState(ctx: ScenarioContext): Promise<{
  round(budget: RoundBudget): Promise<Record<string, Figure>>;
  close(): Promise<void>;
}> {
  const closers: Array<() => Promise<unknown>> = [];
  const close = async (): Promise<void> => {
    for (const c of closers.splice(0).reverse()) await c().catch(() => {});
  };
  const ns = ctx.namespace.replace(/[^A-Za-z0-9_]/g, '_');
  const value = new Uint8Array(STATE_BYTES).map((_, i) => (i * 31) % 256);
  const keys = Array.from({ length: STATE_KEYS }, (_, i) => `$v/account/${i}`);
  const pairs: Array<{ backend: Backend; store: StateStore; raw: RawSide }> = [];
  try {
    // NATS KV: the store's bucket and a bucket of the raw client's own.
    const kvStore = await natsKvStateStore({ servers: ctx.natsUrl!, bucket: `${ns}-state` });
    closers.push(() => kvStore.close());
    const nc: NatsConnection = await connect({ servers: ctx.natsUrl! });
    closers.push(() => nc.close());
    const kv: KV = await new Kvm(nc).create(`${ns}-raw`, { history: 1 });
    const token = (k: string): string => Buffer.from(k).toString('base64url');
    pairs.push({
      backend: 'kv',
      store: kvStore,
      raw: { save: (k, v) => kv.put(token(k), v), load: (k) => kv.get(token(k)) },
    });

    // Redis: SET/GET of Buffers under two prefixes.
    const redisStore = await redisStateStore({ redis: ctx.redisUrl!, prefix: `${ns}:state:` });
    closers.push(() => redisStore.close());
    const redis = new Redis(ctx.redisUrl!, { maxRetriesPerRequest: 1 });
    redis.on('error', () => {});
    closers.push(async () => redis.disconnect());
    pairs.push({
      backend: 'redis',
      store: redisStore,
      raw: {
        save: (k, v) => redis.set(`${ns}:raw:${k}`, Buffer.from(v)),
        load: (k) => redis.getBuffer(`${ns}:raw:${k}`),
      },
    });

    // PostgreSQL: a private server (the bench CLI starts none), two tables of the same shape.
    ctx.progress('state: starting PostgreSQL');
    const server: PostgresServer = await startPostgres();
    closers.push(() => server.stop());
    const pgStore = await postgresStateStore({ url: server.url, table: 'bench_state' });
    closers.push(() => pgStore.close());
    const pool = new pg.Pool({ connectionString: server.url, max: 10 });
    pool.on('error', () => {});
    closers.push(() => pool.end());
    await pool.query(
      'CREATE TABLE IF NOT EXISTS bench_raw (key text PRIMARY KEY, value bytea NOT NULL, ' +
        'updated_at timestamptz NOT NULL DEFAULT now())',
    );
    pairs.push({
      backend: 'postgres',
      store: pgStore,
      raw: {
        save: (k, v) =>
          pool.query(
            'INSERT INTO bench_raw (key, value, updated_at) VALUES ($1, $2, now()) ' +
              'ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at',
            [k, Buffer.from(v)],
          ),
        load: (k) => pool.query('SELECT value FROM bench_raw WHERE key = $1', [k]),
      },
    });

    // Both sides of every backend hold every key before the first load.
    for (const { store, raw } of pairs)
      for (let i = 0; i < STATE_KEYS; i += 100)
        await Promise.all(keys.slice(i, i + 100).flatMap((k) => [store.save(k, value), raw.save(k, value)]));
  } catch (err) {
    await close();
    throw err;
  }

  return {
    async round(budget) {
      const total = ctx.count(5_000, 30_000, budget);
      const rate = (issue: (i: number) => Promise<unknown>) =>
        pipelinedRate({ total, window: STATE_WINDOW, deadline: budget.deadline(), issue });
      const figures: Record<string, Figure> = {};
      for (const { backend, store, raw } of pairs) {
        const key = (i: number): string => keys[i % STATE_KEYS] as string;
        ctx.progress(`state ${backend}: ${total} saves`);
        const save = await rate((i) => store.save(key(i), value));
        const saveBase = await rate((i) => raw.save(key(i), value));
        ctx.progress(`state ${backend}: ${total} loads`);
        const load = await rate((i) => store.get(key(i)));
        const loadBase = await rate((i) => raw.load(key(i)));
        figures[`state-save-${backend}`] = { troupe: save, baseline: saveBase };
        figures[`state-load-${backend}`] = { troupe: load, baseline: loadBase };
      }
      return figures;
    },
    close,
  };
}
