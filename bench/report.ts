// The JSON report of a benchmark run (schema version 1): its types, how it is built from rounds, and its validator.
//
// The schema is documented in bench/README.md; bump REPORT_SCHEMA_VERSION on any incompatible change.

import { cpus, totalmem } from 'node:os';
import { BenchError, BenchErrorCode } from './errors.js';
import type { Histogram, Percentiles } from './histogram.js';
import type { Better, MetricKind, MetricSpec, RoundResult } from './scenario.js';
import { summarize } from './stats.js';

/** Version of the report layout; readers refuse other versions. */
export const REPORT_SCHEMA_VERSION = 1;

/** The machine a report was measured on. */
export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  totalMemoryBytes: number;
  platform: string;
  arch: string;
  node: string;
}

/** A troupe or baseline figure across the measured repeats. */
export interface SampleSummary {
  median: number;
  min: number;
  max: number;
  q1: number;
  q3: number;
  /** One value per measured repeat, in order. */
  samples: number[];
}

/** One figure of one scenario. */
export interface MetricReport {
  id: string;
  label: string;
  unit: string;
  kind: MetricKind;
  better: Better;
  /** Troupe's figure. */
  troupe: SampleSummary;
  /** The raw-library baseline's figure, or null when the scenario has none. */
  baseline: SampleSummary | null;
  /** `troupe.median / baseline.median`, or null without a baseline. */
  ratio: number | null;
  /** The goal for `ratio` (`>=` for higher-is-better figures, `<=` for lower), or null. */
  target: { ratio: number; comparison: '>=' | '<='; met: boolean } | null;
  /** Sender and receiver process counts, for figures measured across processes. */
  processes: { clients: number; nodes: number } | null;
}

/** Latency percentiles of the histograms of every measured repeat merged, in microseconds. */
export interface LatencyReport {
  unit: 'µs';
  troupe: Percentiles;
  baseline: Percentiles | null;
}

/** One scenario's results. */
export interface ScenarioReport {
  name: string;
  description: string;
  /** Wall time of the whole scenario (setup, warm-up, repeats), ms. */
  durationMs: number;
  /** Set when the scenario failed; its metrics then hold what was measured before the failure. */
  error: string | null;
  metrics: MetricReport[];
  latency: LatencyReport | null;
}

/** A whole run: what `--json FILE` writes and `--compare` reads. */
export interface BenchReport {
  schemaVersion: typeof REPORT_SCHEMA_VERSION;
  tool: 'troupe-bench';
  /** ISO 8601 time the run started. */
  date: string;
  machine: MachineInfo;
  settings: {
    quick: boolean;
    repeat: number;
    roundMs: number;
    count: number | null;
    clients: number[];
    nodes: number[];
    nats: 'private' | 'external' | null;
    redis: 'private' | 'external' | null;
  };
  scenarios: ScenarioReport[];
}

/** Facts about this machine and Node. */
export function machineInfo(): MachineInfo {
  const list = cpus();
  return {
    cpus: list.length,
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    totalMemoryBytes: totalmem(),
    platform: process.platform,
    arch: process.arch,
    node: process.version,
  };
}

function sampleSummary(samples: number[]): SampleSummary {
  return { ...summarize(samples), samples };
}

/** Whether a troupe/baseline ratio meets `target` for a figure where `better` is better. */
export function meetsTarget(ratio: number, target: number, better: Better): boolean {
  return better === 'higher' ? ratio >= target : ratio <= target;
}

/** Aggregates the measured rounds of a scenario into its metric reports (warm-up rounds must be left out). */
export function summarizeMetrics(
  specs: readonly MetricSpec[],
  rounds: readonly RoundResult[],
): MetricReport[] {
  return specs.map((spec) => {
    const troupe = rounds.flatMap((r) => {
      const f = r.figures[spec.id];
      return f && Number.isFinite(f.troupe) ? [f.troupe] : [];
    });
    const base = rounds.flatMap((r) => {
      const b = r.figures[spec.id]?.baseline;
      return b !== undefined && Number.isFinite(b) ? [b] : [];
    });
    const t = sampleSummary(troupe);
    const baseline = base.length > 0 ? sampleSummary(base) : null;
    const ratio =
      baseline && baseline.median !== 0 && Number.isFinite(t.median) ? t.median / baseline.median : null;
    return {
      id: spec.id,
      label: spec.label,
      unit: spec.unit,
      kind: spec.kind,
      better: spec.better,
      troupe: t,
      baseline,
      ratio,
      target:
        spec.target === undefined || ratio === null
          ? null
          : {
              ratio: spec.target,
              comparison: spec.better === 'higher' ? '>=' : '<=',
              met: meetsTarget(ratio, spec.target, spec.better),
            },
      processes: spec.processes ?? null,
    };
  });
}

/** Merges the latency histograms of the measured rounds into percentiles in µs (histograms hold ns). */
export function summarizeLatency(rounds: readonly RoundResult[]): LatencyReport | null {
  let troupe: Histogram | undefined;
  let baseline: Histogram | undefined;
  for (const r of rounds) {
    if (!r.latency) continue;
    troupe = troupe ? troupe.merge(r.latency.troupe) : r.latency.troupe;
    if (r.latency.baseline) baseline = baseline ? baseline.merge(r.latency.baseline) : r.latency.baseline;
  }
  if (!troupe) return null;
  return {
    unit: 'µs',
    troupe: troupe.percentiles(1000),
    baseline: baseline ? baseline.percentiles(1000) : null,
  };
}

function fail(path: string, problem: string): never {
  throw new BenchError(BenchErrorCode.InvalidReport, `invalid bench report: ${path} ${problem}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkNumber(v: unknown, path: string, nullable = false): void {
  if (nullable && v === null) return;
  // NaN and Infinity become null in JSON: a figure that could not be measured is null.
  if (!(typeof v === 'number' || v === null)) fail(path, 'must be a number');
}

function checkSummary(v: unknown, path: string): void {
  if (!isObject(v)) fail(path, 'must be an object');
  for (const key of ['median', 'min', 'max', 'q1', 'q3']) checkNumber(v[key], `${path}.${key}`);
  if (!Array.isArray(v.samples)) fail(`${path}.samples`, 'must be an array');
}

/**
 * Checks that `value` is a report of this schema version and returns it typed; throws `BENCH_INVALID_REPORT`
 * naming the first bad field.
 */
export function validateReport(value: unknown): BenchReport {
  if (!isObject(value)) fail('(root)', 'must be an object');
  if (value.schemaVersion !== REPORT_SCHEMA_VERSION) {
    fail('schemaVersion', `must be ${REPORT_SCHEMA_VERSION}, got ${JSON.stringify(value.schemaVersion)}`);
  }
  if (value.tool !== 'troupe-bench') fail('tool', 'must be "troupe-bench"');
  if (typeof value.date !== 'string' || Number.isNaN(Date.parse(value.date)))
    fail('date', 'must be an ISO date');
  const machine = value.machine;
  if (!isObject(machine)) fail('machine', 'must be an object');
  checkNumber(machine.cpus, 'machine.cpus');
  if (typeof machine.node !== 'string') fail('machine.node', 'must be a string');
  if (!isObject(value.settings)) fail('settings', 'must be an object');
  if (!Array.isArray(value.scenarios)) fail('scenarios', 'must be an array');
  value.scenarios.forEach((s: unknown, i: number) => {
    const at = `scenarios[${i}]`;
    if (!isObject(s)) fail(at, 'must be an object');
    if (typeof s.name !== 'string') fail(`${at}.name`, 'must be a string');
    if (!(s.error === null || typeof s.error === 'string')) fail(`${at}.error`, 'must be a string or null');
    if (!Array.isArray(s.metrics)) fail(`${at}.metrics`, 'must be an array');
    s.metrics.forEach((m: unknown, j: number) => {
      const mat = `${at}.metrics[${j}]`;
      if (!isObject(m)) fail(mat, 'must be an object');
      if (typeof m.id !== 'string') fail(`${mat}.id`, 'must be a string');
      if (typeof m.unit !== 'string') fail(`${mat}.unit`, 'must be a string');
      if (m.better !== 'higher' && m.better !== 'lower') fail(`${mat}.better`, 'must be "higher" or "lower"');
      checkSummary(m.troupe, `${mat}.troupe`);
      if (m.baseline !== null) checkSummary(m.baseline, `${mat}.baseline`);
      checkNumber(m.ratio, `${mat}.ratio`, true);
      if (m.target !== null) {
        if (!isObject(m.target) || typeof m.target.met !== 'boolean')
          fail(`${mat}.target`, 'must be null or { ratio, comparison, met }');
      }
    });
    if (!(s.latency === null || isObject(s.latency))) fail(`${at}.latency`, 'must be an object or null');
  });
  return value as unknown as BenchReport;
}
