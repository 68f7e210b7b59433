// The `troupe bench` command as a user runs it: a quick run with reports, every scenario's wiring, --compare, usage.
// No test here asserts a timing: only that the runs complete and their reports are well formed.

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateReport } from '../../bench/report.js';
import { SCENARIOS } from '../../bench/scenarios/index.js';
import { type ServerProcess, startNats } from '../../testing/index.js';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../../bin/troupe.js', import.meta.url));

async function troupe(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, 'bench', ...args], { timeout: 90_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

let dir: string;
let nats: ServerProcess;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'troupe-bench-e2e-'));
  nats = await startNats({ jetstream: false });
});
afterAll(async () => {
  await nats.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('troupe bench', () => {
  it('runs local-tell quickly and writes a valid JSON and HTML report', async () => {
    const json = join(dir, 'local.json');
    const html = join(dir, 'local.html');
    const { code, stdout, stderr } = await troupe([
      'local-tell',
      '--quick',
      '--repeat',
      '1',
      '--count',
      '20000',
      '--json',
      json,
      '--html',
      html,
    ]);
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/local-tell\s+tell throughput/);
    expect(stderr).toContain('local-tell');
    const report = validateReport(JSON.parse(readFileSync(json, 'utf8')));
    expect(report.scenarios.map((s) => s.name)).toEqual(['local-tell']);
    const metric = report.scenarios[0]!.metrics[0]!;
    expect(metric.troupe.samples).toHaveLength(1);
    expect(metric.baseline?.samples).toHaveLength(1);
    expect(metric.target?.ratio).toBe(0.25);
    expect(readFileSync(html, 'utf8')).toContain('data-scenario="local-tell"');
  });

  it('wires the other scenarios end to end, with 1-2 sender and 2 receiver processes for nats-tell', async () => {
    const json = join(dir, 'all.json');
    // The scenarios of the benchmark-suite issue; scenarios added later smoke-test themselves the same way.
    const names = ['local-ask', 'fanout-10k', 'spawn', 'nats-tell', 'nats-ask-latency', 'nats-ask-pipelined'];
    const { code, stderr } = await troupe([
      ...names,
      '--quick',
      '--repeat',
      '1',
      '--count',
      '2000',
      '--round-ms',
      '2000',
      '--clients',
      '1,2',
      '--nodes',
      '2',
      '--nats',
      nats.url,
      '--json',
      json,
    ]);
    expect(code, stderr).toBe(0);
    const report = validateReport(JSON.parse(readFileSync(json, 'utf8')));
    expect(report.settings.nats).toBe('external');
    expect(report.scenarios.map((s) => s.name)).toEqual(names);
    for (const s of report.scenarios) {
      expect(s.error, s.name).toBeNull();
      for (const m of s.metrics) expect(m.troupe.samples, `${s.name} ${m.id}`).toHaveLength(1);
    }
    const tell = report.scenarios.find((s) => s.name === 'nats-tell')!;
    expect(tell.metrics.map((m) => m.processes)).toEqual([
      { clients: 1, nodes: 2 },
      { clients: 2, nodes: 2 },
    ]);
    const latency = report.scenarios.find((s) => s.name === 'nats-ask-latency')!.latency;
    expect(latency?.troupe.count).toBe(2000);
    expect(latency?.baseline?.count).toBe(2000);
  }, 90_000); // six scenarios with their processes: once past 30 s under a parallel suite on a loaded machine

  it('wires the task scenarios with 1 and 2 worker processes, and agent-fleet, on a private Redis', async () => {
    const json = join(dir, 'tasks.json');
    const { code, stderr } = await troupe([
      'tasks-throughput',
      'agent-fleet',
      '--quick',
      '--repeat',
      '1',
      '--count',
      '400',
      '--round-ms',
      '2000',
      '--nodes',
      '1,2',
      '--nats',
      nats.url,
      '--json',
      json,
    ]);
    expect(code, stderr).toBe(0);
    const report = validateReport(JSON.parse(readFileSync(json, 'utf8')));
    expect(report.scenarios.map((s) => s.name)).toEqual(['tasks-throughput', 'agent-fleet']);
    for (const s of report.scenarios) {
      expect(s.error, s.name).toBeNull();
      for (const m of s.metrics) {
        expect(m.troupe.samples, `${s.name} ${m.id}`).toHaveLength(1);
        expect(m.baseline?.samples, `${s.name} ${m.id}`).toHaveLength(1);
      }
    }
    const tasks = report.scenarios[0]!;
    expect(tasks.metrics.map((m) => [m.id, m.processes])).toEqual([
      ['throughput', { clients: 1, nodes: 1 }],
      ['throughput-1x2', { clients: 1, nodes: 2 }],
    ]);
    const fleet = report.scenarios[1]!;
    expect(fleet.metrics.map((m) => m.id)).toEqual(['throughput', 'p50', 'p90', 'p99']);
    expect(fleet.latency?.troupe.count).toBe(400);
    expect(fleet.latency?.baseline?.count).toBe(400);
  });

  it('compares two reports and flags a drop with exit code 1', async () => {
    const base = JSON.parse(readFileSync(join(dir, 'local.json'), 'utf8'));
    const worse = structuredClone(base);
    const m = worse.scenarios[0].metrics[0];
    m.troupe = { ...m.troupe, median: m.troupe.median / 2, min: m.troupe.min / 2, max: m.troupe.max / 2 };
    writeFileSync(join(dir, 'worse.json'), JSON.stringify(worse));
    const same = await troupe(['--compare', join(dir, 'local.json'), join(dir, 'local.json')]);
    expect(same.code).toBe(0);
    expect(same.stdout).toContain('no figure dropped beyond its spread');
    const dropped = await troupe(['--compare', join(dir, 'local.json'), join(dir, 'worse.json')]);
    expect(dropped.code).toBe(1);
    expect(dropped.stdout).toContain('DROP');
    expect(dropped.stdout).toContain('-50.0%');
  });

  it('prints usage, lists scenarios, and refuses bad input with exit code 2', async () => {
    const help = await troupe(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--compare OLD NEW');
    const list = await troupe(['--list']);
    for (const s of SCENARIOS) expect(list.stdout).toContain(s.name);
    const unknown = await troupe(['no-such-scenario']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown scenario "no-such-scenario"');
    const bad = await troupe(['--repeat', '0']);
    expect(bad.code).toBe(2);
    const notReport = join(dir, 'not-a-report.json');
    writeFileSync(notReport, '{"schemaVersion": 99}');
    const invalid = await troupe(['--compare', notReport, notReport]);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toContain('schemaVersion');
  });
});
