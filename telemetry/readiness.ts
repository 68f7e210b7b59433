// Whether a node should get traffic (`/readyz`): its transport is connected, it holds the shards placement
// gives it, and it is not draining.

import type { ActorSystem } from '../runtime/index.js';

/** A readiness verdict and the checks behind it: `true` when a check passes, else why it does not. */
export interface Readiness {
  ready: boolean;
  checks: Record<string, boolean | string>;
}

/**
 * The readiness of `system` (undefined: still starting). Checks: `transport` (bound, connected to its
 * server), `shards` (every shard placement gives this node is claimed), `accepting` (not draining or closed).
 * A system without a transport, or with one that reports no stats, is ready while it runs.
 *
 * @example
 * await startTelemetryServer({ port: 9464, ready: () => nodeReadiness(system) });
 */
export function nodeReadiness(system: ActorSystem | undefined): Readiness {
  if (system === undefined) return { ready: false, checks: { system: 'starting' } };
  const stats = system.transport?.stats?.();
  if (stats === undefined) return { ready: true, checks: { system: true } };
  const checks: Record<string, boolean | string> = {
    transport:
      stats.state === 'new' || stats.state === 'binding'
        ? `${stats.state === 'new' ? 'not bound' : 'connecting'}`
        : stats.connected || `${system.transport?.kind ?? 'transport'} connection down (reconnecting)`,
    shards: stats.shardsPending === 0 || `${stats.shardsPending} shards not claimed yet`,
    accepting: stats.state === 'draining' || stats.state === 'closed' ? stats.state : true,
  };
  return { ready: Object.values(checks).every((check) => check === true), checks };
}
