// Dealing a run's slots over nodes: round-robin at the start, and a lost node's slots over the survivors.

import { executorMaxVus, isOpenModel } from '../executors/index.js';
import type { ExecutorSpec } from '../executors/spec.js';

/**
 * Slots per node in the open model. Iteration k runs on the node holding slot k mod slotCount, so more slots
 * than nodes let a lost node's share be spread evenly over the survivors.
 */
const OPEN_SLOTS_PER_NODE = 12;

/** How many slots a run of `spec` over `nodes` nodes has: one per VU (closed model), a few per node (open). */
export function slotCountOf(spec: ExecutorSpec, nodes: number): number {
  return isOpenModel(spec) ? Math.max(1, nodes) * OPEN_SLOTS_PER_NODE : Math.max(1, executorMaxVus(spec));
}

/** Slot j goes to node j mod n (nodes in the order given). */
export function dealSlots(slotCount: number, nodes: readonly string[]): Map<string, number[]> {
  const out = new Map<string, number[]>(nodes.map((n) => [n, []]));
  for (let j = 0; j < slotCount; j++) out.get(nodes[j % nodes.length]!)!.push(j);
  return out;
}

/**
 * Moves `lost` slots to the survivors, each next slot to the survivor holding the fewest; returns every
 * survivor's new full slot list (only those that changed).
 */
export function redealSlots(
  lost: readonly number[],
  survivors: ReadonlyMap<string, readonly number[]>,
): Map<string, number[]> {
  const next = new Map([...survivors].map(([n, s]) => [n, [...s]]));
  const changed = new Map<string, number[]>();
  if (next.size === 0) return changed;
  for (const slot of lost) {
    let best: string | undefined;
    for (const [n, s] of next) if (best === undefined || s.length < next.get(best)!.length) best = n;
    next.get(best!)!.push(slot);
    changed.set(best!, next.get(best!)!);
  }
  for (const s of changed.values()) s.sort((a, b) => a - b);
  return changed;
}
