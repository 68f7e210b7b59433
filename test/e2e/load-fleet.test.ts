// `troupe load run --nats` over two `troupe node --role load` processes on a test nats-server, against a local
// HTTP server: the merged percentiles equal those of one histogram of every sample of both nodes, a node
// killed mid-run has its VUs moved to the survivor while the run completes, a nats-server restart is ridden out,
// Ctrl-C stops every node's VUs, and the nodes of a coordinator that died stop by themselves.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Histogram } from '../../bench/index.js';
import type { LoadReport } from '../../load/index.js';
import { type ServerProcess, startNats } from '../../testing/index.js';
import { until } from '../helpers/fixtures.js';
import {
  type CliProcess,
  type CountingServer,
  httpFixture,
  kill,
  startCountingServer,
  troupe,
} from './fixtures/load-helpers.js';

let nats: ServerProcess;
let server: CountingServer;
let dir: string;
const running: CliProcess[] = [];

beforeAll(async () => {
  nats = await startNats({ jetstream: false });
  dir = mkdtempSync(join(tmpdir(), 'troupe-load-fleet-'));
});
afterAll(async () => {
  await nats?.stop();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(async () => {
  for (const p of running.splice(0)) kill(p);
  await server?.close();
});

/** Starts a load node; resolves once it is on NATS. */
async function loadNode(
  id: string,
  ns: string,
  env: Record<string, string>,
  extra: string[] = [],
): Promise<CliProcess> {
  const p = troupe(
    ['node', '--role', 'load', '--nats', nats.url, '--namespace', ns, '--node-id', id, ...extra],
    env,
  );
  running.push(p);
  await Promise.race([
    until(() => p.stdout().includes(`actors on NATS as ${id}`), 20_000, `load node ${id}`),
    p.exited.then((code) => {
      throw new Error(`load node ${id} exited (${code}): ${p.stderr()}`);
    }),
  ]);
  return p;
}

const readReport = (path: string): LoadReport => JSON.parse(readFileSync(path, 'utf8')) as LoadReport;

describe('troupe load run over a fleet of load nodes', () => {
  it('merges the nodes histograms exactly: the percentiles of one histogram of all the samples', async () => {
    server = await startCountingServer();
    const ns = `l${randomBytes(3).toString('hex')}`;
    const samples = join(dir, 'samples');
    const env = {
      LOAD_TARGET_URL: server.url,
      LOAD_RATE: '300',
      LOAD_DURATION_MS: '3000',
      LOAD_VUS: '20',
      TROUPE_LOAD_SAMPLES_DIR: samples,
    };
    // Node la also exports its figures over OpenTelemetry (--metrics-port) while the run goes on.
    const [la] = await Promise.all([
      loadNode('la', ns, env, ['--metrics-port', '0', '--log-level', 'info']),
      loadNode('lb', ns, env),
    ]);
    const metricsUrl = /metrics (http:\/\/127\.0\.0\.1:\d+)/.exec(la.stderr())?.[1];
    expect(metricsUrl, la.stderr()).toBeDefined();
    const json = join(dir, 'fleet.json');
    const p = troupe(
      [
        'load',
        'run',
        httpFixture,
        '--nats',
        nats.url,
        '--namespace',
        ns,
        '--nodes',
        '2',
        '--json',
        json,
        '--quiet',
      ],
      env,
    );
    running.push(p);
    expect(await p.exited, p.stderr()).toBe(0);
    const report = readReport(json);
    expect(report.nodes.map((n) => n.id).sort()).toEqual(['la', 'lb']);
    for (const n of report.nodes) expect(n.requests).toBeGreaterThan(0);
    // 300/s for 3 s over two nodes: 900 iterations, each sent once (within 1%: the last one is due at the end).
    expect(Math.abs(server.hits.length - 900)).toBeLessThanOrEqual(9);
    expect(report.counters.requests).toBe(server.hits.length);

    // One histogram of every sample both nodes recorded, rebuilt from their sample files.
    const files = readdirSync(samples).filter((f) => f.startsWith(report.runId));
    expect(files).toHaveLength(2);
    const merged = report.histograms.request!;
    const all = new Histogram({ bits: merged.bits });
    for (const f of files)
      for (const line of readFileSync(join(samples, f), 'utf8').split('\n'))
        if (line !== '') all.record(Number(line));
    expect(all.count).toBe(report.counters.requests);
    const fromReport = Histogram.fromJSON(merged);
    for (const p of [50, 90, 99, 99.9]) expect(fromReport.percentile(p)).toBe(all.percentile(p));
    expect(report.metrics.request!.p50 * 1000).toBeCloseTo(all.percentile(50), 6);
    expect(report.metrics.request!.p99 * 1000).toBeCloseTo(all.percentile(99), 6);
    expect(report.metrics.request!.p999 * 1000).toBeCloseTo(all.percentile(99.9), 6);
    expect(fromReport.min).toBe(all.min);
    expect(fromReport.max).toBe(all.max);

    // The OpenTelemetry histogram of node la counted every request it made.
    const exported = await (await fetch(`${metricsUrl}/metrics`)).text();
    const count = /troupe_load_latency_count\{troupe_load_metric="request"[^}]*\} (\d+)/.exec(exported)?.[1];
    expect(Number(count)).toBe(report.nodes.find((n) => n.id === 'la')!.requests);
  });

  it('moves the VUs of a node killed mid-run to the survivor, and completes with a report', async () => {
    server = await startCountingServer();
    const ns = `l${randomBytes(3).toString('hex')}`;
    const env = {
      LOAD_TARGET_URL: server.url,
      LOAD_EXECUTOR: 'vus',
      LOAD_VUS: '8',
      LOAD_DURATION_MS: '7000',
      LOAD_THINK_MS: '20',
    };
    const [, doomed] = await Promise.all([loadNode('ka', ns, env), loadNode('kb', ns, env)]);
    const json = join(dir, 'killed.json');
    const p = troupe(
      ['load', 'run', httpFixture, '--nats', nats.url, '--namespace', ns, '--nodes', '2', '--json', json],
      env,
    );
    running.push(p);
    await until(() => server.hits.length > 100, 20_000, 'load on the server');
    kill(doomed, 'SIGKILL');
    const killedAt = Date.now();
    expect(await p.exited, p.stderr()).toBe(0);
    const report = readReport(json);
    const survivor = report.nodes.find((n) => n.id === 'ka')!;
    const lost = report.nodes.find((n) => n.id === 'kb')!;
    expect(lost.lost).toBe(true);
    expect(survivor.lost).toBe(false);
    expect(survivor.initialSlots).toHaveLength(4);
    expect(survivor.slots).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(p.stderr()).toContain('lost node kb');
    // The survivor ran all eight VUs after the move: the timeline's seconds after the move show them.
    const start = Date.parse(report.startedAt);
    const after = report.timeline.filter((t) => start + t.t * 1000 > killedAt + 3500 && t.t * 1000 < 6500);
    expect(after.length).toBeGreaterThan(0);
    for (const t of after) expect(t.vus).toBe(8);
    expect(server.hits.filter((t) => t > killedAt + 3000).length).toBeGreaterThan(0);
  });

  it("Ctrl-C stops every node's VUs within a second; a SIGKILLed coordinator's nodes stop by themselves", async () => {
    server = await startCountingServer();
    const ns = `l${randomBytes(3).toString('hex')}`;
    const env = {
      LOAD_TARGET_URL: server.url,
      LOAD_EXECUTOR: 'vus',
      LOAD_VUS: '6',
      LOAD_DURATION_MS: '60000',
      LOAD_THINK_MS: '5',
    };
    const nodes = await Promise.all([loadNode('ca', ns, env), loadNode('cb', ns, env)]);
    const args = ['load', 'run', httpFixture, '--nats', nats.url, '--namespace', ns, '--nodes', '2'];
    const json = join(dir, 'interrupted.json');
    const p = troupe([...args, '--json', json], env);
    running.push(p);
    await until(() => server.hits.length > 200, 20_000, 'load on the server');
    const signalled = Date.now();
    p.child.kill('SIGINT');
    const code = await Promise.race([
      p.exited,
      new Promise((r) => setTimeout(() => r('still running'), 5000)),
    ]);
    expect(code, p.stderr()).toBe(130);
    await new Promise((r) => setTimeout(r, 1500));
    expect(server.hits.filter((t) => t > signalled + 1000)).toEqual([]);
    const report = readReport(json);
    expect(report.interrupted).toBe(true);
    expect(report.nodes.map((n) => n.id).sort()).toEqual(['ca', 'cb']);
    // The nodes stay up for the next run.
    for (const n of nodes) expect(n.child.exitCode).toBeNull();

    // A coordinator that cannot say stop (SIGKILL): each node's dead-man switch ends the run (5 s of silence).
    const orphaning = troupe(args, env);
    running.push(orphaning);
    const before = server.hits.length;
    await until(() => server.hits.length > before + 200, 20_000, 'load on the server again');
    kill(orphaning, 'SIGKILL');
    const killedAt = Date.now();
    await until(
      () => server.hits.length > 0 && server.hits.at(-1)! < Date.now() - 1000,
      15_000,
      'the nodes to stop on their own',
    );
    expect(server.hits.at(-1)! - killedAt).toBeLessThan(7000);
    for (const n of nodes) expect(n.child.exitCode).toBeNull();
  }, 90_000);

  it('rides out a nats-server restart mid-run: the nodes go on, the run completes with both nodes in its report', async () => {
    const own = await startNats({ jetstream: false });
    try {
      server = await startCountingServer();
      const ns = `l${randomBytes(3).toString('hex')}`;
      const env = {
        LOAD_TARGET_URL: server.url,
        LOAD_EXECUTOR: 'vus',
        LOAD_VUS: '4',
        LOAD_DURATION_MS: '8000',
        LOAD_THINK_MS: '10',
      };
      const start = (id: string) => {
        const p = troupe(
          ['node', '--role', 'load', '--nats', own.url, '--namespace', ns, '--node-id', id],
          env,
        );
        running.push(p);
        return until(() => p.stdout().includes(`actors on NATS as ${id}`), 20_000, `load node ${id}`);
      };
      await Promise.all([start('ra'), start('rb')]);
      const json = join(dir, 'restart.json');
      const p = troupe(
        ['load', 'run', httpFixture, '--nats', own.url, '--namespace', ns, '--nodes', '2', '--json', json],
        env,
      );
      running.push(p);
      await until(() => server.hits.length > 100, 20_000, 'load on the server');
      await own.restart(1000);
      const back = Date.now();
      expect(await p.exited, p.stderr()).toBe(0);
      const report = readReport(json);
      // A second without NATS is not a lost node: both keep their slots and their figures reach the report.
      expect(report.nodes.map((n) => [n.id, n.lost, n.slots])).toEqual([
        ['ra', false, [0, 2]],
        ['rb', false, [1, 3]],
      ]);
      expect(report.counters.requests).toBe(server.hits.length);
      expect(server.hits.filter((t) => t > back + 1000).length).toBeGreaterThan(0);
    } finally {
      await own.stop();
    }
  }, 90_000);

  it('fails with LOAD_NO_NODES (exit 2) when too few load nodes are on the namespace', async () => {
    server = await startCountingServer();
    const ns = `l${randomBytes(3).toString('hex')}`;
    const p = troupe(
      ['load', 'run', httpFixture, '--nats', nats.url, '--namespace', ns, '--nodes', '1', '--wait', '1500'],
      { LOAD_TARGET_URL: server.url },
    );
    running.push(p);
    expect(await p.exited).toBe(2);
    expect(p.stderr()).toContain('LOAD_NO_NODES');
    expect(p.stderr()).toContain('troupe node --role load');
  });
});
