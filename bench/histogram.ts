// A log-linear latency histogram (HDR style): constant memory, bounded relative error, mergeable across runs.

import { BenchError, BenchErrorCode } from './errors.js';

/** Options of {@link Histogram}. */
export interface HistogramOptions {
  /**
   * Significant bits kept per value: values are exact below `2^bits` and within `2^-(bits-1)` relative error above.
   * @defaultValue 8 (at most 0.79 % error)
   */
  bits?: number;
}

/** The percentiles every latency report shows. */
export interface Percentiles {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/**
 * A histogram as plain JSON: sparse `[bucket index, count]` pairs, ascending, counts > 0, plus the exact count,
 * sum, min and max, so it can travel between processes and merge exactly (`Histogram.fromJSON`).
 */
export interface HistogramJson {
  bits: number;
  buckets: Array<[number, number]>;
  count: number;
  sum: number;
  min: number;
  max: number;
}

/** Largest value a histogram accepts: larger ones are clamped (2^53, beyond any latency in ns). */
const MAX_EXPONENT = 53;
const MAX_VALUE = 2 ** MAX_EXPONENT - 1;

/**
 * Records non-negative integers (say nanoseconds) into buckets: exact below `2^bits`, then `2^(bits-1)` buckets per
 * power of two. Percentiles return the highest value equivalent to the bucket that holds the rank, clamped to the
 * exact min and max, so they never exceed the truth by more than the bucket width.
 *
 * @example
 * const h = new Histogram();
 * for (const ns of latencies) h.record(ns);
 * h.percentile(99); // ≈ p99, within 0.79 %
 */
export class Histogram {
  readonly bits: number;
  #counts: Float64Array;
  #count = 0;
  #sum = 0;
  #min = Number.POSITIVE_INFINITY;
  #max = 0;

  constructor(options: HistogramOptions = {}) {
    const bits = options.bits ?? 8;
    if (!Number.isInteger(bits) || bits < 2 || bits > 16) {
      throw new BenchError(
        BenchErrorCode.Histogram,
        `histogram bits must be an integer in 2..16, got ${bits}`,
      );
    }
    this.bits = bits;
    const half = 2 ** (bits - 1);
    this.#counts = new Float64Array(2 ** bits + (MAX_EXPONENT - bits + 1) * half);
  }

  /** Number of recorded values. */
  get count(): number {
    return this.#count;
  }

  /** Smallest recorded value (exact), or 0 when empty. */
  get min(): number {
    return this.#count === 0 ? 0 : this.#min;
  }

  /** Largest recorded value (exact), or 0 when empty. */
  get max(): number {
    return this.#max;
  }

  /** Mean of the recorded values (exact), or 0 when empty. */
  get mean(): number {
    return this.#count === 0 ? 0 : this.#sum / this.#count;
  }

  /** Index of the bucket that holds `value` (a non-negative integer). */
  bucketOf(value: number): number {
    const bits = this.bits;
    // Below 2^31 in integer bit operations: a histogram records a value per request or message, and `**` and
    // Math.log2 cost a call into V8's pow each (2 % of a load generator's CPU).
    if (value < 0x80000000) {
      const linear = 1 << bits;
      if (value < linear) return value;
      const shift = 31 - Math.clz32(value) - (bits - 1);
      const half = 1 << (bits - 1);
      return linear + (shift - 1) * half + ((value >>> shift) - half);
    }
    const linear = 2 ** bits;
    let msb = Math.floor(Math.log2(value));
    // Math.log2 may round across a power of two for large values: correct it exactly.
    if (2 ** msb > value) msb--;
    else if (2 ** (msb + 1) <= value) msb++;
    const shift = msb - (bits - 1);
    const half = 2 ** (bits - 1);
    const sub = Math.floor(value / 2 ** shift) - half;
    return linear + (shift - 1) * half + sub;
  }

  /** Smallest and largest value that land in bucket `index`. */
  bucketRange(index: number): [number, number] {
    const linear = 2 ** this.bits;
    if (index < linear) return [index, index];
    const half = 2 ** (this.bits - 1);
    const shift = Math.floor((index - linear) / half) + 1;
    const sub = (index - linear) % half;
    const low = (half + sub) * 2 ** shift;
    return [low, low + 2 ** shift - 1];
  }

  /** Records `value` (rounded to an integer; negatives count as 0) `times` times. */
  record(value: number, times = 1): void {
    let v = Number.isFinite(value) ? Math.round(value) : 0;
    if (v < 0) v = 0;
    if (v > MAX_VALUE) v = MAX_VALUE;
    const index = this.bucketOf(v);
    this.#counts[index] = (this.#counts[index] ?? 0) + times;
    this.#count += times;
    this.#sum += v * times;
    if (v < this.#min) this.#min = v;
    if (v > this.#max) this.#max = v;
  }

  /**
   * The value at percentile `p` (0 < p ≤ 100): the smallest bucket whose cumulative count reaches
   * `ceil(p/100 · count)`, reported as that bucket's highest value, clamped to the exact [min, max]. 0 when empty.
   */
  percentile(p: number): number {
    if (!(p > 0 && p <= 100))
      throw new BenchError(BenchErrorCode.Histogram, `percentile must be in (0, 100], got ${p}`);
    if (this.#count === 0) return 0;
    if (p === 100) return this.#max;
    const rank = Math.max(1, Math.ceil((p / 100) * this.#count));
    let seen = 0;
    const counts = this.#counts;
    for (let i = 0; i < counts.length; i++) {
      seen += counts[i] ?? 0;
      if (seen >= rank) {
        const high = this.bucketRange(i)[1];
        return Math.min(Math.max(high, this.#min), this.#max);
      }
    }
    return this.#max;
  }

  /** The standard report: count, min, mean, p50, p90, p99, p99.9, max, each divided by `scale` (e.g. 1000 for ns → µs). */
  percentiles(scale = 1): Percentiles {
    return {
      count: this.#count,
      min: this.min / scale,
      mean: this.mean / scale,
      p50: this.percentile(50) / scale,
      p90: this.percentile(90) / scale,
      p99: this.percentile(99) / scale,
      p999: this.percentile(99.9) / scale,
      max: this.#max / scale,
    };
  }

  /** Adds every value recorded in `other` (which must have the same `bits`) to this histogram. */
  merge(other: Histogram): this {
    if (other.bits !== this.bits) {
      throw new BenchError(
        BenchErrorCode.Histogram,
        `cannot merge a histogram of ${other.bits} bits into one of ${this.bits} bits`,
      );
    }
    if (other.#count === 0) return this;
    const mine = this.#counts;
    const theirs = other.#counts;
    for (let i = 0; i < theirs.length; i++) {
      const c = theirs[i] ?? 0;
      if (c !== 0) mine[i] = (mine[i] ?? 0) + c;
    }
    this.#count += other.#count;
    this.#sum += other.#sum;
    if (other.#min < this.#min) this.#min = other.#min;
    if (other.#max > this.#max) this.#max = other.#max;
    return this;
  }

  /** The histogram as sparse JSON (only non-empty buckets); `Histogram.fromJSON` rebuilds it exactly. */
  toJSON(): HistogramJson {
    const buckets: Array<[number, number]> = [];
    const counts = this.#counts;
    for (let i = 0; i < counts.length; i++) {
      const c = counts[i] ?? 0;
      if (c !== 0) buckets.push([i, c]);
    }
    return { bits: this.bits, buckets, count: this.#count, sum: this.#sum, min: this.min, max: this.#max };
  }

  /** Rebuilds a histogram from {@link Histogram.toJSON}'s output; throws `BENCH_HISTOGRAM` for a malformed one. */
  static fromJSON(data: HistogramJson): Histogram {
    const bad = (why: string): BenchError =>
      new BenchError(BenchErrorCode.Histogram, `malformed histogram data: ${why}`);
    if (typeof data !== 'object' || data === null || !Array.isArray(data.buckets))
      throw bad('expected an object with buckets');
    const h = new Histogram({ bits: data.bits });
    const counts = h.#counts;
    let total = 0;
    let last = -1;
    for (const pair of data.buckets) {
      const [index, count] = Array.isArray(pair) ? pair : [Number.NaN, Number.NaN];
      if (!Number.isInteger(index) || index <= last || index >= counts.length)
        throw bad(`bucket index ${index}`);
      if (!(typeof count === 'number' && count > 0 && Number.isFinite(count)))
        throw bad(`bucket count ${count}`);
      counts[index] = count;
      total += count;
      last = index;
    }
    const { count, sum, min, max } = data;
    if (count !== total) throw bad(`count ${count} is not the buckets' total ${total}`);
    for (const [name, v] of [
      ['sum', sum],
      ['min', min],
      ['max', max],
    ] as const) {
      if (!(typeof v === 'number' && Number.isFinite(v) && v >= 0)) throw bad(`${name} ${v}`);
    }
    h.#count = count;
    h.#sum = sum;
    h.#min = count === 0 ? Number.POSITIVE_INFINITY : min;
    h.#max = count === 0 ? 0 : max;
    return h;
  }

  /** Forgets every value. */
  reset(): void {
    this.#counts.fill(0);
    this.#count = 0;
    this.#sum = 0;
    this.#min = Number.POSITIVE_INFINITY;
    this.#max = 0;
  }
}
