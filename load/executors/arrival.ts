// The open model's schedule: N(t), the iterations due by t, and its exact inverse, when iteration k is due.
//
// Iteration k (0-based, across the fleet) is due once the rate's integral reaches k: t_k = N⁻¹(k), the first at
// t = 0 as in k6. So ⌊N(t)⌋ + 1 iterations are due at or before t, and a run of d ms runs those due strictly before
// its end, ⌈N(d)⌉: a constant rate r per second runs exactly r × seconds iterations, the last one 1/r before
// the end (not at the end, where it would only be cut short). Ramping rates are piecewise linear, so N is
// piecewise quadratic and is inverted in closed form (no drift, whatever the run's length).

import type { ExecutorSpec, RampingArrivalRateSpec } from './spec.js';

/** A piece of a ramp: from `at` ms, `rate` iterations per ms, changing by `slope` per ms², N(at) = `before`. */
interface Segment {
  at: number;
  end: number;
  rate: number;
  slope: number;
  before: number;
  after: number;
}

const segmentsCache = new WeakMap<RampingArrivalRateSpec, Segment[]>();

function segmentsOf(spec: RampingArrivalRateSpec): Segment[] {
  let segments = segmentsCache.get(spec);
  if (segments !== undefined) return segments;
  segments = [];
  const unit = spec.timeUnitMs ?? 1000;
  let at = 0;
  let rate = spec.startRate / unit;
  let before = 0;
  for (const stage of spec.stages) {
    const next = stage.target / unit;
    const d = stage.durationMs;
    if (d > 0) {
      const slope = (next - rate) / d;
      const after = before + rate * d + (slope * d * d) / 2;
      segments.push({ at, end: at + d, rate, slope, before, after });
      at += d;
      before = after;
    }
    rate = next;
  }
  // After the stages the rate holds at the last target (the run ends there anyway).
  segments.push({
    at,
    end: Number.POSITIVE_INFINITY,
    rate,
    slope: 0,
    before,
    after: Number.POSITIVE_INFINITY,
  });
  segmentsCache.set(spec, segments);
  return segments;
}

/** N(t): the integral of the rate from 0 to `tMs`, in iterations (fractional). 0 for the closed model. */
export function integralAt(spec: ExecutorSpec, tMs: number): number {
  if (!(tMs > 0)) return 0;
  if (spec.kind === 'constant-arrival-rate') return (tMs * spec.rate) / (spec.timeUnitMs ?? 1000);
  if (spec.kind !== 'ramping-arrival-rate') return 0;
  const segments = segmentsOf(spec);
  const s = segments[findSegment(segments, (seg) => seg.end > tMs)]!;
  const x = tMs - s.at;
  return s.before + s.rate * x + (s.slope * x * x) / 2;
}

/**
 * How many iterations are due strictly before `tMs` (⌈N(t)⌉, with a hair of tolerance so that
 * `iterationsBy(scheduledAt(k)) === k` despite floating point): the count a run of `tMs` runs. Open model only;
 * 0 for the closed one.
 *
 * @example
 * iterationsBy({ kind: 'constant-arrival-rate', rate: 100, durationMs: 10_000, preAllocatedVus: 10 }, 10_000); // 1000
 */
export function iterationsBy(spec: ExecutorSpec, tMs: number): number {
  if (spec.kind !== 'constant-arrival-rate' && spec.kind !== 'ramping-arrival-rate') return 0;
  if (!(tMs > 0)) return 0;
  const n = integralAt(spec, tMs);
  return Math.ceil(n - 1e-9 * Math.max(1, n));
}

/** When iteration `k` (0-based, across the fleet) is due, in ms from t = 0; Infinity if never (a rate of 0 for good). */
export function scheduledAt(spec: ExecutorSpec, k: number): number {
  const m = k;
  if (spec.kind === 'constant-arrival-rate') return (m * (spec.timeUnitMs ?? 1000)) / spec.rate;
  if (spec.kind !== 'ramping-arrival-rate') return Number.POSITIVE_INFINITY;
  const segments = segmentsOf(spec);
  const s = segments[findSegment(segments, (seg) => seg.after >= m)]!;
  const r = m - s.before;
  if (r <= 0) return s.at;
  // Root of slope/2·x² + rate·x − r = 0 in the form that stays exact when slope → 0 or is negative.
  const disc = s.rate * s.rate + 2 * s.slope * r;
  const denom = s.rate + Math.sqrt(Math.max(0, disc));
  if (!(denom > 0)) return Number.POSITIVE_INFINITY;
  return Math.min(s.at + (2 * r) / denom, s.end);
}

/** Index of the first segment for which `past` holds (they are ordered; the last one always holds). */
function findSegment(segments: Segment[], past: (s: Segment) => boolean): number {
  let lo = 0;
  let hi = segments.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (past(segments[mid]!)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
