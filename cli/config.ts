// The CLI's configuration: flags, then the environment, then a config file, then defaults; every value
// remembers where it came from, so `troupe config` can say it and errors can name the key and its source.

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { InvalidOptionsError, type LogLevel } from '../runtime/index.js';

export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
export const DEFAULT_NAMESPACE = 'default';

export type LogFormat = 'json' | 'pretty' | 'auto';
const LEVELS: readonly string[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
const FORMATS: readonly string[] = ['json', 'pretty', 'auto'];

/** The resolved configuration. `prefix` is the BullMQ key prefix: `troupe`, or `troupe.<ns>` off the default namespace. */
export interface TroupeConfig {
  nats: string;
  redis: string;
  namespace: string;
  prefix: string;
  logLevel: LogLevel;
  logFormat: LogFormat;
  metricsPort: number | undefined;
  /** Interface the telemetry server binds: loopback by default, `0.0.0.0` in a container. */
  metricsHost: string;
  /** NATS credentials (one kind at most) and TLS files; the secrets (`natsPass`, `natsToken`) print as `***`. */
  natsUser: string | undefined;
  natsPass: string | undefined;
  natsToken: string | undefined;
  natsNkeySeedFile: string | undefined;
  natsCredsFile: string | undefined;
  natsTlsCa: string | undefined;
  natsTlsCert: string | undefined;
  natsTlsKey: string | undefined;
}
export type ConfigKey = keyof TroupeConfig;

/** Where a value came from: `flag` (`--nats`), `env` (`NATS_URL`), `file` (its path), or `default`. */
export interface ConfigSource {
  kind: 'flag' | 'env' | 'file' | 'default';
  /** The flag, variable or file that gave it. */
  from: string;
}

export interface ResolvedConfig {
  values: TroupeConfig;
  sources: Record<ConfigKey, ConfigSource>;
  /** The config file read, if any. */
  file: string | undefined;
}

interface KeySpec {
  flag: string;
  env: string | undefined;
  parse: (raw: unknown, where: string) => unknown;
}

function url(schemes: RegExp, example: string) {
  return (raw: unknown, where: string): string => {
    if (typeof raw !== 'string' || !raw.split(',').every((u) => schemes.test(u.trim())))
      throw new InvalidOptionsError(where, `expected a URL like ${example}, got ${JSON.stringify(raw)}`);
    return raw;
  };
}

function oneOf(values: readonly string[]) {
  return (raw: unknown, where: string): string => {
    if (typeof raw !== 'string' || !values.includes(raw))
      throw new InvalidOptionsError(
        where,
        `expected one of ${values.join(', ')}, got ${JSON.stringify(raw)}`,
      );
    return raw;
  };
}

function name(pattern: RegExp, what: string) {
  return (raw: unknown, where: string): string => {
    if (typeof raw !== 'string' || !pattern.test(raw))
      throw new InvalidOptionsError(where, `expected ${what}, got ${JSON.stringify(raw)}`);
    return raw;
  };
}

function port(raw: unknown, where: string): number {
  const n = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidOptionsError(where, `expected a port number 0-65535, got ${JSON.stringify(raw)}`);
  return n;
}

function text(raw: unknown, where: string): string {
  if (typeof raw !== 'string' || raw === '')
    throw new InvalidOptionsError(where, 'expected a non-empty string');
  return raw;
}

/** A file that must exist now (credentials, certificates): a typo is named at start, not at connect. */
function file(raw: unknown, where: string): string {
  const path = text(raw, where);
  if (!existsSync(path)) throw new InvalidOptionsError(where, `no such file: ${path}`);
  return path;
}

/** Keys whose values are secrets: shown as `***`, never logged. */
export const SECRET_KEYS: ReadonlySet<ConfigKey> = new Set<ConfigKey>(['natsPass', 'natsToken']);

const KEYS: Record<ConfigKey, KeySpec> = {
  nats: { flag: '--nats', env: 'NATS_URL', parse: url(/^(nats|tls|ws|wss):\/\/\S+$/, DEFAULT_NATS_URL) },
  redis: { flag: '--redis', env: 'REDIS_URL', parse: url(/^rediss?:\/\/\S+$/, DEFAULT_REDIS_URL) },
  namespace: {
    flag: '--namespace',
    env: 'TROUPE_NAMESPACE',
    parse: name(/^[A-Za-z0-9_-]{1,64}$/, '1-64 of A-Z a-z 0-9 _ -'),
  },
  prefix: {
    flag: '--prefix',
    env: undefined,
    parse: name(/^[A-Za-z0-9_.-]{1,64}$/, '1-64 of A-Z a-z 0-9 _ . -'),
  },
  logLevel: { flag: '--log-level', env: 'TROUPE_LOG_LEVEL', parse: oneOf(LEVELS) },
  logFormat: { flag: '--log-format', env: 'TROUPE_LOG_FORMAT', parse: oneOf(FORMATS) },
  metricsPort: { flag: '--metrics-port', env: 'TROUPE_METRICS_PORT', parse: port },
  metricsHost: {
    flag: '--metrics-host',
    env: 'TROUPE_METRICS_HOST',
    parse: name(/^[A-Za-z0-9.:-]{1,253}$/, 'a host name or IP address'),
  },
  natsUser: { flag: '--nats-user', env: 'NATS_USER', parse: text },
  natsPass: { flag: '--nats-pass', env: 'NATS_PASS', parse: text },
  natsToken: { flag: '--nats-token', env: 'NATS_TOKEN', parse: text },
  natsNkeySeedFile: { flag: '--nats-nkey-seed-file', env: 'NATS_NKEY_SEED_FILE', parse: file },
  natsCredsFile: { flag: '--nats-creds-file', env: 'NATS_CREDS', parse: file },
  natsTlsCa: { flag: '--nats-tls-ca', env: 'NATS_TLS_CA', parse: file },
  natsTlsCert: { flag: '--nats-tls-cert', env: 'NATS_TLS_CERT', parse: file },
  natsTlsKey: { flag: '--nats-tls-key', env: 'NATS_TLS_KEY', parse: file },
};
export const CONFIG_KEYS = Object.keys(KEYS) as ConfigKey[];

/** The environment variable behind each key, for help texts. */
export function envVariable(key: ConfigKey): string | undefined {
  return KEYS[key].env;
}

/** The BullMQ prefix for a namespace: `troupe` for the default one (what the library defaults to), else `troupe.<ns>`. */
export function taskPrefix(namespace: string): string {
  return namespace === DEFAULT_NAMESPACE ? 'troupe' : `troupe.${namespace}`;
}

const FILE_NAMES = ['troupe.config.json', 'troupe.config.mjs', 'troupe.config.js'];

/**
 * Reads the config file: `path` when given (it must exist), else the first of troupe.config.json,
 * troupe.config.mjs, troupe.config.js in `cwd`. A module's default export is the object.
 */
export async function loadConfigFile(
  path: string | undefined,
  cwd: string = process.cwd(),
): Promise<{ path: string; data: Record<string, unknown> } | undefined> {
  let file: string | undefined;
  if (path !== undefined) {
    file = resolve(cwd, path);
    if (!existsSync(file)) throw new InvalidOptionsError('--config', `no such file: ${file}`);
  } else file = FILE_NAMES.map((n) => resolve(cwd, n)).find((f) => existsSync(f));
  if (file === undefined) return undefined;
  let data: unknown;
  try {
    if (extname(file) === '.json') data = JSON.parse(await readFile(file, 'utf8'));
    else data = ((await import(pathToFileURL(file).href)) as { default?: unknown }).default;
  } catch (err) {
    throw new InvalidOptionsError(file, `cannot read the config file: ${(err as Error).message}`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data))
    throw new InvalidOptionsError(file, 'expected an object (a module: as its default export)');
  return { path: file, data: data as Record<string, unknown> };
}

/** What {@link resolveConfig} layers. Flags are the raw strings parseArgs gave (undefined when absent). */
export interface ConfigLayers {
  flags?: Partial<Record<ConfigKey, string | undefined>>;
  env?: Record<string, string | undefined>;
  file?: { path: string; data: Record<string, unknown> } | undefined;
  /** Defaults that differ per command (e.g. `troupe node` logs at info). */
  defaults?: Partial<TroupeConfig>;
}

/**
 * Resolves every key: flag, then environment, then file, then default. Throws {@link InvalidOptionsError}
 * naming the key and where the bad value came from (`--nats`, `NATS_URL`, `troupe.config.json: nats`).
 */
export function resolveConfig(layers: ConfigLayers): ResolvedConfig {
  const { flags = {}, env = {}, file, defaults = {} } = layers;
  if (file !== undefined) {
    for (const key of Object.keys(file.data))
      if (!(key in KEYS))
        throw new InvalidOptionsError(
          `${file.path}: ${key}`,
          `unknown key (known: ${CONFIG_KEYS.join(', ')})`,
        );
  }
  const values: Partial<Record<ConfigKey, unknown>> = {};
  const sources = {} as Record<ConfigKey, ConfigSource>;
  for (const key of CONFIG_KEYS) {
    const spec = KEYS[key];
    const envValue = spec.env === undefined ? undefined : env[spec.env];
    if (flags[key] !== undefined) {
      values[key] = spec.parse(flags[key], spec.flag);
      sources[key] = { kind: 'flag', from: spec.flag };
    } else if (envValue !== undefined && envValue !== '') {
      values[key] = spec.parse(envValue, spec.env!);
      sources[key] = { kind: 'env', from: spec.env! };
    } else if (file !== undefined && file.data[key] !== undefined) {
      values[key] = spec.parse(file.data[key], `${file.path}: ${key}`);
      sources[key] = { kind: 'file', from: file.path };
    } else {
      sources[key] = { kind: 'default', from: 'default' };
    }
  }
  const namespace = (values.namespace as string | undefined) ?? defaults.namespace ?? DEFAULT_NAMESPACE;
  const resolved: TroupeConfig = {
    nats: (values.nats as string | undefined) ?? defaults.nats ?? DEFAULT_NATS_URL,
    redis: (values.redis as string | undefined) ?? defaults.redis ?? DEFAULT_REDIS_URL,
    namespace,
    prefix: (values.prefix as string | undefined) ?? defaults.prefix ?? taskPrefix(namespace),
    logLevel: (values.logLevel as LogLevel | undefined) ?? defaults.logLevel ?? 'warn',
    logFormat: (values.logFormat as LogFormat | undefined) ?? defaults.logFormat ?? 'auto',
    metricsPort: (values.metricsPort as number | undefined) ?? defaults.metricsPort,
    metricsHost: (values.metricsHost as string | undefined) ?? defaults.metricsHost ?? '127.0.0.1',
    natsUser: values.natsUser as string | undefined,
    natsPass: values.natsPass as string | undefined,
    natsToken: values.natsToken as string | undefined,
    natsNkeySeedFile: values.natsNkeySeedFile as string | undefined,
    natsCredsFile: values.natsCredsFile as string | undefined,
    natsTlsCa: values.natsTlsCa as string | undefined,
    natsTlsCert: values.natsTlsCert as string | undefined,
    natsTlsKey: values.natsTlsKey as string | undefined,
  };
  const kinds = (['natsUser', 'natsToken', 'natsNkeySeedFile', 'natsCredsFile'] as const).filter(
    (k) => resolved[k] !== undefined,
  );
  if (kinds.length > 1)
    throw new InvalidOptionsError(
      kinds.map((k) => sources[k].from).join(', '),
      'give one way to authenticate to NATS: user+password, token, nkey seed file or creds file',
    );
  if (resolved.natsPass !== undefined && resolved.natsUser === undefined)
    throw new InvalidOptionsError(
      sources.natsPass.from,
      'a NATS password needs a user (--nats-user, NATS_USER)',
    );
  if ((resolved.natsTlsCert === undefined) !== (resolved.natsTlsKey === undefined))
    throw new InvalidOptionsError(
      resolved.natsTlsCert === undefined ? sources.natsTlsKey.from : sources.natsTlsCert.from,
      'a client certificate needs both --nats-tls-cert and --nats-tls-key',
    );
  if (sources.prefix.kind === 'default' && sources.namespace.kind !== 'default')
    sources.prefix = { kind: 'default', from: `from namespace ${namespace}` };
  return { values: resolved, sources, file: file?.path };
}

/** A URL as it may be shown: a password in it (`nats://u:p@host`) as `***`. */
export function redactUrl(url: string): string {
  return url.replace(/(\/\/[^/@:,\s]*:)[^/@,\s]*@/g, '$1***@');
}

/** A value as it may be shown: secrets as `***`, and passwords inside URLs. */
export function shownValue(key: ConfigKey, value: unknown): unknown {
  if (value === undefined) return value;
  if (SECRET_KEYS.has(key)) return '***';
  return (key === 'nats' || key === 'redis') && typeof value === 'string' ? redactUrl(value) : value;
}

/** True when the user set `key` (by flag, environment or file) rather than leaving it to its default. */
export function isSet(config: ResolvedConfig, key: ConfigKey): boolean {
  return config.sources[key].kind !== 'default';
}
