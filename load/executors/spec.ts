// How virtual users are driven: the four executors (k6's names), as plain data that travels in a run plan.

/** A stage of a ramping executor: move linearly to `target` (VUs, or iterations per `timeUnitMs`) over `durationMs`. */
export interface Stage {
  durationMs: number;
  target: number;
}

/** Closed model: `vus` VUs each loop the scenario for `durationMs`. */
export interface ConstantVusSpec {
  kind: 'constant-vus';
  vus: number;
  durationMs: number;
}

/** Closed model: the VU count moves through `stages` from `startVus`; VUs above the target finish their iteration and stop. */
export interface RampingVusSpec {
  kind: 'ramping-vus';
  startVus: number;
  stages: Stage[];
}

/**
 * Open model: iterations start at `rate` per `timeUnitMs` whatever the target's latency, so a slow target cannot
 * hide latency (no coordinated omission). An iteration with no free VU is dropped and counted.
 */
export interface ConstantArrivalRateSpec {
  kind: 'constant-arrival-rate';
  rate: number;
  /** @defaultValue 1000 */
  timeUnitMs?: number;
  durationMs: number;
  /** VUs allocated up front (across the fleet). */
  preAllocatedVus: number;
  /** Most VUs (across the fleet); more are allocated while iterations would otherwise be dropped. @defaultValue preAllocatedVus */
  maxVus?: number;
}

/** Open model with a rate that moves linearly through `stages` from `startRate`. */
export interface RampingArrivalRateSpec {
  kind: 'ramping-arrival-rate';
  startRate: number;
  /** @defaultValue 1000 */
  timeUnitMs?: number;
  stages: Stage[];
  preAllocatedVus: number;
  /** @defaultValue preAllocatedVus */
  maxVus?: number;
}

export type ExecutorSpec =
  | ConstantVusSpec
  | RampingVusSpec
  | ConstantArrivalRateSpec
  | RampingArrivalRateSpec;
