// Unit tests of the load run's report side: slot dealing, executor overrides, the per-second timeline, the
// report's derived figures, its validation, the comparison and the HTML page, and the progress line.

import { describe, expect, it } from 'vitest';
import { Histogram } from '../../bench/index.js';
import { dealSlots, redealSlots, slotCountOf } from '../../load/coordinator/slots.js';
import {
  applyOverrides,
  buildLoadReport,
  compareLoadReports,
  createProgressLine,
  type ExecutorSpec,
  formatProgress,
  LoadErrorCode,
  type LoadReport,
  type MergedFigures,
  parseDuration,
  renderLoadComparison,
  renderLoadHtml,
  renderLoadSummary,
  validateLoadReport,
} from '../../load/index.js';
import { bucketPercentile, TimelineBuilder } from '../../load/report/timeline.js';

const rate: ExecutorSpec = {
  kind: 'constant-arrival-rate',
  rate: 100,
  durationMs: 10_000,
  preAllocatedVus: 10,
};

function merged(latenciesUs: number[], counters: Record<string, number>): MergedFigures {
  const h = new Histogram();
  for (const v of latenciesUs) h.record(v);
  return { histograms: new Map([['request', h]]), counters };
}

function report(overrides: Partial<Parameters<typeof buildLoadReport>[0]> = {}): LoadReport {
  return buildLoadReport({
    name: 't',
    runId: 'r1',
    executor: rate,
    targets: { api: 'http://127.0.0.1:1' },
    startedAt: 0,
    durationMs: 10_000,
    nodes: [{ id: 'a', slots: [0], initialSlots: [0], lost: false, cpuMicros: 50_000, requests: 1000 }],
    merged: merged([1000, 2000, 3000], {
      requests: 1000,
      errors: 10,
      iterations: 1000,
      'check.ok.pass': 9,
      'check.ok.fail': 1,
      'checks.pass': 9,
      'checks.fail': 1,
    }),
    thresholds: [{ expr: 'p99 < 200ms', actual: 3, ok: true }],
    interrupted: false,
    timeline: [],
    ...overrides,
  });
}

describe('slots', () => {
  it('deals round-robin: one slot per VU in the closed model, twelve per node in the open one', () => {
    expect(slotCountOf({ kind: 'constant-vus', vus: 5, durationMs: 1000 }, 2)).toBe(5);
    expect(slotCountOf(rate, 3)).toBe(36);
    expect(Object.fromEntries(dealSlots(5, ['a', 'b']))).toEqual({ a: [0, 2, 4], b: [1, 3] });
  });

  it("moves a lost node's slots to the survivors holding the fewest, and reports only those changed", () => {
    const moved = redealSlots(
      [1, 4],
      new Map([
        ['a', [0, 3]],
        ['c', [2]],
        ['d', [5, 6, 7]],
      ]),
    );
    expect(Object.fromEntries(moved)).toEqual({ c: [1, 2], a: [0, 3, 4] });
    expect(redealSlots([1], new Map()).size).toBe(0);
  });
});

describe('overrides', () => {
  it('parses durations, and refuses a malformed one with LOAD_INVALID', () => {
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('1m30s')).toBe(90_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('2')).toBe(2000);
    expect(() => parseDuration('30 seconds')).toThrow(
      expect.objectContaining({ code: LoadErrorCode.Invalid }),
    );
    expect(() => parseDuration('0s')).toThrow(expect.objectContaining({ code: LoadErrorCode.Invalid }));
  });

  it('applies --vus, --duration and --rate where they fit, and names the flag where they do not', () => {
    expect(applyOverrides(rate, { rate: 50, durationMs: 2000, vus: 7 })).toEqual({
      ...rate,
      rate: 50,
      durationMs: 2000,
      preAllocatedVus: 7,
      maxVus: 7,
    });
    const ramp: ExecutorSpec = {
      kind: 'ramping-vus',
      startVus: 0,
      stages: [
        { durationMs: 1000, target: 4 },
        { durationMs: 1000, target: 0 },
      ],
    };
    expect(applyOverrides(ramp, { vus: 3 })).toEqual({ kind: 'constant-vus', vus: 3, durationMs: 2000 });
    expect(() => applyOverrides(ramp, { durationMs: 5 })).toThrow(/--duration/);
    expect(() => applyOverrides(ramp, { rate: 5 })).toThrow(/--rate/);
    expect(() => applyOverrides(rate, { vus: 1.5 })).toThrow(/--vus/);
  });
});

describe('timeline', () => {
  it('takes each second from the difference of cumulative figures, its p99 from the bucket difference', () => {
    const h = new Histogram();
    const t = new TimelineBuilder();
    for (let i = 0; i < 100; i++) h.record(1000);
    expect(t.observe(500, { requests: 100, errors: 0, vus: 4, latency: h.toJSON() })).toBeUndefined();
    const first = t.observe(1000, { requests: 100, errors: 1, vus: 4, latency: h.toJSON() });
    expect(first).toMatchObject({ t: 1, rps: 100, vus: 4, errors: 1 });
    // 1 ms, to the bucket's precision (the high end of the bucket holding 1000 µs).
    expect(first!.p99).toBeGreaterThanOrEqual(1);
    expect(first!.p99).toBeLessThan(1.01);
    // The next second saw only slow requests: its p99 is theirs, not the run's.
    for (let i = 0; i < 50; i++) h.record(50_000);
    const second = t.observe(2000, { requests: 150, errors: 1, vus: 2, latency: h.toJSON() });
    expect(second?.rps).toBe(50);
    expect(second?.errors).toBe(0);
    expect(second?.p99).toBeCloseTo(50, 0);
    expect(t.observe(2500, { requests: 150, errors: 1, vus: 2, latency: h.toJSON() })).toBeUndefined();
    expect(t.points).toHaveLength(2);
    expect(bucketPercentile([], 8, 99)).toBeNull();
  });
});

describe('report', () => {
  it('derives rps, error rate, checks and generator CPU per 1,000 requests; ok needs every threshold', () => {
    const r = report();
    expect(r.rps).toBe(100);
    expect(r.errorRate).toBeCloseTo(0.01);
    expect(r.checks).toEqual({ ok: { pass: 9, fail: 1, rate: 0.9 } });
    expect(r.cpuMicrosPer1000Requests).toBe(50_000);
    expect(r.metrics.request).toMatchObject({ count: 3, min: 1, max: 3 });
    expect(Histogram.fromJSON(r.histograms.request!).count).toBe(3);
    expect(r.ok).toBe(true);
    expect(report({ thresholds: [{ expr: 'x', actual: null, ok: false }] }).ok).toBe(false);
    expect(report({ interrupted: true }).ok).toBe(false);
    expect(validateLoadReport(JSON.parse(JSON.stringify(r)))).toEqual(r);
  });

  it('refuses what is not a load report with LOAD_REPORT', () => {
    const code = { code: LoadErrorCode.Report };
    expect(() => validateLoadReport([])).toThrow(expect.objectContaining(code));
    expect(() => validateLoadReport({ ...report(), kind: 'bench' })).toThrow(expect.objectContaining(code));
    expect(() => validateLoadReport({ ...report(), schema: 2 })).toThrow(/schema/);
  });

  it('compares two reports figure by figure with ratios and verdicts', () => {
    const before = report();
    const after = report({
      merged: merged([500, 1000, 1500], { requests: 2000, errors: 0 }),
    });
    const rows = Object.fromEntries(compareLoadReports(before, after).map((r) => [r.figure, r]));
    expect(rows['requests/s']).toMatchObject({ old: 100, new: 200, ratio: 2, verdict: 'better' });
    expect(rows['error rate']).toMatchObject({ new: 0, verdict: 'better' });
    expect(rows['request p50']?.verdict).toBe('better');
    expect(rows['iteration p99']?.verdict).toBe('n/a');
    expect(renderLoadComparison(before, after)).toMatch(
      /requests\/s\s+100 req\/s\s+200 req\/s\s+2\.00×\s+better/,
    );
  });

  it('renders the summary and a self-contained HTML page', () => {
    const r = report({ timeline: [{ t: 1, rps: 100, p99: 3, vus: 4, errors: 0 }] });
    expect(renderLoadSummary(r)).toContain('ok   p99 < 200ms  (actual 3.00)');
    const html = renderLoadHtml(r);
    expect(html.match(/<svg/g)?.length).toBeGreaterThanOrEqual(4);
    expect(html).not.toMatch(/<script src|https?:\/\/(?!127\.0\.0\.1|www\.w3\.org)/);
  });
});

describe('progress line', () => {
  const p = {
    elapsedMs: 3000,
    durationMs: 10_000,
    vus: 8,
    requests: 200,
    rps: 66.7,
    p99: 4.2,
    errors: 2,
    dropped: 0,
    nodes: 2,
    lostNodes: 1,
  };

  it('shows time, VUs, throughput, p99, errors and nodes in one line', () => {
    expect(formatProgress(p)).toBe(
      'load 3s/10s · vus 8 · req 200 · 66.7 req/s · p99 4.20ms · errors 2 (1.00%) · nodes 2 (1 lost)',
    );
  });

  it('rewrites one line on a terminal, and prints one line per update elsewhere', () => {
    const tty: string[] = [];
    const live = createProgressLine({ isTTY: true, write: (s) => tty.push(s) });
    live.update(p);
    live.update(p);
    live.close();
    expect(tty[0]?.startsWith('\r\x1b[K')).toBe(true);
    expect(tty.at(-1)).toBe('\n');
    const plain: string[] = [];
    const log = createProgressLine({ write: (s) => plain.push(s) });
    log.update(p);
    log.note('lost node b');
    expect(plain).toEqual([`${formatProgress(p)}\n`, 'lost node b\n']);
  });
});
