// Unit tests of benchmark reporting: aggregation, the JSON schema, --compare, the table, the HTML page, the runner.

import { describe, expect, it } from 'vitest';
import { compareReports, renderComparison } from '../../bench/compare.js';
import { BenchError, BenchErrorCode } from '../../bench/errors.js';
import { Histogram } from '../../bench/histogram.js';
import { renderHtml } from '../../bench/html.js';
import { createProgress } from '../../bench/progress.js';
import {
  type BenchReport,
  machineInfo,
  REPORT_SCHEMA_VERSION,
  type ScenarioReport,
  summarizeLatency,
  summarizeMetrics,
  validateReport,
} from '../../bench/report.js';
import { runScenarios } from '../../bench/runner.js';
import type { MetricSpec, RoundResult, Scenario } from '../../bench/scenario.js';
import { renderTable } from '../../bench/table.js';

const THROUGHPUT: MetricSpec = {
  id: 'throughput',
  label: 'tell throughput',
  unit: 'msg/s',
  kind: 'throughput',
  better: 'higher',
  target: 0.5,
};
const P50: MetricSpec = {
  id: 'p50',
  label: 'p50',
  unit: 'µs',
  kind: 'latency',
  better: 'lower',
  target: 1.2,
};

function rounds(troupe: number[], baseline: number[], id = 'throughput'): RoundResult[] {
  return troupe.map((t, i) => ({ figures: { [id]: { troupe: t, baseline: baseline[i]! } } }));
}

function histogramOf(values: number[]): Histogram {
  const h = new Histogram();
  for (const v of values) h.record(v);
  return h;
}

/** A report shaped like a real run, from per-scenario throughput samples. */
function report(samples: Record<string, number[]>, extra: Partial<BenchReport> = {}): BenchReport {
  const scenarios: ScenarioReport[] = Object.entries(samples).map(([name, values]) => ({
    name,
    description: `the ${name} scenario`,
    durationMs: 1234,
    error: null,
    metrics: summarizeMetrics(
      [THROUGHPUT],
      rounds(
        values,
        values.map(() => 100),
      ),
    ),
    latency: null,
  }));
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    tool: 'troupe-bench',
    date: '2025-01-01T00:00:00.000Z',
    machine: machineInfo(),
    settings: {
      quick: true,
      repeat: 3,
      roundMs: 1500,
      count: null,
      clients: [1],
      nodes: [1],
      nats: null,
      redis: null,
    },
    scenarios,
    ...extra,
  };
}

describe('aggregation', () => {
  it('takes medians and spreads over repeats, and judges the ratio against the target', () => {
    const [m] = summarizeMetrics([THROUGHPUT], rounds([40, 60, 50], [100, 100, 90]));
    expect(m!.troupe).toMatchObject({ median: 50, min: 40, max: 60, samples: [40, 60, 50] });
    expect(m!.baseline?.median).toBe(100);
    expect(m!.ratio).toBe(0.5);
    expect(m!.target).toEqual({ ratio: 0.5, comparison: '>=', met: true });
    const [slow] = summarizeMetrics([THROUGHPUT], rounds([10], [100]));
    expect(slow!.target?.met).toBe(false);
  });

  it('uses <= for lower-is-better targets, and null without a baseline', () => {
    const [lat] = summarizeMetrics([P50], rounds([130], [100], 'p50'));
    expect(lat!.target).toEqual({ ratio: 1.2, comparison: '<=', met: false });
    const [none] = summarizeMetrics([THROUGHPUT], [{ figures: { throughput: { troupe: 5 } } }]);
    expect(none!.baseline).toBeNull();
    expect(none!.ratio).toBeNull();
    expect(none!.target).toBeNull();
  });

  it('merges latency histograms of all rounds into µs percentiles', () => {
    const lat = summarizeLatency([
      { figures: {}, latency: { troupe: histogramOf([1000, 2000]), baseline: histogramOf([500]) } },
      { figures: {}, latency: { troupe: histogramOf([3000]), baseline: histogramOf([700]) } },
    ]);
    expect(lat?.troupe).toMatchObject({ count: 3, min: 1, max: 3 });
    // Within the histogram's bucket error (< 0.8 %) above the exact 2 µs.
    expect(lat!.troupe.p50).toBeGreaterThanOrEqual(2);
    expect(lat!.troupe.p50).toBeLessThan(2.02);
    expect(lat?.baseline?.count).toBe(2);
    expect(summarizeLatency([{ figures: {} }])).toBeNull();
  });
});

describe('JSON schema', () => {
  it('round-trips through JSON and validates, NaN figures included', () => {
    const r = report({ 'local-tell': [40, 50, 60] });
    r.scenarios.push({
      name: 'broken',
      description: 'failed early',
      durationMs: 1,
      error: 'boom',
      metrics: summarizeMetrics([THROUGHPUT], []),
      latency: null,
    });
    const back = validateReport(JSON.parse(JSON.stringify(r)));
    expect(back.schemaVersion).toBe(1);
    expect(back.machine.cpus).toBeGreaterThan(0);
    expect(back.machine.node).toBe(process.version);
    expect(back.scenarios[0]!.metrics[0]).toMatchObject({ id: 'throughput', ratio: 0.5 });
  });

  it('rejects other versions and malformed fields, naming them', () => {
    const good = JSON.parse(JSON.stringify(report({ a: [1] })));
    const cases: Array<[(r: Record<string, unknown>) => void, string]> = [
      [(r) => (r.schemaVersion = 2), 'schemaVersion'],
      [(r) => (r.date = 'yesterday'), 'date'],
      [(r) => delete r.machine, 'machine'],
      [(r) => ((r.scenarios as Array<Record<string, unknown>>)[0]!.metrics = 'x'), 'scenarios[0].metrics'],
      [
        (r) =>
          ((
            (r.scenarios as Array<Record<string, unknown>>)[0]!.metrics as Array<Record<string, unknown>>
          )[0]!.better = 'more'),
        'better',
      ],
    ];
    for (const [mutate, field] of cases) {
      const copy = structuredClone(good);
      mutate(copy);
      try {
        validateReport(copy);
        expect.unreachable(field);
      } catch (err) {
        expect(BenchError.is(err, BenchErrorCode.InvalidReport)).toBe(true);
        expect((err as Error).message).toContain(field);
      }
    }
    expect(() => validateReport([])).toThrow(BenchError);
  });
});

describe('--compare', () => {
  it('flags drops beyond the spread, not moves within it', () => {
    const before = report({
      steady: [95, 100, 105],
      dropped: [98, 100, 102],
      improved: [98, 100, 102],
      gone: [1],
    });
    const after = report({
      steady: [90, 97, 104],
      dropped: [60, 70, 75],
      improved: [150, 160, 170],
      added: [5],
    });
    const rows = compareReports(before, after);
    const verdict = (s: string) => rows.find((r) => r.scenario === s)?.verdict;
    expect(verdict('steady')).toBe('unchanged');
    expect(verdict('dropped')).toBe('regression');
    expect(verdict('improved')).toBe('improvement');
    expect(verdict('added')).toBe('added');
    expect(verdict('gone')).toBe('removed');
    expect(rows.find((r) => r.scenario === 'dropped')?.change).toBeCloseTo(-0.3, 10);
    const text = renderComparison(rows, before, after);
    expect(text).toContain('DROP');
    expect(text).toContain('1 figure dropped beyond the spread: dropped throughput');
  });

  it('treats a higher latency as the drop', () => {
    const mk = (v: number): BenchReport => {
      const r = report({});
      r.scenarios = [
        {
          name: 'lat',
          description: '',
          durationMs: 1,
          error: null,
          metrics: summarizeMetrics([P50], rounds([v, v, v], [100, 100, 100], 'p50')),
          latency: null,
        },
      ];
      return r;
    };
    expect(compareReports(mk(100), mk(150))[0]!.verdict).toBe('regression');
    expect(compareReports(mk(150), mk(100))[0]!.verdict).toBe('improvement');
    expect(compareReports(mk(100), mk(101))[0]!.verdict).toBe('unchanged');
  });
});

describe('table and HTML', () => {
  it('prints one row per figure with ratio and target', () => {
    const text = renderTable(report({ 'local-tell': [40, 50, 60], 'nats-tell': [10] }));
    expect(text).toContain('local-tell');
    expect(text).toContain('0.50×');
    expect(text).toContain('>= 0.5 met');
    expect(text).toContain('>= 0.5 MISSED');
  });

  it('renders a self-contained page naming every scenario, with latency and scaling charts', () => {
    const r = report({ 'local-tell': [40, 50, 60], 'fanout-10k': [70, 80, 90] });
    r.scenarios.push({
      name: 'nats-ask-latency',
      description: 'asks <over> "NATS" & more',
      durationMs: 10,
      error: null,
      metrics: summarizeMetrics([P50], rounds([130], [100], 'p50')),
      latency: summarizeLatency([
        {
          figures: {},
          latency: { troupe: histogramOf([100_000, 200_000]), baseline: histogramOf([90_000]) },
        },
      ]),
    });
    r.scenarios.push({
      name: 'nats-tell',
      description: 'across processes',
      durationMs: 10,
      error: 'worker died',
      metrics: summarizeMetrics(
        [
          { ...THROUGHPUT, processes: { clients: 1, nodes: 1 } },
          { ...THROUGHPUT, id: 'throughput-2x1', processes: { clients: 2, nodes: 1 } },
        ],
        [
          {
            figures: {
              throughput: { troupe: 50, baseline: 100 },
              'throughput-2x1': { troupe: 90, baseline: 180 },
            },
          },
        ],
      ),
      latency: null,
    });
    const html = renderHtml(r);
    for (const s of r.scenarios) expect(html).toContain(`data-scenario="${s.name}"`);
    expect(html).toContain('asks &lt;over&gt; &quot;NATS&quot; &amp; more');
    expect(html).toContain('Latency percentiles');
    expect(html).toContain('Scaling with processes');
    expect(html).toContain('failed: worker died');
    expect(html.match(/<svg /g)?.length).toBeGreaterThan(5);
    // Self-contained: nothing is fetched from anywhere.
    expect(html).not.toMatch(/\s(src|href)="(https?:)?\/\//);
    expect(html).not.toMatch(/<link\b/);
  });
});

describe('progress', () => {
  it('prints plain lines when stderr is not a terminal, and rewrites one line on a terminal', () => {
    const plain: string[] = [];
    const p = createProgress({ isTTY: false, write: (t) => plain.push(t) });
    p.scenario('local-tell', 1, 2);
    p.detail('round 1/3');
    p.line('done');
    p.close();
    expect(plain.join('')).toBe('[1/2] local-tell: starting\n[1/2] local-tell: round 1/3\ndone\n');
    const live: string[] = [];
    const t = createProgress({ isTTY: true, write: (s) => live.push(s) });
    t.scenario('local-tell', 1, 1);
    t.detail('round 1/3');
    t.close();
    expect(live.some((s) => s.startsWith('\r\x1b[K[1/1] local-tell round 1/3'))).toBe(true);
    expect(live.at(-1)).toBe('\r\x1b[K');
  });
});

describe('runner', () => {
  const silent = createProgress({ isTTY: false, write: () => undefined });

  it('warms up once, measures `repeat` rounds, closes the session and reports', async () => {
    const calls: string[] = [];
    let n = 0;
    const fake: Scenario = {
      name: 'fake',
      description: 'a fake scenario for the runner',
      needs: [],
      metrics: () => [THROUGHPUT],
      async open(ctx) {
        calls.push(`open count=${ctx.count(10, 100)}`);
        return {
          async round(budget) {
            calls.push(`round warmup=${budget.warmup} count=${ctx.count(10, 100, budget)}`);
            expect(budget.deadline()).toBeGreaterThan(Date.now());
            n++;
            return { figures: { throughput: { troupe: budget.warmup ? 1e9 : n, baseline: 10 } } };
          },
          async close() {
            calls.push('close');
          },
        };
      },
    };
    const [r] = await runScenarios({
      scenarios: [fake],
      settings: { quick: true, count: undefined, clients: [1], nodes: [1] },
      repeat: 3,
      roundMs: 100,
      natsUrl: undefined,
      redisUrl: undefined,
      progress: silent,
    });
    expect(calls).toEqual([
      'open count=10',
      'round warmup=true count=2',
      'round warmup=false count=10',
      'round warmup=false count=10',
      'round warmup=false count=10',
      'close',
    ]);
    expect(r!.error).toBeNull();
    expect(r!.metrics[0]!.troupe.samples).toEqual([2, 3, 4]);
  });

  it('records a failing scenario, closes it and goes on with the next', async () => {
    let closed = false;
    const failing: Scenario = {
      name: 'failing',
      description: 'fails in its second round',
      needs: [],
      metrics: () => [THROUGHPUT],
      async open() {
        let rounds = 0;
        return {
          async round() {
            if (++rounds === 2) throw new Error('boom');
            return { figures: { throughput: { troupe: 1 } } };
          },
          async close() {
            closed = true;
          },
        };
      },
    };
    const ok: Scenario = {
      ...failing,
      name: 'ok',
      open: async () => ({ round: async () => ({ figures: {} }), close: async () => {} }),
    };
    const reports = await runScenarios({
      scenarios: [failing, ok],
      settings: { quick: true, count: 5, clients: [1], nodes: [1] },
      repeat: 2,
      roundMs: 100,
      natsUrl: undefined,
      redisUrl: undefined,
      progress: silent,
    });
    expect(reports.map((r) => r.error)).toEqual(['boom', null]);
    expect(closed).toBe(true);
  });
});
