// Options of the NATS transport: what users pass, the defaults, and the pure resolver that checks them.

import { readFileSync } from 'node:fs';
import {
  type Authenticator,
  credsAuthenticator,
  type NatsConnection,
  type NodeConnectionOptions,
  nkeyAuthenticator,
  tokenAuthenticator,
  usernamePasswordAuthenticator,
} from '@nats-io/transport-node';
import { type Clock, InvalidOptionsError, type Logger, systemClock } from '../../runtime/index.js';
import {
  assertOptionsObject,
  assertValidName,
  clockOption,
  intOption,
  loggerOption,
  numberOption,
} from '../../runtime/internal.js';
import { DEFAULT_MAX_FRAME_BYTES, MIN_FRAME_BYTES } from '../codec.js';
import { type NatsSecurityOptions, type ResolvedNatsSecurity, resolveSecurityOptions } from './security.js';

/** Options of {@link natsTransport}. */
export interface NatsTransportOptions {
  /**
   * Server URL(s), e.g. `nats://127.0.0.1:4222`. Ignored when `connection` is given.
   * @defaultValue `nats://127.0.0.1:4222`
   */
  servers?: string | string[];
  /** Use this connection instead of opening one; the transport then never closes it. */
  connection?: NatsConnection;
  /**
   * Subjects are `troupe.<namespace>.<nodeId>.<actor path>`: systems reach each other only within one namespace.
   * @defaultValue `default`
   */
  namespace?: string;
  /**
   * Largest frame; capped at the server's `max_payload`.
   * @defaultValue 1 MiB
   */
  maxFrameBytes?: number;
  /**
   * Extra options for `connect()` (auth, TLS, reconnect policy). troupe's defaults: reconnect forever
   * (`maxReconnectAttempts: -1`), 500 ms apart.
   */
  connectOptions?: Partial<NodeConnectionOptions>;
  /**
   * Credentials and TLS as data (secrets from the environment or files): turned into nats.js authenticators and
   * `tls` options. Anything set in `connectOptions` wins over what this gives.
   */
  auth?: NatsAuthOptions;
  /** Membership and virtual-actor sharding; see {@link NatsClusterOptions}. */
  cluster?: NatsClusterOptions;
  /**
   * Where the transport logs binding and closing, disconnects and reconnects, members joining and leaving,
   * shard moves and durable-store retries. Its events carry `node` and `component: 'nats'`.
   * @defaultValue the logger of the system that binds it
   */
  logger?: Logger;
  /**
   * Signed frames (Ed25519, one key per node), access lists and payload encryption; see
   * {@link NatsSecurityOptions}. Unset: frames are neither signed nor checked.
   */
  security?: NatsSecurityOptions;
}

/**
 * How a connection authenticates and encrypts. At most one of user+pass, token, nkey seed file or creds file;
 * files are read at each (re)connect, so a rotated key needs no restart. Secrets are never logged.
 */
export interface NatsAuthOptions {
  user?: string | undefined;
  pass?: string | undefined;
  token?: string | undefined;
  /** A file holding an nkey seed (`SU...`), as `nk -gen user` writes it. */
  nkeySeedFile?: string | undefined;
  /** A `.creds` file (user JWT and nkey seed) for decentralized (operator/account) auth. */
  credsFile?: string | undefined;
  /** TLS: `caFile` to trust the server, `certFile` + `keyFile` for a client certificate. */
  tls?:
    | { caFile?: string | undefined; certFile?: string | undefined; keyFile?: string | undefined }
    | undefined;
}

function optionalString(value: unknown, field: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '')
    throw new InvalidOptionsError(field, 'expected a non-empty string');
  return value;
}

/** Reads a credentials file at connect time; a missing or unreadable one names the file, never its content. */
function fileReader(path: string, what: string): () => Uint8Array {
  return () => {
    try {
      return new Uint8Array(readFileSync(path));
    } catch (err) {
      throw new Error(`cannot read the ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  };
}

/**
 * Turns {@link NatsAuthOptions} into nats.js connect options (`authenticator`, `tls`). Throws `INVALID_OPTIONS`
 * naming the field for more than one credential kind, a password without a user, or a cert without its key.
 */
export function natsAuthConnectOptions(
  auth: NatsAuthOptions | undefined,
  field = 'auth',
): Partial<NodeConnectionOptions> {
  if (auth === undefined) return {};
  assertOptionsObject(auth, field);
  const user = optionalString(auth.user, `${field}.user`);
  const pass = optionalString(auth.pass, `${field}.pass`);
  const token = optionalString(auth.token, `${field}.token`);
  const nkeySeedFile = optionalString(auth.nkeySeedFile, `${field}.nkeySeedFile`);
  const credsFile = optionalString(auth.credsFile, `${field}.credsFile`);
  if (pass !== undefined && user === undefined)
    throw new InvalidOptionsError(`${field}.pass`, 'a password needs a user');
  const kinds = [
    user === undefined ? undefined : 'user',
    token === undefined ? undefined : 'token',
    nkeySeedFile === undefined ? undefined : 'nkeySeedFile',
    credsFile === undefined ? undefined : 'credsFile',
  ].filter((k) => k !== undefined);
  if (kinds.length > 1)
    throw new InvalidOptionsError(field, `give one way to authenticate, got ${kinds.join(', ')}`);
  let authenticator: Authenticator | undefined;
  if (user !== undefined) authenticator = usernamePasswordAuthenticator(user, pass);
  else if (token !== undefined) authenticator = tokenAuthenticator(token);
  else if (nkeySeedFile !== undefined) {
    const read = fileReader(nkeySeedFile, 'nkey seed file');
    // A seed file may end with a newline (or hold comments, as nk writes them): keep the seed's line.
    authenticator = nkeyAuthenticator(() => {
      const text = new TextDecoder().decode(read());
      const seed = text.split(/\r?\n/).find((line) => /^S[A-Z2-7]{50,}$/.test(line.trim()));
      if (seed === undefined) throw new Error(`no nkey seed in ${nkeySeedFile}`);
      return new TextEncoder().encode(seed.trim());
    });
  } else if (credsFile !== undefined) authenticator = credsAuthenticator(fileReader(credsFile, 'creds file'));
  const out: Partial<NodeConnectionOptions> = authenticator === undefined ? {} : { authenticator };
  if (auth.tls !== undefined) {
    assertOptionsObject(auth.tls, `${field}.tls`);
    const caFile = optionalString(auth.tls.caFile, `${field}.tls.caFile`);
    const certFile = optionalString(auth.tls.certFile, `${field}.tls.certFile`);
    const keyFile = optionalString(auth.tls.keyFile, `${field}.tls.keyFile`);
    if ((certFile === undefined) !== (keyFile === undefined))
      throw new InvalidOptionsError(`${field}.tls`, 'a client certificate needs both certFile and keyFile');
    out.tls = {
      ...(caFile === undefined ? {} : { caFile }),
      ...(certFile === undefined ? {} : { certFile }),
      ...(keyFile === undefined ? {} : { keyFile }),
    };
  }
  return out;
}

/** How a NATS node takes part in the cluster: membership heartbeats and shard ownership. */
export interface NatsClusterOptions {
  /** @defaultValue [] */
  roles?: string[];
  /** @defaultValue 500 */
  heartbeatMs?: number;
  /**
   * A node silent this long is declared failed and its shards move.
   * @defaultValue 2000
   */
  failureTimeoutMs?: number;
  /**
   * Shards per virtual actor type; every node in a namespace must use the same number.
   * @defaultValue 64
   */
  shards?: number;
  /**
   * Most shards a node hands over per `moveIntervalMs` when another node joins.
   * @defaultValue 8
   */
  moveBatch?: number;
  /** @defaultValue 250 */
  moveIntervalMs?: number;
  /**
   * How long tells to a virtual actor with no owner (its shard moving after a failure or a join) are sent
   * again before they become dead letters; 0 dead-letters them at once. (Asks are sent again until their
   * deadline.)
   * @defaultValue 5000
   */
  tellRetryMs?: number;
  /** @defaultValue the real clock */
  clock?: Clock;
}

/** {@link NatsClusterOptions} after defaults. */
export interface ResolvedNatsClusterOptions {
  roles: readonly string[];
  heartbeatMs: number;
  failureTimeoutMs: number;
  shards: number;
  moveBatch: number;
  moveIntervalMs: number;
  tellRetryMs: number;
  clock: Clock;
}

/** {@link NatsTransportOptions} after defaults. */
export interface ResolvedNatsTransportOptions {
  servers: string | string[];
  connection: NatsConnection | undefined;
  namespace: string;
  maxFrameBytes: number;
  connectOptions: Partial<NodeConnectionOptions>;
  cluster: ResolvedNatsClusterOptions;
  /** Undefined: the binding system's logger (or the library default). */
  logger: Logger | undefined;
  /** Keys loaded and rules compiled; undefined: no signing. */
  security: ResolvedNatsSecurity | undefined;
}

export const DEFAULT_NATS_SERVER = 'nats://127.0.0.1:4222';
export const DEFAULT_NAMESPACE = 'default';
export const DEFAULT_HEARTBEAT_MS = 500;
export const DEFAULT_FAILURE_TIMEOUT_MS = 2000;
export const DEFAULT_SHARDS = 64;
export const MAX_SHARDS = 4096;
export const DEFAULT_MOVE_BATCH = 8;
export const DEFAULT_MOVE_INTERVAL_MS = 250;
export const DEFAULT_TELL_RETRY_MS = 5000;

function resolveCluster(cluster: NatsClusterOptions = {}): ResolvedNatsClusterOptions {
  const { roles } = cluster;
  if (roles !== undefined && !(Array.isArray(roles) && roles.every((r) => typeof r === 'string')))
    throw new InvalidOptionsError('cluster.roles', 'expected an array of strings');
  return {
    roles: roles === undefined ? [] : [...roles],
    heartbeatMs: intOption(cluster.heartbeatMs, 'cluster.heartbeatMs', DEFAULT_HEARTBEAT_MS, 1),
    failureTimeoutMs: intOption(
      cluster.failureTimeoutMs,
      'cluster.failureTimeoutMs',
      DEFAULT_FAILURE_TIMEOUT_MS,
      1,
    ),
    shards: intOption(cluster.shards, 'cluster.shards', DEFAULT_SHARDS, 1, MAX_SHARDS),
    moveBatch: intOption(cluster.moveBatch, 'cluster.moveBatch', DEFAULT_MOVE_BATCH, 1),
    moveIntervalMs: intOption(cluster.moveIntervalMs, 'cluster.moveIntervalMs', DEFAULT_MOVE_INTERVAL_MS, 1),
    tellRetryMs: numberOption(cluster.tellRetryMs, 'cluster.tellRetryMs', DEFAULT_TELL_RETRY_MS),
    clock: clockOption(cluster.clock, systemClock, 'cluster.clock'),
  };
}

/**
 * Applies the defaults to {@link NatsTransportOptions}. Pure: never mutates `options`; throws
 * `INVALID_OPTIONS` naming the bad field (`INVALID_NAME` for a namespace that is no valid name).
 */
export function resolveNatsTransportOptions(
  options: NatsTransportOptions = {},
): ResolvedNatsTransportOptions {
  assertOptionsObject(options, 'options');
  const { servers, namespace = DEFAULT_NAMESPACE } = options;
  if (
    servers !== undefined &&
    typeof servers !== 'string' &&
    !(Array.isArray(servers) && servers.length > 0 && servers.every((s) => typeof s === 'string'))
  )
    throw new InvalidOptionsError('servers', 'expected a URL or a non-empty array of URLs');
  if (typeof namespace !== 'string') throw new InvalidOptionsError('namespace', 'expected a string');
  const maxFrameBytes = intOption(
    options.maxFrameBytes,
    'maxFrameBytes',
    DEFAULT_MAX_FRAME_BYTES,
    MIN_FRAME_BYTES,
  );
  assertOptionsObject(options.connectOptions, 'connectOptions');
  assertOptionsObject(options.cluster, 'cluster');
  const cluster = resolveCluster(options.cluster);
  assertValidName(namespace, 'namespace');
  return {
    servers: Array.isArray(servers) ? [...servers] : (servers ?? DEFAULT_NATS_SERVER),
    connection: options.connection,
    namespace,
    maxFrameBytes,
    connectOptions: { ...natsAuthConnectOptions(options.auth), ...options.connectOptions },
    cluster,
    logger: options.logger === undefined ? undefined : loggerOption(options.logger),
    security: resolveSecurityOptions(options.security),
  };
}
