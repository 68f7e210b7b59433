// The run's timeline, one point a second: figures of that second alone, taken as differences of the cumulative
// merged figures (a second's p99 from the difference of two histograms' buckets, never from percentiles).

import { Histogram } from '../../bench/index.js';
import type { HistogramData } from '../agent/protocol.js';

/** One second of the run. */
export interface TimelinePoint {
  /** Seconds since the executor's t = 0 (the end of the second). */
  t: number;
  /** Requests per second in that second. */
  rps: number;
  /** p99 of the requests completed in that second (ms), null without any. */
  p99: number | null;
  /** VUs running at its end. */
  vus: number;
  /** Errors in that second. */
  errors: number;
}

/** The cumulative figures the timeline is fed, as merged across nodes at one moment. */
export interface TimelineSample {
  requests: number;
  errors: number;
  vus: number;
  /** The merged `request` histogram (µs), if any. */
  latency: HistogramData | undefined;
}

/** The value at percentile `p` of sparse `[bucket, count]` pairs of a `bits` histogram, or null when empty. */
export function bucketPercentile(
  buckets: ReadonlyArray<readonly [number, number]>,
  bits: number,
  p: number,
): number | null {
  const total = buckets.reduce((sum, [, n]) => sum + n, 0);
  if (total === 0) return null;
  const shape = new Histogram({ bits });
  const rank = Math.max(1, Math.ceil((p / 100) * total));
  let seen = 0;
  for (const [index, n] of buckets) {
    seen += n;
    if (seen >= rank) return shape.bucketRange(index)[1];
  }
  return null;
}

/** Buckets of `now` minus those of `before` (both cumulative, so every count only grows). */
function bucketDiff(
  now: HistogramData | undefined,
  before: HistogramData | undefined,
): Array<[number, number]> {
  if (now === undefined) return [];
  const old = new Map(before?.bits === now.bits ? before.buckets : []);
  const out: Array<[number, number]> = [];
  for (const [index, n] of now.buckets) {
    const d = n - (old.get(index) ?? 0);
    if (d > 0) out.push([index, d]);
  }
  return out;
}

/**
 * Builds the timeline from samples taken every few hundred ms: a point each time a whole second since t = 0 has
 * passed, covering the time since the previous point.
 */
export class TimelineBuilder {
  readonly points: TimelinePoint[] = [];
  #last: { at: number; sample: TimelineSample } = {
    at: 0,
    sample: { requests: 0, errors: 0, vus: 0, latency: undefined },
  };

  /** Feeds the figures at `tMs` ms since t = 0; records a point when a new second began. */
  observe(tMs: number, sample: TimelineSample): TimelinePoint | undefined {
    if (Math.floor(tMs / 1000) <= Math.floor(this.#last.at / 1000) || tMs <= 0) return undefined;
    return this.#push(tMs, sample);
  }

  /** Records the last (possibly partial) second at the end of the run. */
  finish(tMs: number, sample: TimelineSample): void {
    if (tMs - this.#last.at >= 200) this.#push(tMs, sample);
  }

  #push(tMs: number, sample: TimelineSample): TimelinePoint {
    const prev = this.#last;
    const seconds = (tMs - prev.at) / 1000;
    const diff = bucketDiff(sample.latency, prev.sample.latency);
    const p99 = sample.latency === undefined ? null : bucketPercentile(diff, sample.latency.bits, 99);
    const point: TimelinePoint = {
      t: Math.round(tMs / 100) / 10,
      rps: seconds > 0 ? (sample.requests - prev.sample.requests) / seconds : 0,
      p99: p99 === null ? null : p99 / 1000,
      vus: sample.vus,
      errors: sample.errors - prev.sample.errors,
    };
    this.points.push(point);
    this.#last = { at: tMs, sample };
    return point;
  }
}
