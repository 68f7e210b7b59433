// The messages between a run's coordinator and the load agent on each node, and the figures a node ships.

import type { HistogramJson } from '../../bench/index.js';
import type { Reply } from '../../runtime/index.js';
import type { ExecutorSpec } from '../executors/spec.js';

/** Name of the load agent actor on every node that offers the `load` role: `<nodeId>/troupe-load`. */
export const LOAD_AGENT_NAME = 'troupe-load';
/** The cluster role a node offers to take part in load runs (`troupe node --role load`). */
export const LOAD_ROLE = 'load';

/** A sparse, mergeable HDR histogram as it travels (bench/histogram.ts `toJSON`/`fromJSON`). */
export type HistogramData = HistogramJson;

/**
 * A node's figures for one run, cumulative since it started: the newest replaces the previous, so a lost or
 * repeated snapshot loses nothing. Latency histograms are in microseconds.
 */
export interface NodeSnapshot {
  runId: string;
  node: string;
  /** Increases with every snapshot the node takes. */
  seq: number;
  /** Epoch ms the snapshot was taken. */
  at: number;
  histograms: Record<string, HistogramData>;
  counters: Record<string, number>;
  /** VUs running now. */
  vus: number;
  /** The slots the node runs now. */
  slots: number[];
  /** True once the node's part ended (duration over, in-flight iterations finished or aborted). */
  done: boolean;
  /** CPU time (user + system, µs) the node's process used since the run started on it. */
  cpuMicros: number;
}

/** The load test module, shipped to nodes that may not have the file. */
export interface ModuleRef {
  /** Absolute path on the coordinator's machine: used as is when a node has the same file (same sha256). */
  path: string;
  /** The module's source text (ESM JavaScript). */
  source: string;
  /** sha256 hex of `source`; a node refuses a source that does not match it (LOAD_MODULE). */
  sha256: string;
}

/** What a node needs to run its part of a run. */
export interface RunPlan {
  runId: string;
  module: ModuleRef;
  /** The executor after CLI overrides, validated against the caps by the coordinator (and again by the node). */
  executor: ExecutorSpec;
  /**
   * Closed model: slot j is VU j (slotCount = the executor's most VUs). Open model: iteration k belongs to slot
   * k mod slotCount, and a node's share of the VU pool is proportional to its slots.
   */
  slots: number[];
  slotCount: number;
  /** Epoch ms of the executor's t = 0, the same for every node. */
  startAt: number;
  /** What the test's setup() returned. */
  data: unknown;
  /** The coordinator's address; a node whose coordinator is silent for `deadManMs` stops by itself. */
  coordinator: string;
  deadManMs: number;
}

export type LoadAgentProtocol = {
  /** Loads the module, opens the targets, schedules the node's slots from `startAt`. */
  start: { plan: RunPlan } & Reply<{ node: string }>;
  /** Replaces the node's slots (a lost peer's slots move here); takes effect at once. */
  assign: { runId: string; slots: number[] } & Reply<{ node: string }>;
  /** The node's cumulative figures; doubles as the coordinator's heartbeat. */
  snapshot: { runId: string } & Reply<NodeSnapshot>;
  /** Stops the node's VUs (aborting in-flight iterations within a second), closes the targets, returns the final figures. */
  stop: { runId: string; reason: 'done' | 'interrupt' } & Reply<NodeSnapshot>;
};
