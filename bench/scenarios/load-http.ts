// Scenario `load-http`: troupe's load generator against a local HTTP server, next to autocannon (the baseline)
// against the same server in the same round. The target is a node:http server in a child process; troupe runs
// as `troupe load run` (one embedded node process: constant VUs, no think time, an undici pool with one
// connection per VU, bodies discarded) and autocannon in a worker process of its own with as many connections
// and the same duration. Figures: requests/s of each, and the CPU each generator's process used per 1,000
// requests (troupe's from its report, autocannon's from process.cpuUsage() around its run).

import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { BenchError, BenchErrorCode } from '../errors.js';
import { type AutocannonResult, autocannonRunRole } from '../roles/autocannon-run.js';
import { httpTargetRole } from '../roles/http-target.js';
import type { MetricSpec, Scenario } from '../scenario.js';

/** The goal: troupe's requests/s at least this share of autocannon's. */
const TARGET = 0.8;

/** The package root: this file is bench/scenarios/ in the sources and dist/bench/scenarios/ once built. */
const ROOT = fileURLToPath(
  new URL(import.meta.url.includes('/dist/bench/') ? '../../../' : '../../', import.meta.url),
);

/** The figures of `troupe load run`'s report this scenario reads. */
interface TroupeRun {
  requests: number;
  rps: number;
  cpuMicros: number;
  p99Ms: number;
  errors: number;
}

/** The load test: `connections` constant VUs for `durationMs`, each GETting `/` back to back. */
function testSource(url: string, connections: number, durationMs: number): string {
  const load = pathToFileURL(join(ROOT, 'dist', 'load', 'index.js')).href;
  return [
    `import { defineLoad, http } from ${JSON.stringify(load)};`,
    'export default defineLoad({',
    "  name: 'bench-load-http',",
    `  targets: { api: http(${JSON.stringify(url)}, { connections: ${connections} }) },`,
    `  executor: { kind: 'constant-vus', vus: ${connections}, durationMs: ${durationMs} },`,
    '  gracefulStopMs: 1000,',
    "  scenario: async (vu) => { await vu.targets.api.get('/', { discardBody: true }); },",
    '});',
    '',
  ].join('\n');
}

/** Runs `troupe load run` as its own process; resolves with the report's figures. */
async function runTroupe(
  dir: string,
  url: string,
  connections: number,
  durationMs: number,
): Promise<TroupeRun> {
  const test = join(dir, `load-${connections}-${durationMs}.mjs`);
  const json = join(dir, 'report.json');
  await writeFile(test, testSource(url, connections, durationMs));
  const child = spawn(
    process.execPath,
    [join(ROOT, 'bin', 'troupe.js'), 'load', 'run', test, '--json', json, '--quiet'],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, TROUPE_LOG_LEVEL: 'error' } },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0)
    throw new BenchError(BenchErrorCode.Worker, `troupe load run exited ${code}: ${stderr.trim()}`);
  const report = JSON.parse(await readFile(json, 'utf8')) as {
    rps: number;
    counters: Record<string, number>;
    nodes: { cpuMicros: number }[];
    metrics: Record<string, { p99: number }>;
  };
  return {
    requests: report.counters.requests ?? 0,
    rps: report.rps,
    cpuMicros: report.nodes.reduce((s, n) => s + n.cpuMicros, 0),
    p99Ms: report.metrics.request?.p99 ?? 0,
    errors: report.counters.errors ?? 0,
  };
}

const perThousand = (cpuMicros: number, requests: number): number =>
  requests > 0 ? cpuMicros / 1000 / (requests / 1000) : 0;

/** `load-http`: see the file comment. */
export const loadHttp: Scenario = {
  name: 'load-http',
  description: `requests/s and generator CPU per 1,000 requests of \`troupe load run\` (one node process, constant VUs, undici pool) vs autocannon against the same local node:http server in a child process, same connections and duration (target ≥ ${TARGET}× autocannon's requests/s)`,
  needs: [],
  metrics: (): MetricSpec[] => [
    {
      id: 'rps',
      label: 'requests/s, one generator process',
      unit: 'req/s',
      kind: 'throughput',
      better: 'higher',
      target: TARGET,
    },
    {
      id: 'cpu-per-1000',
      label: 'generator CPU per 1,000 requests',
      unit: 'ms',
      kind: 'rate',
      better: 'lower',
    },
    { id: 'p99', label: 'request latency p99', unit: 'ms', kind: 'latency', better: 'lower' },
  ],
  roles: { target: httpTargetRole, autocannon: autocannonRunRole },
  async open(ctx) {
    const target = await ctx.fork('target');
    const cannon = await ctx.fork('autocannon');
    const url = await target.call<string>('url');
    const dir = await mkdtemp(join(tmpdir(), 'troupe-bench-load-'));
    const connections = ctx.settings.quick ? 32 : 64;
    return {
      async round(budget) {
        const full = ctx.settings.quick ? 3000 : 10_000;
        const durationMs = budget.warmup ? 1000 : Math.max(1000, Math.min(full, budget.maxMs));
        ctx.progress(`troupe load run: ${connections} VUs for ${durationMs} ms`);
        const troupe = await runTroupe(dir, url, connections, durationMs);
        ctx.progress(`autocannon: ${connections} connections for ${durationMs} ms`);
        const base = await cannon.call<AutocannonResult>(
          'run',
          { url, connections, durationMs },
          durationMs + 60_000,
        );
        if (troupe.errors > 0 || base.errors > 0 || base.non2xx > 0)
          throw new BenchError(
            BenchErrorCode.Worker,
            `errors against the local target: troupe ${troupe.errors}, autocannon ${base.errors} (+${base.non2xx} non-2xx)`,
          );
        return {
          figures: {
            rps: { troupe: troupe.rps, baseline: base.rps },
            'cpu-per-1000': {
              troupe: perThousand(troupe.cpuMicros, troupe.requests),
              baseline: perThousand(base.cpuMicros, base.requests),
            },
            p99: { troupe: troupe.p99Ms, baseline: base.p99Ms },
          },
        };
      },
      async close() {
        await rm(dir, { recursive: true, force: true });
        await cannon.close();
        await target.close();
      },
    };
  },
};
