// `troupe load run` as a process, embedded (no NATS), against a local HTTP server that counts requests: the
// arrival rate is held, thresholds set the exit code, Ctrl-C stops everything, reports are written and compared.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LoadReport } from '../../load/index.js';
import { startLlmServer } from '../../testing/index.js';
import { until } from '../helpers/fixtures.js';
import {
  type CliProcess,
  type CountingServer,
  httpFixture,
  kill,
  llmFixture,
  startCountingServer,
  troupe,
} from './fixtures/load-helpers.js';

let server: CountingServer;
let dir: string;
const running: CliProcess[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'troupe-load-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  for (const p of running.splice(0)) kill(p);
  await server?.close();
});

function run(args: string[], env: Record<string, string>): CliProcess {
  const p = troupe(['load', 'run', httpFixture, ...args], { LOAD_TARGET_URL: server.url, ...env });
  running.push(p);
  return p;
}

const readReport = (path: string): LoadReport => JSON.parse(readFileSync(path, 'utf8')) as LoadReport;

describe('troupe load run (embedded)', () => {
  it('holds a constant arrival rate within 1% of its target, and the report agrees with the server', async () => {
    server = await startCountingServer();
    const json = join(dir, 'rate.json');
    const p = run(['--json', json, '--quiet'], {
      LOAD_RATE: '200',
      LOAD_DURATION_MS: '5000',
      LOAD_VUS: '20',
      LOAD_THRESHOLDS: JSON.stringify(['dropped_iterations < 1', 'errors < 1%']),
    });
    expect(await p.exited, p.stderr()).toBe(0);
    // 200/s for 5 s: iterations 0..999 are scheduled at k × 5 ms, every one of them sent once.
    expect(server.hits).toHaveLength(1000);
    const report = readReport(json);
    expect(report.counters.iterations).toBe(server.hits.length);
    expect(report.counters.requests).toBe(server.hits.length);
    expect(report.counters.dropped_iterations ?? 0).toBe(0);
    // Held, not bursted: the requests span the run at 200/s (first to last is 999 intervals of 5 ms).
    const hits = [...server.hits].sort((a, b) => a - b);
    const rate = (hits.length - 1) / ((hits.at(-1)! - hits[0]!) / 1000);
    expect(Math.abs(rate - 200) / 200).toBeLessThan(0.01);
    expect(report.rps).toBeCloseTo(server.hits.length / 5, 5);
    expect(report.ok).toBe(true);
    expect(report.thresholds.map((t) => t.ok)).toEqual([true, true]);
    expect(report.nodes).toHaveLength(1);
    expect(report.metrics.request?.count).toBe(server.hits.length);
    expect(report.checks['status 200']).toMatchObject({ fail: 0, rate: 1 });
    expect(p.stdout()).toContain('every threshold met');
  });

  it('exits 1 when a threshold fails and 0 when all are met; writes HTML and compares with an earlier report', async () => {
    server = await startCountingServer();
    const base = { LOAD_EXECUTOR: 'vus', LOAD_VUS: '2', LOAD_DURATION_MS: '1000', LOAD_THINK_MS: '5' };
    const good = join(dir, 'good.json');
    const met = run(['--json', good, '--quiet'], {
      ...base,
      LOAD_THRESHOLDS: JSON.stringify(['p99 < 10s', 'errors < 1%', 'checks > 99%']),
    });
    expect(await met.exited, met.stderr()).toBe(0);
    const html = join(dir, 'bad.html');
    const failed = run(['--json', join(dir, 'bad.json'), '--html', html, '--compare', good, '--quiet'], {
      ...base,
      LOAD_THRESHOLDS: JSON.stringify(['p50 < 1us', 'errors < 1%']),
    });
    expect(await failed.exited, failed.stderr()).toBe(1);
    const report = readReport(join(dir, 'bad.json'));
    expect(report.ok).toBe(false);
    expect(report.thresholds).toEqual([
      expect.objectContaining({ expr: 'p50 < 1us', ok: false }),
      expect.objectContaining({ expr: 'errors < 1%', ok: true }),
    ]);
    expect(failed.stdout()).toContain('FAIL p50 < 1us');
    // The comparison table: old → new with ratios.
    expect(failed.stdout()).toMatch(/requests\/s\s+\S+ req\/s\s+\S+ req\/s\s+\d+\.\d+×/);
    const page = readFileSync(html, 'utf8');
    expect(page).toContain('<svg');
    expect(page).toContain('p50 &lt; 1us');
  });

  it('stops on Ctrl-C: exits 130 at once, no request reaches the server a second after the signal', async () => {
    server = await startCountingServer();
    const json = join(dir, 'interrupted.json');
    const p = run(['--json', json], {
      LOAD_EXECUTOR: 'vus',
      LOAD_VUS: '8',
      LOAD_DURATION_MS: '60000',
    });
    await until(() => server.hits.length > 200, 15_000, 'load on the server');
    const signalled = Date.now();
    p.child.kill('SIGINT');
    const code = await Promise.race([
      p.exited,
      new Promise((r) => setTimeout(() => r('still running'), 5000)),
    ]);
    expect(code, p.stderr()).toBe(130);
    const late = server.hits.filter((t) => t > signalled + 1000);
    expect(late).toEqual([]);
    const report = readReport(json);
    expect(report.interrupted).toBe(true);
    expect(report.durationMs).toBeLessThan(60_000);
    expect(report.counters.requests).toBeGreaterThan(200);
    expect(p.stdout()).toContain('interrupted');
  });

  it('runs a TypeScript test, compiled by the typescript package; refuses a test over the VU cap (LOAD_OVER_CAP)', async () => {
    server = await startCountingServer();
    const ts = join(dir, 'typed.mts');
    writeFileSync(
      ts,
      [
        "import { defineLoad, http, type VuContext } from 'troupe/load';",
        'interface Answer { status: number }',
        'const ok = (a: Answer): boolean => a.status === 200;',
        'export default defineLoad({',
        "  name: 'typed',",
        `  targets: { api: http(${JSON.stringify(server.url)}, { connections: 2 }) },`,
        "  executor: { kind: 'constant-arrival-rate', rate: 50, durationMs: 1000, preAllocatedVus: 2 },",
        "  thresholds: ['checks > 99%'],",
        '  scenario: async (vu: VuContext) => {',
        "    const res = await vu.targets.api.get('/ping');",
        "    vu.check('typed 200', ok(res));",
        '  },',
        '});',
        '',
      ].join('\n'),
    );
    const json = join(dir, 'typed.json');
    const p = troupe(['load', 'run', ts, '--json', json, '--quiet']);
    running.push(p);
    expect(await p.exited, p.stderr()).toBe(0);
    const report = readReport(json);
    // 50 iterations scheduled; one that finds both VUs busy (a stall of the loaded machine) is dropped and
    // counted, never silently lost.
    const requests = report.counters.requests ?? 0;
    expect(requests + (report.counters.dropped_iterations ?? 0)).toBe(50);
    expect(requests).toBeGreaterThan(40);
    expect(server.hits).toHaveLength(requests);
    expect(report.checks['typed 200']).toMatchObject({ pass: requests, fail: 0 });
    server.hits.length = 0;
    const capped = run(['--vus', '50'], { LOAD_EXECUTOR: 'vus', TROUPE_LOAD_MAX_VUS: '10' });
    expect(await capped.exited).toBe(2);
    expect(capped.stderr()).toContain('LOAD_OVER_CAP');
    expect(server.hits).toHaveLength(0);
  });

  it('load-tests an OpenAI-compatible endpoint: time to first token, tokens and cost from the streamed chats', async () => {
    await using model = await startLlmServer({ chunkDelayMs: 2 });
    const json = join(dir, 'llm.json');
    const p = troupe(['load', 'run', llmFixture, '--json', json, '--quiet'], { LOAD_LLM_URL: model.url });
    running.push(p);
    expect(await p.exited, p.stderr()).toBe(0);
    const report = readReport(json);
    const chats = model.requests.filter((r) => r.endpoint === 'chat').length;
    expect(chats).toBeGreaterThan(5);
    expect(report.counters.requests).toBe(chats);
    expect(report.metrics.ttft?.count).toBe(chats);
    expect(report.metrics.ttft!.p99).toBeLessThanOrEqual(report.metrics.model!.p99);
    expect(report.metrics.tokens_per_s?.count).toBeGreaterThan(0);
    expect(report.counters.tokens_out).toBeGreaterThan(0);
    expect(report.counters.cost_micro_usd).toBeGreaterThan(0);
    expect(report.checks.echoed).toMatchObject({ fail: 0, rate: 1 });
    expect(report.thresholds.every((t) => t.ok)).toBe(true);
  });

  it('runs examples/load/http-api.mjs offline against the demo API it starts, every threshold met', async () => {
    const json = join(dir, 'example.json');
    const p = troupe(['load', 'run', join('examples', 'load', 'http-api.mjs'), '--json', json, '--quiet']);
    running.push(p);
    expect(await p.exited, p.stderr()).toBe(0);
    const report = readReport(json);
    expect(report.name).toBe('shop-api');
    expect(report.counters.requests).toBe(2 * (report.counters.iterations ?? 0));
    expect(Object.keys(report.metrics)).toEqual(expect.arrayContaining(['step.browse', 'step.add-to-cart']));
    expect(report.thresholds).toHaveLength(5);
    expect(report.ok).toBe(true);
  });
});
