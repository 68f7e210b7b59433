// The executors' math: the open model's schedule is exact (N(t) and its inverse agree), the closed model's VU
// target follows its stages, and specs are checked field by field and against the caps.

import { describe, expect, it } from 'vitest';
import { LoadErrorCode } from '../../load/errors.js';
import {
  DEFAULT_LOAD_CAPS,
  type ExecutorSpec,
  executorDurationMs,
  executorMaxRatePerSec,
  executorMaxVus,
  integralAt,
  isOpenModel,
  iterationsBy,
  loadCapsFromEnv,
  scheduledAt,
  targetVusAt,
  validateExecutor,
} from '../../load/executors/index.js';

const constant: ExecutorSpec = {
  kind: 'constant-arrival-rate',
  rate: 100,
  durationMs: 10_000,
  preAllocatedVus: 10,
};
const ramping: ExecutorSpec = {
  kind: 'ramping-arrival-rate',
  startRate: 0,
  timeUnitMs: 1000,
  stages: [
    { durationMs: 2000, target: 300 },
    { durationMs: 3000, target: 300 },
    { durationMs: 1500, target: 40 },
    { durationMs: 0, target: 500 },
    { durationMs: 1000, target: 0 },
  ],
  preAllocatedVus: 5,
};

describe('open model schedule', () => {
  it('a constant rate runs exactly rate × duration iterations', () => {
    expect(iterationsBy(constant, 10_000)).toBe(1000);
    expect(iterationsBy(constant, 0)).toBe(0);
    // The first is due at t = 0, the last 1/rate before the end (so it is not cut short by the end).
    expect(iterationsBy(constant, 9)).toBe(1);
    expect(iterationsBy(constant, 10)).toBe(1);
    expect(iterationsBy(constant, 10.5)).toBe(2);
    expect(scheduledAt(constant, 0)).toBe(0);
    expect(scheduledAt(constant, 999)).toBe(9990);
    expect(iterationsBy({ ...constant, rate: 3, timeUnitMs: 60_000, durationMs: 3_600_000 }, 3_600_000)).toBe(
      180,
    );
    expect(iterationsBy({ ...constant, rate: 7919 }, 10_000)).toBe(79_190);
  });

  it('N(t) of a ramp is the area under its rate', () => {
    // 0→300 over 2 s: 300; 300 for 3 s: 900; 300→40 over 1.5 s: 255; then a jump to 500 and 500→0 over 1 s: 250.
    expect(iterationsBy(ramping, 2000)).toBe(300);
    expect(iterationsBy(ramping, 5000)).toBe(1200);
    expect(iterationsBy(ramping, 6500)).toBe(1455);
    expect(iterationsBy(ramping, 7500)).toBe(1705);
    expect(iterationsBy(ramping, 1000)).toBe(75);
  });

  it('scheduledAt inverts iterationsBy exactly, iteration by iteration', () => {
    for (const spec of [constant, ramping]) {
      const total = iterationsBy(spec, executorDurationMs(spec));
      let previous = -1;
      for (let k = 0; k < total; k++) {
        const t = scheduledAt(spec, k);
        expect(t).toBeGreaterThanOrEqual(previous);
        // Due once the rate's integral reaches k, not earlier: k iterations are due strictly before it.
        expect(integralAt(spec, t)).toBeCloseTo(k, 6);
        if (t > previous) expect(iterationsBy(spec, t)).toBe(k);
        previous = t;
      }
      expect(scheduledAt(spec, total - 1)).toBeLessThan(executorDurationMs(spec));
      expect(scheduledAt(spec, total)).toBeGreaterThanOrEqual(executorDurationMs(spec));
    }
  });

  it('a ramp ending at rate 0 schedules nothing after it', () => {
    expect(scheduledAt(ramping, 1_000_000)).toBe(Number.POSITIVE_INFINITY);
    expect(scheduledAt({ kind: 'constant-vus', vus: 1, durationMs: 1 }, 0)).toBe(Number.POSITIVE_INFINITY);
    expect(iterationsBy({ kind: 'constant-vus', vus: 1, durationMs: 1000 }, 500)).toBe(0);
  });
});

describe('closed model and profile', () => {
  const rampVus: ExecutorSpec = {
    kind: 'ramping-vus',
    startVus: 2,
    stages: [
      { durationMs: 1000, target: 10 },
      { durationMs: 1000, target: 0 },
    ],
  };

  it('the VU target moves linearly and rounds down, 0 outside the run', () => {
    expect(targetVusAt(rampVus, 0)).toBe(2);
    expect(targetVusAt(rampVus, 500)).toBe(6);
    expect(targetVusAt(rampVus, 999)).toBe(9);
    expect(targetVusAt(rampVus, 1000)).toBe(10);
    expect(targetVusAt(rampVus, 1950)).toBe(0);
    expect(targetVusAt(rampVus, 2000)).toBe(0);
    expect(targetVusAt(rampVus, -1)).toBe(0);
    expect(targetVusAt({ kind: 'constant-vus', vus: 7, durationMs: 100 }, 99)).toBe(7);
    expect(targetVusAt({ kind: 'constant-vus', vus: 7, durationMs: 100 }, 100)).toBe(0);
  });

  it('duration, most VUs, highest rate and model', () => {
    expect(executorDurationMs(rampVus)).toBe(2000);
    expect(executorMaxVus(rampVus)).toBe(10);
    expect(executorMaxRatePerSec(rampVus)).toBe(0);
    expect(isOpenModel(rampVus)).toBe(false);
    expect(executorDurationMs(ramping)).toBe(7500);
    expect(executorMaxRatePerSec(ramping)).toBe(500);
    expect(executorMaxRatePerSec({ ...constant, rate: 30, timeUnitMs: 60_000 })).toBe(0.5);
    expect(executorMaxVus(constant)).toBe(10);
    expect(executorMaxVus({ ...constant, maxVus: 40 })).toBe(40);
    expect(isOpenModel(constant)).toBe(true);
  });
});

describe('validateExecutor', () => {
  const bad: Array<[string, unknown, string]> = [
    ['no kind', { vus: 1, durationMs: 1 }, 'executor.kind'],
    ['unknown kind', { kind: 'per-vu-iterations' }, 'executor.kind'],
    ['zero VUs', { kind: 'constant-vus', vus: 0, durationMs: 1000 }, 'executor.vus'],
    ['fractional VUs', { kind: 'constant-vus', vus: 1.5, durationMs: 1000 }, 'executor.vus'],
    ['no duration', { kind: 'constant-vus', vus: 1 }, 'executor.durationMs'],
    ['a typo', { kind: 'constant-vus', vus: 1, duration: 1000 }, 'executor.duration'],
    ['no stages', { kind: 'ramping-vus', startVus: 0, stages: [] }, 'executor.stages'],
    [
      'a stage without VUs',
      { kind: 'ramping-vus', startVus: 0, stages: [{ durationMs: 10, target: 0 }] },
      'executor.stages',
    ],
    [
      'stages of 0 ms',
      { kind: 'ramping-vus', startVus: 1, stages: [{ durationMs: 0, target: 2 }] },
      'executor.stages',
    ],
    [
      'a bad stage',
      { kind: 'ramping-vus', startVus: 1, stages: [{ durationMs: -1, target: 2 }] },
      'executor.stages[0].durationMs',
    ],
    [
      'rate 0',
      { kind: 'constant-arrival-rate', rate: 0, durationMs: 1, preAllocatedVus: 1 },
      'executor.rate',
    ],
    [
      'no pool',
      { kind: 'constant-arrival-rate', rate: 1, durationMs: 1, preAllocatedVus: 0 },
      'executor.preAllocatedVus',
    ],
    [
      'maxVus below the pool',
      { kind: 'constant-arrival-rate', rate: 1, durationMs: 1, preAllocatedVus: 5, maxVus: 2 },
      'executor.maxVus',
    ],
    [
      'a time unit of 0',
      { kind: 'constant-arrival-rate', rate: 1, timeUnitMs: 0, durationMs: 1, preAllocatedVus: 1 },
      'executor.timeUnitMs',
    ],
    [
      'a ramp that stays at 0',
      {
        kind: 'ramping-arrival-rate',
        startRate: 0,
        stages: [{ durationMs: 10, target: 0 }],
        preAllocatedVus: 1,
      },
      'executor.stages',
    ],
  ];
  it.each(bad)('refuses %s, naming the field', (_what, spec, field) => {
    expect(() => validateExecutor(spec as ExecutorSpec)).toThrow(
      expect.objectContaining({ code: LoadErrorCode.Invalid, data: { field } }),
    );
  });

  it('checks the caps: VUs and rate', () => {
    const caps = { maxVus: 10, maxRatePerSec: 100 };
    expect(validateExecutor({ kind: 'constant-vus', vus: 10, durationMs: 1 }, caps).kind).toBe(
      'constant-vus',
    );
    expect(() => validateExecutor({ kind: 'constant-vus', vus: 11, durationMs: 1 }, caps)).toThrow(
      expect.objectContaining({ code: LoadErrorCode.OverCap }),
    );
    expect(() => validateExecutor({ ...constant, rate: 101 } as ExecutorSpec, caps)).toThrow(
      expect.objectContaining({ code: LoadErrorCode.OverCap }),
    );
    expect(() => validateExecutor({ ...constant, maxVus: 11 } as ExecutorSpec, caps)).toThrow(
      expect.objectContaining({ code: LoadErrorCode.OverCap }),
    );
    expect(() => validateExecutor(ramping, { maxVus: 10, maxRatePerSec: 499 })).toThrow(
      expect.objectContaining({ code: LoadErrorCode.OverCap }),
    );
  });

  it('reads the caps from the environment', () => {
    expect(loadCapsFromEnv({})).toEqual(DEFAULT_LOAD_CAPS);
    expect(loadCapsFromEnv({ TROUPE_LOAD_MAX_VUS: '50', TROUPE_LOAD_MAX_RATE: '2.5' })).toEqual({
      maxVus: 50,
      maxRatePerSec: 2.5,
    });
    expect(() => loadCapsFromEnv({ TROUPE_LOAD_MAX_VUS: 'many' })).toThrow(
      expect.objectContaining({ code: LoadErrorCode.Invalid, data: { field: 'TROUPE_LOAD_MAX_VUS' } }),
    );
    expect(() => loadCapsFromEnv({ TROUPE_LOAD_MAX_RATE: '0' })).toThrow(
      expect.objectContaining({ data: { field: 'TROUPE_LOAD_MAX_RATE' } }),
    );
  });
});
