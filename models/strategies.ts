// How a group picks among its deployments that can take a call now.

import type { Deployment } from './deployment.js';

export type RoutingStrategy = 'weighted' | 'least-busy' | 'lowest-latency';

export const STRATEGIES: readonly RoutingStrategy[] = ['weighted', 'least-busy', 'lowest-latency'];

/** Picks one of `ready` (non-empty). */
export function pick(
  strategy: RoutingStrategy,
  ready: readonly Deployment[],
  random = Math.random,
): Deployment {
  const first = ready[0] as Deployment;
  if (ready.length === 1) return first;
  switch (strategy) {
    case 'least-busy': {
      let best = first;
      for (const d of ready) if (d.inflight < best.inflight) best = d;
      return best;
    }
    case 'lowest-latency': {
      // One never measured goes first: that is how it gets measured.
      let best = first;
      for (const d of ready) {
        if (d.latencyMs === undefined) return d;
        if (best.latencyMs !== undefined && d.latencyMs < best.latencyMs) best = d;
      }
      return best;
    }
    default: {
      let total = 0;
      for (const d of ready) total += d.weight;
      let r = random() * total;
      for (const d of ready) {
        r -= d.weight;
        if (r < 0) return d;
      }
      return ready[ready.length - 1] as Deployment;
    }
  }
}
