// Test fixture: cluster nodes (systems with a fast-failing NATS cluster config) in the test process.

import { afterAll, afterEach, beforeAll } from 'vitest';
import type { ActorSystem } from '../../runtime/index.js';
import { createSystem } from '../../runtime/index.js';
import { type ServerProcess, startNats } from '../../testing/index.js';
import { type NatsTransport, natsTransport } from '../../transport/index.js';

/** One in-process cluster node. */
export interface ClusterNode {
  system: ActorSystem;
  transport: NatsTransport;
}

/** Starts nodes with 100 ms heartbeats and a 600 ms failure timeout; `dispose()` closes what is left. */
export function clusterNodes(url: () => string, shards: number) {
  const started: ClusterNode[] = [];
  return {
    async node(nodeId: string, namespace: string, setup?: (n: ClusterNode) => unknown): Promise<ClusterNode> {
      const transport = natsTransport({
        servers: url(),
        namespace,
        cluster: { heartbeatMs: 100, failureTimeoutMs: 600, moveIntervalMs: 50, moveBatch: 4, shards },
      });
      const n = { system: await createSystem({ nodeId, transport }), transport };
      started.push(n);
      await setup?.(n);
      return n;
    },
    /** Closes a node without a goodbye (as if it died) and forgets it. */
    async kill(n: ClusterNode): Promise<void> {
      await n.system.close();
      started.splice(started.indexOf(n), 1);
    },
    /** Forgets a node the test shut down itself. */
    forget(n: ClusterNode): void {
      started.splice(started.indexOf(n), 1);
    },
    /** True when the hosts hold every shard of their `types` virtual actor types exactly once. */
    settled(hosts: ClusterNode[], types = 1): boolean {
      const all = hosts.flatMap((h) => h.transport.ownedShards());
      return all.length === shards * types && new Set(all).size === shards * types;
    },
    async dispose(): Promise<void> {
      await Promise.all(started.splice(0).map((n) => n.system.close()));
    },
  };
}

/**
 * A private nats-server for the test file and a {@link clusterNodes} fixture on it, with the hooks that
 * start the server, close each test's nodes after it, and stop the server at the end.
 */
export function natsCluster(shards: number) {
  let nats: ServerProcess | undefined;
  beforeAll(async () => {
    nats = await startNats();
  });
  afterAll(() => nats?.stop());
  const url = (): string => nats!.url;
  const cluster = clusterNodes(url, shards);
  afterEach(() => cluster.dispose());
  return { cluster, url };
}
