// Unit tests of the benchmark wiring: the scenario registry, the command-line options and the load loops.

import { describe, expect, it } from 'vitest';
import { BenchError, BenchErrorCode } from '../../bench/errors.js';
import { pipelined, wallNow } from '../../bench/load.js';
import { parseBenchArgs, resolveBenchOptions } from '../../bench/options.js';
import { RingQueue } from '../../bench/ring-queue.js';
import type { ScenarioSettings } from '../../bench/scenario.js';
import { findScenario, SCENARIOS, selectScenarios } from '../../bench/scenarios/index.js';
import { layoutMetricId, receiverShare, senderShare } from '../../bench/scenarios/nats-tell.js';
import { prefixes, tasksMetricId, workerCounts } from '../../bench/scenarios/tasks-throughput.js';

const settings: ScenarioSettings = { quick: true, count: undefined, clients: [1, 2], nodes: [1, 3] };

describe('scenario registry', () => {
  it('holds the required scenarios with unique kebab-case names', () => {
    const names = SCENARIOS.map((s) => s.name);
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(name).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
    for (const required of [
      'local-tell',
      'local-ask',
      'fanout-10k',
      'nats-tell',
      'nats-ask-latency',
      'nats-ask-pipelined',
      'spawn',
    ]) {
      expect(names).toContain(required);
    }
  });

  it('gives every scenario a description, known server needs and well-formed metrics', () => {
    for (const s of SCENARIOS) {
      expect(s.description.length).toBeGreaterThan(10);
      for (const need of s.needs) expect(['nats', 'redis']).toContain(need);
      const metrics = s.metrics(settings);
      expect(metrics.length).toBeGreaterThan(0);
      expect(new Set(metrics.map((m) => m.id)).size).toBe(metrics.length);
      for (const m of metrics) {
        expect(['higher', 'lower']).toContain(m.better);
        expect(['throughput', 'latency', 'rate', 'memory']).toContain(m.kind);
        if (m.target !== undefined) expect(m.target).toBeGreaterThan(0);
      }
      for (const factory of Object.values(s.roles ?? {})) expect(typeof factory).toBe('function');
    }
  });

  it('sets the targets the issues ask for', () => {
    const target = (name: string, id: string) =>
      findScenario(name)
        .metrics(settings)
        .find((m) => m.id === id)?.target;
    expect(target('local-tell', 'throughput')).toBe(0.25);
    expect(target('nats-tell', 'throughput')).toBe(0.5);
    expect(target('nats-ask-latency', 'p50')).toBe(1.2);
    expect(target('nats-ask-pipelined', 'throughput')).toBe(0.7);
    expect(target('tasks-throughput', 'throughput')).toBe(0.85);
  });

  it('reports one tasks-throughput figure per worker-process count, the target on one worker only', () => {
    const metrics = findScenario('tasks-throughput').metrics({ ...settings, nodes: [2, 1, 2] });
    expect(metrics.map((m) => m.id)).toEqual(['throughput', 'throughput-1x2']);
    expect(metrics.map((m) => m.processes)).toEqual([
      { clients: 1, nodes: 1 },
      { clients: 1, nodes: 2 },
    ]);
    expect(metrics.map((m) => m.target)).toEqual([0.85, undefined]);
    expect(workerCounts({ ...settings, nodes: [3, 1] })).toEqual([1, 3]);
    expect(tasksMetricId(4)).toBe('throughput-1x4');
    // Each process count has its own queues, troupe and baseline apart; one worker keeps the historical names.
    const keys = [1, 2].flatMap((n) => Object.values(prefixes('ns/x', n)));
    expect(new Set(keys).size).toBe(4);
    expect(prefixes('ns/x', 1)).toEqual({ troupe: 'ns-x-troupe', baseline: 'ns-x-bullmq' });
  });

  it('wires agent-fleet: NATS and Redis, throughput and latency figures without targets, fleet and worker roles', () => {
    const fleet = findScenario('agent-fleet');
    expect(SCENARIOS).toContain(fleet);
    expect([...fleet.needs].sort()).toEqual(['nats', 'redis']);
    const metrics = fleet.metrics(settings);
    expect(metrics.map((m) => [m.id, m.unit, m.kind, m.better])).toEqual([
      ['throughput', 'req/s', 'throughput', 'higher'],
      ['p50', 'µs', 'latency', 'lower'],
      ['p90', 'µs', 'latency', 'lower'],
      ['p99', 'µs', 'latency', 'lower'],
    ]);
    for (const m of metrics) expect(m.target).toBeUndefined();
    expect(Object.keys(fleet.roles ?? {}).sort()).toEqual(['fleet', 'worker']);
  });

  it('reports one nats-tell figure per sender × receiver layout, tagged with its processes', () => {
    const metrics = findScenario('nats-tell').metrics(settings);
    expect(metrics.map((m) => m.id)).toEqual([
      'throughput',
      'throughput-1x3',
      'throughput-2x1',
      'throughput-2x3',
    ]);
    expect(metrics[3]!.processes).toEqual({ clients: 2, nodes: 3 });
    expect(layoutMetricId({ clients: 1, nodes: 1 })).toBe('throughput');
  });

  it('splits load evenly over senders and receivers without losing a message', () => {
    for (const [total, clients, nodes] of [
      [100, 3, 2],
      [7, 4, 3],
      [1, 2, 2],
    ] as const) {
      const shares = Array.from({ length: clients }, (_, i) => senderShare(total, clients, i));
      expect(shares.reduce((a, b) => a + b, 0)).toBe(total);
      const perNode = Array.from({ length: nodes }, (_, j) =>
        shares.reduce((sum, c) => sum + receiverShare(c, nodes, j), 0),
      );
      expect(perNode.reduce((a, b) => a + b, 0)).toBe(total);
    }
  });

  it('selects scenarios in registry order and refuses unknown ones with a code', () => {
    expect(selectScenarios([]).length).toBe(SCENARIOS.length);
    expect(selectScenarios(['nats-tell', 'local-tell', 'local-tell']).map((s) => s.name)).toEqual([
      'local-tell',
      'nats-tell',
    ]);
    try {
      selectScenarios(['nope']);
      expect.unreachable();
    } catch (err) {
      expect(BenchError.is(err, BenchErrorCode.UnknownScenario)).toBe(true);
      expect((err as Error).message).toContain('local-tell');
    }
  });
});

describe('bench options', () => {
  it('parses scenarios, flags, lists and --compare with two files', () => {
    const parsed = parseBenchArgs([
      'local-tell',
      '--quick',
      '--repeat',
      '4',
      '--json',
      'out.json',
      '--clients',
      '2,1',
      '--nodes',
      '3',
      '--nats',
      'nats://127.0.0.1:4222',
    ]);
    expect(parsed).toMatchObject({
      scenarios: ['local-tell'],
      quick: true,
      repeat: 4,
      json: 'out.json',
      clients: [2, 1],
      nodes: [3],
      nats: 'nats://127.0.0.1:4222',
    });
    expect(parseBenchArgs(['--compare', 'a.json', 'b.json']).compare).toEqual(['a.json', 'b.json']);
  });

  it('applies quick and full defaults without mutating the input', () => {
    const input = { quick: true };
    const quick = resolveBenchOptions(input);
    expect(input).toEqual({ quick: true });
    expect(quick).toMatchObject({ repeat: 2, roundMs: 1500, clients: [1], nodes: [1] });
    const full = resolveBenchOptions({});
    expect(full).toMatchObject({ repeat: 3, roundMs: 5000, clients: [1, 2], nodes: [1, 2] });
    expect(resolveBenchOptions({ clients: [2, 1, 2] }).clients).toEqual([1, 2]);
  });

  it('names the bad field', () => {
    const bad: Array<[() => unknown, string]> = [
      [() => resolveBenchOptions({ repeat: 0 }), '--repeat'],
      [() => resolveBenchOptions({ clients: [0] }), '--clients'],
      [() => resolveBenchOptions({ nats: 'http://x' }), '--nats'],
      [() => parseBenchArgs(['--compare', 'only.json']), '--compare'],
      [() => parseBenchArgs(['--repeat', 'x']), '--repeat'],
      [() => parseBenchArgs(['--frobnicate']), 'command line'],
    ];
    for (const [fn, field] of bad) {
      try {
        fn();
        expect.unreachable(field);
      } catch (err) {
        expect(BenchError.is(err, BenchErrorCode.InvalidOptions)).toBe(true);
        expect((err as Error).message).toContain(field);
      }
    }
  });
});

describe('load loops', () => {
  it('keeps at most `window` operations in flight and runs exactly `total`', async () => {
    let inFlight = 0;
    let peak = 0;
    const r = await pipelined({
      total: 1000,
      window: 16,
      deadline: wallNow() + 60_000,
      issue: async () => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        await Promise.resolve();
        inFlight--;
      },
    });
    expect(r.completed).toBe(1000);
    expect(r.failed).toBe(0);
    expect(peak).toBe(16);
  });

  it('stops starting operations once the deadline has passed, and counts failures', async () => {
    const r = await pipelined({
      total: 1_000_000,
      window: 4,
      deadline: wallNow() - 1,
      issue: (i) => (i % 2 === 0 ? Promise.resolve() : Promise.reject(new Error(`op ${i}`))),
    });
    expect(r.completed + r.failed).toBeLessThan(200);
    expect(r.failed).toBeGreaterThan(0);
    expect((r.firstError as Error).message).toMatch(/^op /);
  });

  it('ring queue keeps FIFO order through growth', () => {
    const q = new RingQueue<number>(2);
    const out: number[] = [];
    let next = 0;
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 5; i++) q.push(next++);
      for (let i = 0; i < 3; i++) out.push(q.shift()!);
    }
    while (q.length > 0) out.push(q.shift()!);
    expect(out).toEqual(Array.from({ length: next }, (_, i) => i));
    expect(q.shift()).toBeUndefined();
  });
});
