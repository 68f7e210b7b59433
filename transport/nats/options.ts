// Options of the NATS transport: what users pass, the defaults, and the pure resolver that checks them.

import type { NatsConnection, NodeConnectionOptions } from '@nats-io/transport-node';
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
  /** Membership and virtual-actor sharding; see {@link NatsClusterOptions}. */
  cluster?: NatsClusterOptions;
  /**
   * Where the transport logs binding and closing, disconnects and reconnects, members joining and leaving,
   * shard moves and durable-store retries. Its events carry `node` and `component: 'nats'`.
   * @defaultValue the logger of the system that binds it
   */
  logger?: Logger;
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
    connectOptions: { ...options.connectOptions },
    cluster,
    logger: options.logger === undefined ? undefined : loggerOption(options.logger),
  };
}
