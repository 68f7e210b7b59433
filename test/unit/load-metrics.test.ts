// Figures: the histogram's sparse JSON roundtrip, merging nodes' snapshots equals one histogram of all the
// samples, and what the node recorder counts for a request.

import { describe, expect, it } from 'vitest';
import { Histogram } from '../../bench/index.js';
import { createRecorder, mergeSnapshots } from '../../load/metrics/index.js';

/** A deterministic spread of latencies (µs) with a long tail. */
function latencies(seed: number, n: number): number[] {
  let x = seed;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    x = (x * 1_103_515_245 + 12_345) % 2 ** 31;
    const u = x / 2 ** 31;
    out.push(Math.round(200 + 5000 * u ** 6 + (i % 97 === 0 ? 250_000 * u : 0)));
  }
  return out;
}

describe('Histogram toJSON / fromJSON', () => {
  it('roundtrips exactly, sparse', () => {
    const h = new Histogram();
    for (const v of latencies(1, 5000)) h.record(v);
    const json = h.toJSON();
    expect(json.buckets.length).toBeLessThan(1000);
    expect(json.buckets.every(([, c]) => c > 0)).toBe(true);
    const back = Histogram.fromJSON(JSON.parse(JSON.stringify(json)));
    expect(back.percentiles()).toEqual(h.percentiles());
    expect(back.toJSON()).toEqual(json);
  });

  it('roundtrips an empty histogram', () => {
    const back = Histogram.fromJSON(new Histogram().toJSON());
    expect(back.count).toBe(0);
    back.record(5);
    expect(back.min).toBe(5);
  });

  it('refuses malformed data', () => {
    const json = new Histogram().toJSON();
    for (const broken of [
      { ...json, buckets: [[3, 1]], count: 2 },
      {
        ...json,
        buckets: [
          [3, 1],
          [2, 1],
        ],
        count: 2,
      },
      { ...json, buckets: [[3, -1]], count: -1 },
      { ...json, buckets: [[1e9, 1]], count: 1 },
      { ...json, bits: 99 },
      { ...json, buckets: 'x' },
    ]) {
      expect(() => Histogram.fromJSON(broken as never)).toThrow(
        expect.objectContaining({ code: 'BENCH_HISTOGRAM' }),
      );
    }
  });
});

describe('mergeSnapshots', () => {
  it('merged percentiles equal those of one histogram of all the samples', () => {
    const parts = [latencies(7, 3000), latencies(11, 1200), latencies(13, 40)];
    const all = new Histogram();
    const snapshots = parts.map((values, i) => {
      const recorder = createRecorder();
      for (const v of values) {
        recorder.request('api', v / 1000, { bytesIn: 100 });
        all.record(v);
      }
      return recorder.snapshot('run', `n${i}`, { vus: 1, slots: [i], done: true, cpuMicros: 10 });
    });
    const merged = mergeSnapshots(snapshots);
    expect(merged.histograms.get('request')?.percentiles()).toEqual(all.percentiles());
    expect(merged.histograms.get('api')?.count).toBe(4240);
    expect(merged.counters).toEqual({ requests: 4240, bytes_in: 424_000 });
  });
});

describe('node recorder', () => {
  it('records requests, errors by kind, values and checks; snapshots count up', () => {
    const seen: Array<[string, number]> = [];
    const hooked: string[] = [];
    const recorder = createRecorder({
      samples: (metric, micros) => seen.push([metric, micros]),
      hook: {
        onLatency: (metric, ms) => hooked.push(`${metric}=${ms}`),
        onCount: (counter, n) => hooked.push(`${counter}+${n}`),
      },
      now: () => 42,
    });
    recorder.request('api', 1.2345, { bytesIn: 10, bytesOut: 4 });
    recorder.request('api', 3, { error: 'http_5xx' });
    recorder.value('tokens_per_s', 41.5);
    recorder.count('checks.pass', 2);
    expect(seen).toEqual([
      ['request', 1235],
      ['api', 1235],
      ['request', 3000],
      ['api', 3000],
      ['tokens_per_s', 41_500],
    ]);
    expect(hooked).toContain('errors.http_5xx+1');
    expect(hooked).toContain('request=3');
    const first = recorder.snapshot('r', 'n', { vus: 2, slots: [0, 1], done: false, cpuMicros: 5 });
    expect(first).toMatchObject({
      runId: 'r',
      node: 'n',
      seq: 1,
      at: 42,
      vus: 2,
      slots: [0, 1],
      done: false,
    });
    expect(first.counters).toEqual({
      requests: 2,
      bytes_in: 10,
      bytes_out: 4,
      errors: 1,
      'errors.http_5xx': 1,
      'checks.pass': 2,
    });
    expect(Object.keys(first.histograms).sort()).toEqual(['api', 'request', 'tokens_per_s']);
    expect(recorder.snapshot('r', 'n', { vus: 0, slots: [], done: true, cpuMicros: 6 }).seq).toBe(2);
    expect(recorder.counter('errors')).toBe(1);
    expect(recorder.histogram('request')?.count).toBe(2);
  });
});
