// The executors: their specs, their checks and caps, and the math of their schedules.

export { integralAt, iterationsBy, scheduledAt } from './arrival.js';
export type { LoadCaps } from './caps.js';
export { DEFAULT_LOAD_CAPS, loadCapsFromEnv } from './caps.js';
export {
  executorDurationMs,
  executorMaxRatePerSec,
  executorMaxVus,
  isOpenModel,
  rampValueAt,
  targetVusAt,
} from './profile.js';
export type {
  ConstantArrivalRateSpec,
  ConstantVusSpec,
  ExecutorSpec,
  RampingArrivalRateSpec,
  RampingVusSpec,
  Stage,
} from './spec.js';
export { assertWithinCaps, validateExecutor } from './validate.js';
