// What every subcommand shares: the common flags, reading them into a configuration and a logger, help and
// usage errors, and printing tables or JSON.

import { type ParseArgsConfig, parseArgs } from 'node:util';
import { createLogger, ErrorCode, type Logger, TroupeError } from '../runtime/index.js';
import {
  type ConfigKey,
  loadConfigFile,
  type ResolvedConfig,
  resolveConfig,
  type TroupeConfig,
} from './config.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** The flags every command takes. */
export const COMMON_OPTIONS = {
  config: { type: 'string' },
  nats: { type: 'string' },
  redis: { type: 'string' },
  namespace: { type: 'string' },
  'log-level': { type: 'string' },
  'log-format': { type: 'string' },
  'nats-user': { type: 'string' },
  'nats-pass': { type: 'string' },
  'nats-token': { type: 'string' },
  'nats-nkey-seed-file': { type: 'string' },
  'nats-creds-file': { type: 'string' },
  'nats-tls-ca': { type: 'string' },
  'nats-tls-cert': { type: 'string' },
  'nats-tls-key': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Options;

/** Help text of the common flags, appended to every command's usage. */
export const COMMON_HELP = `Common options:
  --nats URL               NATS server(s) (env NATS_URL; default nats://127.0.0.1:4222)
  --redis URL              Redis (env REDIS_URL; default redis://127.0.0.1:6379)
  --namespace NS           cluster namespace (env TROUPE_NAMESPACE; default: default); also keeps task
                           queues apart: the BullMQ prefix is troupe.<NS> (troupe for the default one)
  --nats-user U --nats-pass P   NATS user and password (env NATS_USER, NATS_PASS)
  --nats-token T           NATS token (env NATS_TOKEN)
  --nats-nkey-seed-file F  NATS nkey seed file (env NATS_NKEY_SEED_FILE)
  --nats-creds-file F      NATS creds file: user JWT and seed (env NATS_CREDS)
  --nats-tls-ca F          CA to trust the NATS server with (env NATS_TLS_CA); with tls:// URLs
  --nats-tls-cert F --nats-tls-key F   client certificate for NATS (env NATS_TLS_CERT, NATS_TLS_KEY)
                           Secrets are best given by environment or file: flags show in the process list.
  --config FILE            config file (default: ./troupe.config.json, .mjs or .js if present)
  --log-level LEVEL        trace|debug|info|warn|error|fatal|silent (env TROUPE_LOG_LEVEL)
  --log-format FORMAT      json|pretty|auto (env TROUPE_LOG_FORMAT; auto: pretty on a terminal)
  --json                   print results as JSON
  -h, --help               show this help
Precedence: flags, then environment, then config file, then defaults (see troupe config).
`;

/** A command's parsed arguments, configuration and logger. */
export interface Invocation<V> {
  values: V;
  positionals: string[];
  config: ResolvedConfig;
  logger: Logger;
  json: boolean;
}

/** A usage error: printed with the command's usage, exit code 2. */
export class UsageError extends TroupeError {
  constructor(message: string) {
    super(ErrorCode.InvalidOptions, message);
  }
}

const FLAG_KEYS: [ConfigKey, string][] = [
  ['nats', 'nats'],
  ['redis', 'redis'],
  ['namespace', 'namespace'],
  ['prefix', 'prefix'],
  ['logLevel', 'log-level'],
  ['logFormat', 'log-format'],
  ['metricsPort', 'metrics-port'],
  ['metricsHost', 'metrics-host'],
  ['natsUser', 'nats-user'],
  ['natsPass', 'nats-pass'],
  ['natsToken', 'nats-token'],
  ['natsNkeySeedFile', 'nats-nkey-seed-file'],
  ['natsCredsFile', 'nats-creds-file'],
  ['natsTlsCa', 'nats-tls-ca'],
  ['natsTlsCert', 'nats-tls-cert'],
  ['natsTlsKey', 'nats-tls-key'],
];

/**
 * Parses `argv` with the common flags plus `options`; prints `usage` and returns 0 for --help. Throws
 * {@link UsageError} on unknown flags and bad values (with the key and its source).
 */
export async function invocation<O extends Options>(
  argv: string[],
  options: O,
  usage: string,
  defaults: Partial<TroupeConfig> = {},
): Promise<Invocation<Record<string, string | boolean | string[] | undefined>> | number> {
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options: { ...COMMON_OPTIONS, ...options }, allowPositionals: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const values = parsed.values as Record<string, string | boolean | string[] | undefined>;
  if (values.help) {
    process.stdout.write(`${usage}\n${COMMON_HELP}`);
    return 0;
  }
  const flags: Partial<Record<ConfigKey, string | undefined>> = {};
  for (const [key, flag] of FLAG_KEYS)
    if (typeof values[flag] === 'string') flags[key] = values[flag] as string;
  const file = await loadConfigFile(values.config as string | undefined);
  const config = resolveConfig({ flags, env: process.env, file, defaults });
  const logger = createLogger({ level: config.values.logLevel, format: config.values.logFormat });
  return { values, positionals: parsed.positionals, config, logger, json: values.json === true };
}

/** A positive integer of milliseconds from a flag, or the default. */
export function millis(value: unknown, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!(Number.isInteger(n) && n > 0))
    throw new UsageError(`${flag} expects a positive integer of ms, got ${String(value)}`);
  return n;
}

/** Prints `rows` under `head` as aligned columns; `numeric` columns are right-aligned. */
export function table(head: string[], rows: string[][], numeric: ReadonlySet<number> = new Set()): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (numeric.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return `${[line(head), ...rows.map(line)].join('\n')}\n`;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/** An error as one line for stderr, with its code when it has one; and as JSON for --json. */
export function describeError(err: unknown): { code: string; message: string } {
  if (TroupeError.is(err)) return { code: err.code, message: err.message };
  const code = (err as { code?: unknown } | null)?.code;
  return {
    code: typeof code === 'string' ? code : 'ERROR',
    message: err instanceof Error ? err.message : String(err),
  };
}
