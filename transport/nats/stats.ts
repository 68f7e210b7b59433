// What a NATS transport reports for metrics and readiness: whether its connection is up (followed through
// the connection's status events), and the cluster's figures as this node sees them.

import type { NatsConnection } from '@nats-io/transport-node';
import type { TransportStats } from '../../runtime/index.js';
import type { NatsCluster } from './cluster.js';

/** @internal Follows a connection's status: up or down, and how often it went down. */
export class ConnectionState {
  connected = true;
  disconnects = 0;
  #stopped = false;

  constructor(nc: NatsConnection) {
    void (async () => {
      for await (const status of nc.status()) {
        if (this.#stopped) return;
        if (status.type === 'disconnect') {
          if (this.connected) this.disconnects++;
          this.connected = false;
        } else if (status.type === 'reconnect') this.connected = true;
      }
    })().catch(() => undefined);
  }

  stop(): void {
    this.#stopped = true;
    this.connected = false;
  }
}

/** The figures of a transport in `state`, with its connection and cluster when bound. */
export function transportStats(
  state: TransportStats['state'],
  nc: NatsConnection | undefined,
  connection: ConnectionState | undefined,
  cluster: NatsCluster | undefined,
): TransportStats {
  const shards = cluster?.shards;
  return {
    state,
    connected: connection?.connected === true && nc?.isClosed() === false && state !== 'closed',
    disconnects: connection?.disconnects ?? 0,
    members: cluster?.membership.members().length ?? 0,
    shardsOwned: shards?.owned().length ?? 0,
    shardsPending: shards?.pending ?? 0,
    shardsClaimed: shards?.claims ?? 0,
    shardsReleased: shards?.moves ?? 0,
    ...(cluster !== undefined && { durable: { ...cluster.durable.stats } }),
  };
}
