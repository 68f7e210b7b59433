// Unit tests of the benchmark histogram and summary statistics: bucket maths, percentiles, merging.

import { describe, expect, it } from 'vitest';
import { BenchError } from '../../bench/errors.js';
import { Histogram } from '../../bench/histogram.js';
import { quantile, summarize } from '../../bench/stats.js';

/** Exact percentile by the same rank rule the histogram uses: the ceil(p/100·n)-th smallest value. */
function exactPercentile(sorted: number[], p: number): number {
  return sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1]!;
}

/** A deterministic pseudo-random generator, so the tests never depend on luck. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('Histogram', () => {
  it('is exact below 2^bits and for min, max and mean', () => {
    const h = new Histogram({ bits: 8 });
    for (let v = 1; v <= 200; v++) h.record(v);
    expect(h.count).toBe(200);
    expect(h.min).toBe(1);
    expect(h.max).toBe(200);
    expect(h.mean).toBeCloseTo(100.5, 10);
    expect(h.percentile(50)).toBe(100);
    expect(h.percentile(90)).toBe(180);
    expect(h.percentile(100)).toBe(200);
  });

  it('maps every value into a bucket whose range contains it, with contiguous buckets', () => {
    const h = new Histogram({ bits: 5 });
    let expectedIndex = 0;
    let previousHigh = -1;
    for (let v = 0; v < 5000; v++) {
      const index = h.bucketOf(v);
      const [low, high] = h.bucketRange(index);
      expect(v).toBeGreaterThanOrEqual(low);
      expect(v).toBeLessThanOrEqual(high);
      if (index !== expectedIndex) {
        expect(index).toBe(expectedIndex + 1);
        expect(low).toBe(previousHigh + 1);
        expectedIndex = index;
      }
      previousHigh = high;
    }
  });

  it('handles values near large powers of two without misplacing them', () => {
    const h = new Histogram();
    for (const e of [20, 31, 32, 40, 52]) {
      for (const v of [2 ** e - 1, 2 ** e, 2 ** e + 1]) {
        const [low, high] = h.bucketRange(h.bucketOf(v));
        expect(v).toBeGreaterThanOrEqual(low);
        expect(v).toBeLessThanOrEqual(high);
      }
    }
  });

  it('places values alike on both sides of the switch from integer to float bucket maths at 2^31', () => {
    for (const bits of [2, 3, 8, 16]) {
      const h = new Histogram({ bits });
      let previous = -1;
      // Every power of two from 2^bits to 2^33 and its neighbours, in ascending order: bucket indices never go
      // down and each value lies in its bucket's range, whichever path computed it.
      for (let e = bits; e <= 33; e++) {
        for (const v of [2 ** e - 1, 2 ** e, 2 ** e + 1, 2 ** e + 2 ** (e - 1)]) {
          const index = h.bucketOf(v);
          const [low, high] = h.bucketRange(index);
          expect(v).toBeGreaterThanOrEqual(low);
          expect(v).toBeLessThanOrEqual(high);
          expect(index).toBeGreaterThanOrEqual(previous);
          previous = index;
        }
      }
    }
  });

  it('keeps percentiles within the bucket relative error of the exact ones', () => {
    const rnd = lcg(42);
    const h = new Histogram({ bits: 8 });
    const values: number[] = [];
    for (let i = 0; i < 20_000; i++) {
      // Log-normal-ish latencies from 10 µs to ~100 ms, in ns.
      const v = Math.round(10_000 * Math.exp(rnd() * 9));
      values.push(v);
      h.record(v);
    }
    values.sort((a, b) => a - b);
    const bound = 2 ** -(8 - 1);
    for (const p of [50, 90, 99, 99.9]) {
      const exact = exactPercentile(values, p);
      const approx = h.percentile(p);
      expect(approx).toBeGreaterThanOrEqual(exact);
      expect((approx - exact) / exact).toBeLessThanOrEqual(bound);
    }
    expect(h.percentile(100)).toBe(values[values.length - 1]);
  });

  it('merges to the same distribution as recording everything in one', () => {
    const rnd = lcg(7);
    const a = new Histogram();
    const b = new Histogram();
    const all = new Histogram();
    for (let i = 0; i < 5000; i++) {
      const v = Math.floor(rnd() * 1e7);
      (i % 3 === 0 ? a : b).record(v);
      all.record(v);
    }
    a.merge(b);
    expect(a.count).toBe(all.count);
    expect(a.min).toBe(all.min);
    expect(a.max).toBe(all.max);
    expect(a.mean).toBeCloseTo(all.mean, 6);
    expect(a.percentiles()).toEqual(all.percentiles());
  });

  it('merging an empty histogram changes nothing; merging different precisions is refused', () => {
    const a = new Histogram();
    a.record(5);
    a.merge(new Histogram());
    expect(a.percentiles()).toMatchObject({ count: 1, min: 5, max: 5, p50: 5 });
    expect(() => a.merge(new Histogram({ bits: 6 }))).toThrow(BenchError);
  });

  it('reports zeros when empty, scales percentiles, and clamps odd input', () => {
    const h = new Histogram();
    expect(h.percentiles()).toEqual({ count: 0, min: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 });
    h.record(-5);
    h.record(Number.NaN);
    h.record(2.6);
    expect(h.min).toBe(0);
    expect(h.max).toBe(3);
    h.record(3000, 2);
    expect(h.count).toBe(5);
    expect(h.percentiles(1000).max).toBe(3);
    expect(() => h.percentile(0)).toThrow(BenchError);
    expect(() => h.percentile(101)).toThrow(BenchError);
    expect(() => new Histogram({ bits: 1 })).toThrow(BenchError);
    h.reset();
    expect(h.count).toBe(0);
  });
});

describe('summary statistics', () => {
  it('interpolates quantiles between ranks', () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([10], 0.25)).toBe(10);
    expect(Number.isNaN(quantile([], 0.5))).toBe(true);
  });

  it('summarizes unsorted samples without touching them', () => {
    const samples = [5, 1, 3];
    expect(summarize(samples)).toEqual({ median: 3, min: 1, max: 5, q1: 2, q3: 4 });
    expect(samples).toEqual([5, 1, 3]);
    expect(Number.isNaN(summarize([]).median)).toBe(true);
  });
});
