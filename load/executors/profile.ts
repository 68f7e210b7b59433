// An executor's shape over time: its duration, its most VUs and highest rate, and the VU target of the closed model.

import type { ExecutorSpec, RampingArrivalRateSpec, RampingVusSpec } from './spec.js';

/** True for the arrival-rate executors (open model: iterations start on a schedule, whatever the latency). */
export function isOpenModel(
  spec: ExecutorSpec,
): spec is Extract<ExecutorSpec, { kind: 'constant-arrival-rate' | 'ramping-arrival-rate' }> {
  return spec.kind === 'constant-arrival-rate' || spec.kind === 'ramping-arrival-rate';
}

/** How long the executor starts iterations, in ms from t = 0. */
export function executorDurationMs(spec: ExecutorSpec): number {
  switch (spec.kind) {
    case 'constant-vus':
    case 'constant-arrival-rate':
      return spec.durationMs;
    case 'ramping-vus':
    case 'ramping-arrival-rate':
      return stagesDuration(spec);
  }
}

/** The most VUs the executor may run at once across the fleet (open model: `maxVus ?? preAllocatedVus`). */
export function executorMaxVus(spec: ExecutorSpec): number {
  switch (spec.kind) {
    case 'constant-vus':
      return spec.vus;
    case 'ramping-vus':
      return spec.stages.reduce((max, s) => Math.max(max, s.target), spec.startVus);
    case 'constant-arrival-rate':
    case 'ramping-arrival-rate':
      return spec.maxVus ?? spec.preAllocatedVus;
  }
}

/** The highest arrival rate, in iterations per second across the fleet; 0 for the closed model (no schedule). */
export function executorMaxRatePerSec(spec: ExecutorSpec): number {
  switch (spec.kind) {
    case 'constant-vus':
    case 'ramping-vus':
      return 0;
    case 'constant-arrival-rate':
      return (spec.rate * 1000) / (spec.timeUnitMs ?? 1000);
    case 'ramping-arrival-rate': {
      const top = spec.stages.reduce((max, s) => Math.max(max, s.target), spec.startRate);
      return (top * 1000) / (spec.timeUnitMs ?? 1000);
    }
  }
}

/**
 * Closed model: how many VUs should run at `tMs` from t = 0 (ramping-vus moves linearly through its stages and
 * rounds down). 0 before the start and from the end on. Open model: 0 (its pool follows the schedule).
 */
export function targetVusAt(spec: ExecutorSpec, tMs: number): number {
  if (!(tMs >= 0) || tMs >= executorDurationMs(spec)) return 0;
  if (spec.kind === 'constant-vus') return spec.vus;
  if (spec.kind !== 'ramping-vus') return 0;
  return Math.floor(rampValueAt(spec, tMs) + 1e-9);
}

/** The value of a ramp (VUs or rate) at `tMs`: linear within each stage, held at the last target after them. */
export function rampValueAt(spec: RampingVusSpec | RampingArrivalRateSpec, tMs: number): number {
  let from = spec.kind === 'ramping-vus' ? spec.startVus : spec.startRate;
  let at = 0;
  for (const stage of spec.stages) {
    const end = at + stage.durationMs;
    if (tMs < end) return from + ((stage.target - from) * (tMs - at)) / stage.durationMs;
    from = stage.target;
    at = end;
  }
  return from;
}

function stagesDuration(spec: { stages: Array<{ durationMs: number }> }): number {
  let total = 0;
  for (const stage of spec.stages) total += stage.durationMs;
  return total;
}
