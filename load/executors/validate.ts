// Checks an executor spec (shape, then the caps): every problem is a coded LoadError naming the field.

import { LoadError, LoadErrorCode } from '../errors.js';
import { assertKnownKeys, assertObject, describe, intField, invalid, numberField } from '../fields.js';
import type { LoadCaps } from './caps.js';
import { executorMaxRatePerSec, executorMaxVus } from './profile.js';
import type { ExecutorSpec, Stage } from './spec.js';

const KNOWN: Record<ExecutorSpec['kind'], readonly string[]> = {
  'constant-vus': ['kind', 'vus', 'durationMs'],
  'ramping-vus': ['kind', 'startVus', 'stages'],
  'constant-arrival-rate': ['kind', 'rate', 'timeUnitMs', 'durationMs', 'preAllocatedVus', 'maxVus'],
  'ramping-arrival-rate': ['kind', 'startRate', 'timeUnitMs', 'stages', 'preAllocatedVus', 'maxVus'],
};

/**
 * Validates `spec` and, given `caps`, checks its most VUs and its highest rate against them (LOAD_OVER_CAP).
 * Returns the same spec. `field` prefixes the field names in errors.
 *
 * @example
 * validateExecutor({ kind: 'constant-vus', vus: 10, durationMs: 30_000 }, DEFAULT_LOAD_CAPS);
 */
export function validateExecutor(spec: ExecutorSpec, caps?: LoadCaps, field = 'executor'): ExecutorSpec {
  assertObject(spec, field);
  const kind = (spec as { kind?: unknown }).kind;
  if (typeof kind !== 'string' || !Object.hasOwn(KNOWN, kind))
    throw invalid(`${field}.kind`, `expected one of ${Object.keys(KNOWN).join(', ')}, got ${describe(kind)}`);
  assertKnownKeys(spec, KNOWN[kind as ExecutorSpec['kind']], field);
  switch (spec.kind) {
    case 'constant-vus':
      intField(spec.vus, `${field}.vus`, 1);
      numberField(spec.durationMs, `${field}.durationMs`, 0, true);
      break;
    case 'ramping-vus': {
      intField(spec.startVus, `${field}.startVus`, 0);
      stagesField(spec.stages, `${field}.stages`, true);
      if (executorMaxVus(spec) < 1) throw invalid(`${field}.stages`, 'no stage has a VU');
      break;
    }
    case 'constant-arrival-rate':
      numberField(spec.rate, `${field}.rate`, 0, true);
      openFields(spec, field);
      numberField(spec.durationMs, `${field}.durationMs`, 0, true);
      break;
    case 'ramping-arrival-rate':
      numberField(spec.startRate, `${field}.startRate`, 0);
      openFields(spec, field);
      stagesField(spec.stages, `${field}.stages`, false);
      if (executorMaxRatePerSec(spec) <= 0) throw invalid(`${field}.stages`, 'the rate never rises above 0');
      break;
  }
  if (caps !== undefined) assertWithinCaps(spec, caps);
  return spec;
}

/** Throws LOAD_OVER_CAP when `spec` asks for more VUs or a higher rate than `caps` allow. */
export function assertWithinCaps(
  spec: ExecutorSpec,
  caps: LoadCaps,
  vus = executorMaxVus(spec),
  rate = executorMaxRatePerSec(spec),
): void {
  if (vus > caps.maxVus)
    throw new LoadError(
      LoadErrorCode.OverCap,
      `${vus} VUs is above the cap of ${caps.maxVus} (TROUPE_LOAD_MAX_VUS)`,
      {
        data: { vus, maxVus: caps.maxVus },
      },
    );
  if (rate > caps.maxRatePerSec)
    throw new LoadError(
      LoadErrorCode.OverCap,
      `${round(rate)} iterations/s is above the cap of ${caps.maxRatePerSec} (TROUPE_LOAD_MAX_RATE)`,
      { data: { ratePerSec: rate, maxRatePerSec: caps.maxRatePerSec } },
    );
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

function openFields(
  spec: { timeUnitMs?: number; preAllocatedVus: number; maxVus?: number },
  field: string,
): void {
  if (spec.timeUnitMs !== undefined) numberField(spec.timeUnitMs, `${field}.timeUnitMs`, 0, true);
  const pre = intField(spec.preAllocatedVus, `${field}.preAllocatedVus`, 1);
  if (spec.maxVus !== undefined) {
    intField(spec.maxVus, `${field}.maxVus`, 1);
    if (spec.maxVus < pre)
      throw invalid(`${field}.maxVus`, `expected at least preAllocatedVus (${pre}), got ${spec.maxVus}`);
  }
}

function stagesField(stages: Stage[], field: string, integerTargets: boolean): void {
  if (!Array.isArray(stages) || stages.length === 0)
    throw invalid(field, 'expected a non-empty array of { durationMs, target }');
  let total = 0;
  stages.forEach((stage, i) => {
    const at = `${field}[${i}]`;
    assertObject(stage, at);
    assertKnownKeys(stage, ['durationMs', 'target'], at);
    total += numberField(stage.durationMs, `${at}.durationMs`, 0);
    if (integerTargets) intField(stage.target, `${at}.target`, 0);
    else numberField(stage.target, `${at}.target`, 0);
  });
  if (total <= 0) throw invalid(field, 'the stages last 0 ms');
}
