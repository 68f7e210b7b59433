// Merging nodes' snapshots: histograms bucket by bucket (never percentiles), counters summed.

import { Histogram } from '../../bench/index.js';
import type { NodeSnapshot } from '../agent/protocol.js';

/** A fleet's figures: one histogram per metric (µs) holding every node's samples, and the summed counters. */
export interface MergedFigures {
  histograms: Map<string, Histogram>;
  counters: Record<string, number>;
}

/**
 * Merges the newest snapshot of each node (snapshots are cumulative: pass one per node). The merged
 * percentiles are those of one histogram of all the samples, exact to the histogram's precision.
 *
 * @example
 * const merged = mergeSnapshots([...newestByNode.values()]);
 * merged.histograms.get('request')?.percentile(99); // µs
 */
export function mergeSnapshots(snapshots: readonly NodeSnapshot[]): MergedFigures {
  const histograms = new Map<string, Histogram>();
  const counters: Record<string, number> = {};
  for (const snapshot of snapshots) {
    for (const [metric, data] of Object.entries(snapshot.histograms)) {
      const h = Histogram.fromJSON(data);
      const into = histograms.get(metric);
      if (into === undefined) histograms.set(metric, h);
      else into.merge(h);
    }
    for (const [name, n] of Object.entries(snapshot.counters)) counters[name] = (counters[name] ?? 0) + n;
  }
  return { histograms, counters };
}
