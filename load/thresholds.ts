// Thresholds: `[metric.]stat op value[unit]`, rates (`errors < 1%`, `checks > 99%`, `rps > 100`) and counters,
// parsed when the test is defined and evaluated on the fleet's merged figures to set the exit code.

import { LoadError, LoadErrorCode } from './errors.js';
import type { MergedFigures } from './metrics/merge.js';

export type ThresholdOp = '<' | '<=' | '>' | '>=';

/** A parsed threshold. Latency values are in µs (histograms store µs); rates in percent. */
export type Threshold =
  | {
      kind: 'latency';
      expr: string;
      metric: string;
      /** `p<n>` (n in (0, 100]), `min`, `max`, `mean` or `count`. */
      stat: string;
      op: ThresholdOp;
      /** The bound in µs (`count`: a plain number). */
      value: number;
      /** µs per unit of the expression (1000 for ms), to show the actual value in the expression's unit. */
      scale: number;
    }
  | { kind: 'errors-rate' | 'checks-rate'; expr: string; op: ThresholdOp; value: number }
  | { kind: 'rps'; expr: string; op: ThresholdOp; value: number }
  | { kind: 'counter'; expr: string; counter: string; op: ThresholdOp; value: number };

/** A threshold's outcome: `actual` in the expression's unit, null when there was nothing to measure (fails). */
export interface ThresholdResult {
  expr: string;
  actual: number | null;
  ok: boolean;
}

const UNITS: Record<string, number> = { us: 1, µs: 1, ms: 1000, s: 1_000_000 };
const SHAPE = /^\s*([A-Za-z_][\w.-]*)\s*(<=|>=|<|>)\s*(-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)\s*(%|us|µs|ms|s)?\s*$/i;
const STAT = /^(?:(.+)\.)?(p\d+(?:\.\d+)?|min|max|mean|count)$/;
const METRIC = /^[A-Za-z_][\w-]*(?:\.[\w-]+)*$/;

function bad(expr: string, why: string): LoadError {
  return new LoadError(LoadErrorCode.InvalidThreshold, `invalid threshold ${JSON.stringify(expr)}: ${why}`, {
    data: { expr },
  });
}

/**
 * Parses one threshold; throws LOAD_INVALID_THRESHOLD naming what is wrong.
 *
 * @example
 * parseThreshold('p99 < 200ms');        // request latency, p99 under 200 ms
 * parseThreshold('ttft.p95 < 1s');      // an LLM target's time to first token
 * parseThreshold('errors < 1%');        // errors per request
 * parseThreshold('dropped_iterations < 1');
 */
export function parseThreshold(expr: string): Threshold {
  if (typeof expr !== 'string') throw bad(String(expr), 'expected a string');
  const m = SHAPE.exec(expr);
  if (m === null)
    throw bad(expr, 'expected `[metric.]stat op value[unit]`, e.g. `p99 < 200ms` or `errors < 1%`');
  const lhs = m[1]!;
  const op = m[2] as ThresholdOp;
  const number = Number(m[3]);
  const unit = m[4]?.toLowerCase();
  if (lhs === 'errors' && unit === '%') return { kind: 'errors-rate', expr, op, value: number };
  if (lhs === 'checks') {
    if (unit !== '%') throw bad(expr, '`checks` is a pass rate: give it in percent, e.g. `checks > 99%`');
    return { kind: 'checks-rate', expr, op, value: number };
  }
  if (lhs === 'rps') {
    if (unit !== undefined) throw bad(expr, '`rps` is requests per second: give a plain number');
    return { kind: 'rps', expr, op, value: number };
  }
  const stat = STAT.exec(lhs);
  if (stat !== null) {
    const metric = stat[1] ?? 'request';
    const name = stat[2]!;
    if (!METRIC.test(metric)) throw bad(expr, `unknown metric ${JSON.stringify(metric)}`);
    if (name.startsWith('p')) {
      const p = Number(name.slice(1));
      if (!(p > 0 && p <= 100)) throw bad(expr, `percentile ${name} is not in (0, 100]`);
    }
    if (unit === '%') throw bad(expr, `${name} is not a rate: give a duration (ms, s, us)`);
    if (name === 'count') {
      if (unit !== undefined) throw bad(expr, '`count` is a number of samples: give no unit');
      return { kind: 'latency', expr, metric, stat: name, op, value: number, scale: 1 };
    }
    const scale = UNITS[unit ?? 'ms']!;
    return { kind: 'latency', expr, metric, stat: name, op, value: number * scale, scale };
  }
  if (/(^|\.)p[\w.]*$/.test(lhs) && /(^|\.)p\d/.test(lhs))
    throw bad(expr, 'unknown statistic (expected p<n>, min, max, mean or count)');
  if (unit !== undefined)
    throw bad(
      expr,
      `${JSON.stringify(lhs)} is a counter: give a plain number (latencies need a statistic, e.g. \`${lhs}.p99\`)`,
    );
  if (!METRIC.test(lhs)) throw bad(expr, `unknown metric ${JSON.stringify(lhs)}`);
  return { kind: 'counter', expr, counter: lhs, op, value: number };
}

/**
 * Evaluates thresholds on a fleet's merged figures over a run of `durationMs`. A latency with no samples, a rate
 * with no requests or checks, fails (nothing was shown to meet it); an absent counter counts as 0.
 *
 * @example
 * const results = evaluateThresholds(test.thresholds ?? [], mergeSnapshots(snapshots), 30_000);
 * const ok = results.every((r) => r.ok);
 */
export function evaluateThresholds(
  exprs: readonly string[],
  merged: MergedFigures,
  durationMs: number,
): ThresholdResult[] {
  return exprs.map((expr) => evaluate(parseThreshold(expr), merged, durationMs));
}

function evaluate(t: Threshold, merged: MergedFigures, durationMs: number): ThresholdResult {
  const counter = (name: string): number => merged.counters[name] ?? 0;
  switch (t.kind) {
    case 'latency': {
      const h = merged.histograms.get(t.metric);
      if (h === undefined || h.count === 0) return { expr: t.expr, actual: null, ok: false };
      const micros = statOf(h, t.stat);
      const actual = t.stat === 'count' ? micros : micros / t.scale;
      return { expr: t.expr, actual, ok: compare(micros, t.op, t.value) };
    }
    case 'errors-rate': {
      const requests = counter('requests');
      if (requests === 0) return { expr: t.expr, actual: null, ok: false };
      return result(t.expr, (100 * counter('errors')) / requests, t.op, t.value);
    }
    case 'checks-rate': {
      const pass = counter('checks.pass');
      const total = pass + counter('checks.fail');
      if (total === 0) return { expr: t.expr, actual: null, ok: false };
      return result(t.expr, (100 * pass) / total, t.op, t.value);
    }
    case 'rps':
      if (!(durationMs > 0)) return { expr: t.expr, actual: null, ok: false };
      return result(t.expr, (counter('requests') * 1000) / durationMs, t.op, t.value);
    case 'counter':
      return result(t.expr, counter(t.counter), t.op, t.value);
  }
}

function statOf(
  h: { count: number; min: number; max: number; mean: number; percentile(p: number): number },
  stat: string,
): number {
  switch (stat) {
    case 'count':
      return h.count;
    case 'min':
      return h.min;
    case 'max':
      return h.max;
    case 'mean':
      return h.mean;
    default:
      return h.percentile(Number(stat.slice(1)));
  }
}

function result(expr: string, actual: number, op: ThresholdOp, value: number): ThresholdResult {
  return { expr, actual, ok: compare(actual, op, value) };
}

function compare(actual: number, op: ThresholdOp, value: number): boolean {
  switch (op) {
    case '<':
      return actual < value;
    case '<=':
      return actual <= value;
    case '>':
      return actual > value;
    case '>=':
      return actual >= value;
  }
}
