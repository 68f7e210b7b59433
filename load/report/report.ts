// The report of a load run (schema 1): merged figures of every node, thresholds, a per-second timeline. It keeps
// the histograms themselves, so two reports can be merged or compared without averaging percentiles.

import { Histogram, type Percentiles } from '../../bench/index.js';
import type { HistogramData } from '../agent/protocol.js';
import type { ExecutorSpec } from '../executors/spec.js';
import type { MergedFigures } from '../metrics/merge.js';
import type { ThresholdResult } from '../thresholds.js';
import type { TimelinePoint } from './timeline.js';

export const LOAD_REPORT_SCHEMA = 1;
/** Marks a JSON file as a load report (and not a bench report). */
export const LOAD_REPORT_KIND = 'troupe-load-report';

/** One node's part of the run. */
export interface NodeReport {
  id: string;
  /** The slots the node ran last (a lost peer's slots moved here are included). */
  slots: number[];
  /** The slots it was dealt at the start. */
  initialSlots: number[];
  /** True when the node stopped answering (or left) mid-run; its last figures are in the totals. */
  lost: boolean;
  /** CPU time (µs) its process used for the run. */
  cpuMicros: number;
  requests: number;
}

/** Pass rate of one named check. */
export interface CheckReport {
  pass: number;
  fail: number;
  /** pass / (pass + fail), or null without any. */
  rate: number | null;
}

export interface LoadReport {
  schema: typeof LOAD_REPORT_SCHEMA;
  kind: typeof LOAD_REPORT_KIND;
  name: string;
  runId: string;
  executor: ExecutorSpec;
  /** What each target aims at (its `describe()`). */
  targets: Record<string, string>;
  /** ISO time of the executor's t = 0. */
  startedAt: string;
  /** The run's length: the executor's duration, or less when interrupted. */
  durationMs: number;
  nodes: NodeReport[];
  /** Percentiles per metric in ms (plain-valued metrics such as `tokens_per_s` in their own unit). */
  metrics: Record<string, Percentiles>;
  /** The merged histograms (µs), so reports can be merged and compared exactly. */
  histograms: Record<string, HistogramData>;
  counters: Record<string, number>;
  /** Requests per second over the run. */
  rps: number;
  /** errors / requests (0 without requests). */
  errorRate: number;
  checks: Record<string, CheckReport>;
  thresholds: ThresholdResult[];
  /** Every threshold met and not interrupted. */
  ok: boolean;
  interrupted: boolean;
  /** Generator CPU across nodes per 1,000 requests (µs); null without requests. */
  cpuMicrosPer1000Requests: number | null;
  timeline: TimelinePoint[];
}

/** What {@link buildLoadReport} assembles. */
export interface LoadReportInput {
  name: string;
  runId: string;
  executor: ExecutorSpec;
  targets: Record<string, string>;
  startedAt: number;
  durationMs: number;
  nodes: NodeReport[];
  merged: MergedFigures;
  thresholds: ThresholdResult[];
  interrupted: boolean;
  timeline: TimelinePoint[];
}

/**
 * Percentiles of a histogram in report units: ms for latencies (recorded in µs), and plain values such as
 * `tokens_per_s` in their own unit (recorded × 1000 too).
 */
export function percentilesOf(histogram: Histogram): Percentiles {
  return histogram.percentiles(1000);
}

/** Pass/fail counts per check name, from the `check.<name>.pass|fail` counters. */
export function checksOf(counters: Record<string, number>): Record<string, CheckReport> {
  const checks: Record<string, CheckReport> = {};
  for (const [key, n] of Object.entries(counters)) {
    const m = /^check\.(.+)\.(pass|fail)$/.exec(key);
    if (m === null) continue;
    const name = m[1]!;
    const c = checks[name] ?? { pass: 0, fail: 0, rate: null };
    checks[name] = c;
    c[m[2] as 'pass' | 'fail'] += n;
  }
  for (const c of Object.values(checks)) c.rate = c.pass + c.fail === 0 ? null : c.pass / (c.pass + c.fail);
  return checks;
}

/** Assembles the report from the merged figures. */
export function buildLoadReport(input: LoadReportInput): LoadReport {
  const metrics: Record<string, Percentiles> = {};
  const histograms: Record<string, HistogramData> = {};
  for (const [name, h] of [...input.merged.histograms].sort(([a], [b]) => a.localeCompare(b))) {
    metrics[name] = percentilesOf(h);
    histograms[name] = h.toJSON();
  }
  const counters = Object.fromEntries(
    Object.entries(input.merged.counters).sort(([a], [b]) => a.localeCompare(b)),
  );
  const requests = counters.requests ?? 0;
  const cpu = input.nodes.reduce((sum, n) => sum + n.cpuMicros, 0);
  const seconds = input.durationMs / 1000;
  return {
    schema: LOAD_REPORT_SCHEMA,
    kind: LOAD_REPORT_KIND,
    name: input.name,
    runId: input.runId,
    executor: input.executor,
    targets: input.targets,
    startedAt: new Date(input.startedAt).toISOString(),
    durationMs: input.durationMs,
    nodes: input.nodes,
    metrics,
    histograms,
    counters,
    rps: seconds > 0 ? requests / seconds : 0,
    errorRate: requests > 0 ? (counters.errors ?? 0) / requests : 0,
    checks: checksOf(counters),
    thresholds: input.thresholds,
    ok: !input.interrupted && input.thresholds.every((t) => t.ok),
    interrupted: input.interrupted,
    cpuMicrosPer1000Requests: requests > 0 ? (cpu / requests) * 1000 : null,
    timeline: input.timeline,
  };
}

/** A report's histogram of `metric` rebuilt (e.g. to merge two reports' figures). */
export function reportHistogram(report: LoadReport, metric: string): Histogram | undefined {
  const data = report.histograms[metric];
  return data === undefined ? undefined : Histogram.fromJSON(data);
}
