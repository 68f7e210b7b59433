// The cluster side of a bound NATS transport: membership, durable mailboxes, the activation directory and
// shard ownership, started together in the order they depend on each other.

import type { Msg, NatsConnection } from '@nats-io/transport-node';
import { ErrorCode, type Logger, type Membership, TroupeError } from '../../runtime/index.js';
import {
  type HostedType,
  LogLimiter,
  parseVirtualAddress,
  type TransportSink,
} from '../../runtime/internal.js';
import type { BatchCodec } from '../codec.js';
import { ActivationDirectory } from './directory.js';
import { DurableMailboxes } from './durable.js';
import { natsMembership } from './membership.js';
import type { ResolvedNatsClusterOptions } from './options.js';
import type { FrameSecurity } from './security.js';
import { ShardOwner } from './shards.js';
import type { StatusDispatcher } from './status.js';
import { FailureSegment, type SubjectScheme, shardKey } from './subjects.js';

/** The cluster parts of one node. */
export interface NatsCluster {
  membership: Membership;
  durable: DurableMailboxes;
  directory: ActivationDirectory;
  shards: ShardOwner;
}

/** What joining needs from the transport. */
export interface JoinClusterOptions {
  connection: NatsConnection;
  nodeId: string;
  scheme: SubjectScheme;
  cluster: ResolvedNatsClusterOptions;
  codec: BatchCodec;
  sink: TransportSink;
  status: StatusDispatcher;
  /** Delivers a frame for an actor on this node (from a shard or the directory). */
  onFrame: (msg: Msg) => void;
  /** Types registered before binding. */
  hosted: HostedType[];
  /** The transport's logger: shard moves (info) and durable-store retries (warn, rate-limited). */
  log: Logger;
  /** Set for a signed transport (durable mail, heartbeats and shard notices are signed and verified too). */
  security?: FrameSecurity | undefined;
}

/** Joins the namespace's cluster: heartbeats start, and this node takes its share of the shards. */
export async function joinCluster(o: JoinClusterOptions): Promise<NatsCluster> {
  const { connection, nodeId, scheme, cluster, sink } = o;
  const membership = await natsMembership({
    connection,
    nodeId,
    namespace: scheme.namespace,
    roles: [...cluster.roles],
    heartbeatMs: cluster.heartbeatMs,
    failureTimeoutMs: cluster.failureTimeoutMs,
    clock: cluster.clock,
    security: o.security,
  });
  try {
    membership.setLoadSource(() => sink.load());
    const failed = (segment: string) => (key: string, err: unknown) =>
      sink.reject({
        address: `${nodeId}/${segment}/${key}`,
        reason: ErrorCode.Remote,
        error: TroupeError.toWire(err, { code: ErrorCode.Remote }),
      });
    const retries = new LogLimiter({
      logger: o.log,
      clock: cluster.clock,
      level: 'warn',
      kindField: 'store',
    });
    const durable = new DurableMailboxes({
      connection,
      namespace: scheme.namespace,
      nodeId,
      codec: o.codec,
      onRetry: (shard, attempt, error) =>
        retries.note('consumer', 'durable store claim retried', () => ({ shard, attempt, error })),
      deliver: (envelope) => sink.deliver(envelope),
      security: o.security,
      refuse: (rejected) => sink.reject(rejected),
      reject: (subject, err) =>
        sink.reject({
          address: scheme.addressOf(subject),
          reason: TroupeError.is(err) ? err.code : ErrorCode.MalformedFrame,
          error: TroupeError.toWire(err, { code: ErrorCode.MalformedFrame }),
        }),
      lost: (type, shard) =>
        sink.passivate((address) => {
          const v = parseVirtualAddress(address);
          return (
            v !== undefined && v.type === type && shardKey(type, v.id, cluster.shards) === `${type}.${shard}`
          );
        }),
    });
    const directory = new ActivationDirectory({
      connection,
      subjects: scheme,
      membership,
      clock: cluster.clock,
      status: o.status,
      recentMs: cluster.heartbeatMs * 2,
      deliverHere: o.onFrame,
      onError: failed(FailureSegment.Directory),
    });
    const shards = new ShardOwner({
      connection,
      subjects: scheme,
      nodeId,
      membership,
      sink,
      onFrame: o.onFrame,
      shards: cluster.shards,
      moveBatch: cluster.moveBatch,
      moveIntervalMs: cluster.moveIntervalMs,
      claimGraceMs: cluster.failureTimeoutMs,
      clock: cluster.clock,
      durable,
      directory,
      onError: failed(FailureSegment.Shard),
      onMoved: (claimed, released, owned) => o.log.info('shards moved', { claimed, released, owned }),
      security: o.security,
    });
    shards.start();
    if (o.hosted.length > 0) shards.setTypes(o.hosted);
    return { membership, durable, directory, shards };
  } catch (err) {
    await membership.close().catch(() => undefined);
    throw err;
  }
}

/** Subject of durable mail to virtual actor `type`/`id`. */
export function durableSubject(cluster: NatsCluster, type: string, id: string): string {
  return cluster.durable.subjectOf(type, cluster.shards.shardOf(type, id), id);
}
