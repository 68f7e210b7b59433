// `troupe state migrate`: copies every actor and agent state from one backend (NATS KV, Redis, PostgreSQL) to
// another, then verifies counts and the sha256 of every value on both sides.

import {
  type MigrateStateReport,
  migrateState,
  postgresStateStore,
  redisStateStore,
} from '../memory/index.js';
import type { StateStore } from '../runtime/index.js';
import { natsKvStateStore } from '../transport/index.js';
import { invocation, printJson, UsageError } from './args.js';
import type { TroupeConfig } from './config.js';
import { natsAuthOption } from './connect.js';

const USAGE = `Usage: troupe state migrate --from kv|redis|postgres --to kv|redis|postgres [--nats URL] [--redis URL]
                             [--postgres URL] [--bucket B] [--table T] [--redis-prefix P] [--only PREFIX] [--json]

Copies every state (actor and agent snapshots) from one backend to another, then reads both sides again and
checks the count and the sha256 of every value; prints the count, bytes and a checksum over all of them.
Saves overwrite, so a migration that failed halfway (exit 1 with a coded error) is simply run again.

Options:
  --from, --to BACKEND     kv (NATS KV), redis or postgres; they must differ
  --postgres URL           PostgreSQL (env POSTGRES_URL, then DATABASE_URL; default
                           postgres://postgres@127.0.0.1:5432/postgres)
  --bucket B               the NATS KV bucket (default troupe-state, natsKvPersistence's)
  --table T                the PostgreSQL table (default troupe_state)
  --redis-prefix P         the Redis key prefix (default troupe:state:)
  --only PREFIX            only the states whose key starts with PREFIX
  --concurrency N          values copied at once (default 16)
`;

const BACKENDS = ['kv', 'redis', 'postgres'] as const;
type Backend = (typeof BACKENDS)[number];
const DEFAULT_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

function backend(value: unknown, flag: string): Backend {
  if (typeof value !== 'string') throw new UsageError(`${flag} is required: kv, redis or postgres`);
  if (!(BACKENDS as readonly string[]).includes(value))
    throw new UsageError(`${flag} ${value}: expected kv, redis or postgres`);
  return value as Backend;
}

interface Where {
  config: TroupeConfig;
  postgres: string;
  bucket: string | undefined;
  table: string | undefined;
  redisPrefix: string | undefined;
}

function open(kind: Backend, where: Where): Promise<StateStore> {
  switch (kind) {
    case 'kv':
      return natsKvStateStore({
        servers: where.config.nats,
        ...natsAuthOption(where.config),
        ...(where.bucket === undefined ? {} : { bucket: where.bucket }),
      });
    case 'redis':
      return redisStateStore({
        redis: where.config.redis,
        ...(where.redisPrefix === undefined ? {} : { prefix: where.redisPrefix }),
      });
    case 'postgres':
      return postgresStateStore({
        url: where.postgres,
        ...(where.table === undefined ? {} : { table: where.table }),
      });
  }
}

function describe(kind: Backend, where: Where): string {
  if (kind === 'kv') return `kv (${where.config.nats}, bucket ${where.bucket ?? 'troupe-state'})`;
  if (kind === 'redis')
    return `redis (${where.config.redis}, prefix ${where.redisPrefix ?? 'troupe:state:'})`;
  return `postgres (${where.postgres.replace(/\/\/[^@/]*@/, '//***@')}, table ${where.table ?? 'troupe_state'})`;
}

async function migrate(argv: string[]): Promise<number> {
  const inv = await invocation(
    argv,
    {
      from: { type: 'string' },
      to: { type: 'string' },
      postgres: { type: 'string' },
      bucket: { type: 'string' },
      table: { type: 'string' },
      'redis-prefix': { type: 'string' },
      only: { type: 'string' },
      concurrency: { type: 'string' },
    },
    USAGE,
  );
  if (typeof inv === 'number') return inv;
  const v = inv.values;
  const from = backend(v.from, '--from');
  const to = backend(v.to, '--to');
  if (from === to) throw new UsageError(`--from and --to are both ${from}: nothing to migrate`);
  const concurrency = v.concurrency === undefined ? 16 : Number(v.concurrency);
  if (!(Number.isInteger(concurrency) && concurrency > 0))
    throw new UsageError(`--concurrency ${String(v.concurrency)}: expected a positive integer`);
  const where: Where = {
    config: inv.config.values,
    postgres:
      (v.postgres as string | undefined) ??
      process.env.POSTGRES_URL ??
      process.env.DATABASE_URL ??
      DEFAULT_POSTGRES_URL,
    bucket: v.bucket as string | undefined,
    table: v.table as string | undefined,
    redisPrefix: v['redis-prefix'] as string | undefined,
  };
  const source = await open(from, where);
  let target: StateStore | undefined;
  try {
    target = await open(to, where);
    const report: MigrateStateReport = await migrateState(source, target, {
      concurrency,
      ...(typeof v.only === 'string' ? { prefix: v.only } : {}),
    });
    if (inv.json) printJson({ ok: true, ...report });
    else
      process.stdout.write(
        `migrated ${report.copied} states (${report.bytes} bytes) from ${describe(from, where)} to ` +
          `${describe(to, where)} in ${report.ms} ms\n` +
          `verified: ${report.verified} of ${report.copied} values have the same sha256 on both sides` +
          `${report.vanished > 0 ? ` (${report.vanished} deleted while migrating)` : ''}\n` +
          `checksum: ${report.checksum}\n`,
      );
    return 0;
  } finally {
    await Promise.allSettled([source.close(), target?.close()]);
  }
}

/** Runs `troupe state <subcommand>`; resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'migrate') return migrate(rest);
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    process.stdout.write(USAGE);
    return sub === undefined ? 2 : 0;
  }
  throw new UsageError(`unknown subcommand "state ${sub}": expected migrate`);
}
