// Thresholds: what parses (and what is refused with LOAD_INVALID_THRESHOLD), and their evaluation on merged
// figures, where a metric with no samples fails.

import { describe, expect, it } from 'vitest';
import { Histogram } from '../../bench/index.js';
import { LoadErrorCode } from '../../load/errors.js';
import type { MergedFigures } from '../../load/metrics/index.js';
import { evaluateThresholds, parseThreshold } from '../../load/thresholds.js';

describe('parseThreshold', () => {
  it.each([
    ['p99 < 200ms', { kind: 'latency', metric: 'request', stat: 'p99', op: '<', value: 200_000 }],
    ['p99<200', { kind: 'latency', metric: 'request', stat: 'p99', op: '<', value: 200_000 }],
    ['p99 < 200 ms', { kind: 'latency', metric: 'request', stat: 'p99', value: 200_000 }],
    ['ttft.p95 < 1s', { kind: 'latency', metric: 'ttft', stat: 'p95', value: 1_000_000 }],
    ['ttft.p99.9 <= 1.5s', { kind: 'latency', metric: 'ttft', stat: 'p99.9', op: '<=', value: 1_500_000 }],
    ['step.login.max < 300us', { kind: 'latency', metric: 'step.login', stat: 'max', value: 300 }],
    ['iteration.mean >= 2', { kind: 'latency', metric: 'iteration', stat: 'mean', op: '>=', value: 2000 }],
    ['api.count > 100', { kind: 'latency', metric: 'api', stat: 'count', value: 100 }],
    ['errors < 1%', { kind: 'errors-rate', op: '<', value: 1 }],
    ['checks > 99.5%', { kind: 'checks-rate', op: '>', value: 99.5 }],
    ['rps > 100', { kind: 'rps', value: 100 }],
    ['dropped_iterations < 1', { kind: 'counter', counter: 'dropped_iterations', value: 1 }],
    ['errors < 5', { kind: 'counter', counter: 'errors', value: 5 }],
    ['errors.http_5xx < 1', { kind: 'counter', counter: 'errors.http_5xx', value: 1 }],
  ])('%s', (expr, expected) => {
    expect(parseThreshold(expr)).toMatchObject({ expr, ...expected });
  });

  it.each([
    'p99 = 200ms',
    'p99',
    '< 200ms',
    'p99 < fast',
    'p0 < 1ms',
    'p101 < 1ms',
    'p99x < 1ms',
    'p99 < 1%',
    'p99 < 1h',
    'api.count < 5ms',
    'checks > 99',
    'rps > 100ms',
    'iterations > 5ms',
    '9lives < 1',
  ])('refuses %s with LOAD_INVALID_THRESHOLD', (expr) => {
    expect(() => parseThreshold(expr)).toThrow(
      expect.objectContaining({ code: LoadErrorCode.InvalidThreshold }),
    );
  });
});

function figures(latenciesMs: number[], counters: Record<string, number>): MergedFigures {
  const h = new Histogram();
  for (const ms of latenciesMs) h.record(ms * 1000);
  return { histograms: new Map(latenciesMs.length > 0 ? [['request', h]] : []), counters };
}

describe('evaluateThresholds', () => {
  const merged = figures(
    Array.from({ length: 100 }, (_, i) => i + 1),
    { requests: 200, errors: 3, 'checks.pass': 98, 'checks.fail': 2, iterations: 200 },
  );

  it('compares latency statistics in the expression unit', () => {
    const [p99, p50, max, count] = evaluateThresholds(
      ['p99 < 100ms', 'p50 <= 0.05s', 'max >= 100', 'count > 100'],
      merged,
      10_000,
    );
    // Percentiles are the histogram's (within its bucket width of the truth), shown in the expression's unit.
    const h = merged.histograms.get('request') as Histogram;
    expect(p99).toEqual({ expr: 'p99 < 100ms', actual: h.percentile(99) / 1000, ok: true });
    expect(p99?.actual).toBeCloseTo(99, 0);
    expect(p50).toEqual({
      expr: 'p50 <= 0.05s',
      actual: h.percentile(50) / 1e6,
      ok: h.percentile(50) <= 50_000,
    });
    expect(evaluateThresholds(['p50 < 49ms', 'p50 > 49ms'], merged, 1).map((r) => r.ok)).toEqual([
      false,
      true,
    ]);
    expect(max).toEqual({ expr: 'max >= 100', actual: 100, ok: true });
    expect(count).toEqual({ expr: 'count > 100', actual: 100, ok: false });
  });

  it('evaluates rates and counters', () => {
    const results = evaluateThresholds(
      [
        'errors < 1%',
        'errors < 2%',
        'checks > 97%',
        'checks > 99%',
        'rps >= 20',
        'dropped_iterations < 1',
        'iterations > 199',
      ],
      merged,
      10_000,
    );
    expect(results.map((r) => [r.actual, r.ok])).toEqual([
      [1.5, false],
      [1.5, true],
      [98, true],
      [98, false],
      [20, true],
      [0, true],
      [200, true],
    ]);
  });

  it('fails a threshold with nothing to measure', () => {
    const empty = figures([], {});
    const results = evaluateThresholds(
      ['p99 < 1s', 'ttft.p95 < 1s', 'errors < 1%', 'checks > 1%', 'rps > 0'],
      empty,
      0,
    );
    expect(results.every((r) => r.actual === null && !r.ok)).toBe(true);
    expect(evaluateThresholds(['ttft.p95 < 1s'], merged, 1000)).toEqual([
      { expr: 'ttft.p95 < 1s', actual: null, ok: false },
    ]);
  });
});
