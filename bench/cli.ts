// `troupe bench`: runs the benchmark scenarios beside their raw-library baselines, or compares two reports.

import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { compareReports, renderComparison } from './compare.js';
import { BenchError, BenchErrorCode } from './errors.js';
import { renderHtml } from './html.js';
import { parseBenchArgs, type ResolvedBenchOptions, resolveBenchOptions, USAGE } from './options.js';
import { createProgress } from './progress.js';
import { type BenchReport, machineInfo, REPORT_SCHEMA_VERSION, validateReport } from './report.js';
import { runScenarios } from './runner.js';
import type { ServerNeed } from './scenario.js';
import { SCENARIOS, selectScenarios } from './scenarios/index.js';
import { provideServers } from './servers.js';
import { renderTable } from './table.js';

/** Where the report goes without `--json`, when the folder exists (run from the repository root). */
const DEFAULT_RESULTS = 'bench/results/latest.json';

function readReport(path: string): BenchReport {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new BenchError(BenchErrorCode.InvalidReport, `cannot read ${path}: ${(err as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new BenchError(BenchErrorCode.InvalidReport, `${path} is not JSON: ${(err as Error).message}`);
  }
  try {
    return validateReport(value);
  } catch (err) {
    throw new BenchError(BenchErrorCode.InvalidReport, `${path}: ${(err as Error).message}`);
  }
}

function writeFile(path: string, text: string): void {
  mkdirSync(dirname(resolve(path)), { recursive: true });
  writeFileSync(path, text);
}

function compare(files: [string, string]): number {
  const before = readReport(files[0]);
  const after = readReport(files[1]);
  const rows = compareReports(before, after);
  process.stdout.write(`${renderComparison(rows, before, after)}\n`);
  return rows.some((r) => r.verdict === 'regression') ? 1 : 0;
}

function list(): number {
  const width = Math.max(...SCENARIOS.map((s) => s.name.length));
  for (const s of SCENARIOS) {
    const needs = s.needs.length ? ` [needs ${s.needs.join(', ')}]` : '';
    process.stdout.write(`${s.name.padEnd(width)}  ${s.description}${needs}\n`);
  }
  return 0;
}

async function run(options: ResolvedBenchOptions): Promise<number> {
  const scenarios = selectScenarios(options.scenarios);
  const needs = new Set<ServerNeed>(scenarios.flatMap((s) => s.needs));
  const date = new Date().toISOString();
  if (options.profileDir) mkdirSync(options.profileDir, { recursive: true });
  const servers = await provideServers(needs, { nats: options.nats, redis: options.redis });
  const progress = createProgress();
  const controller = new AbortController();
  const onSignal = (): void => {
    progress.line('interrupted: finishing the current phase and stopping servers...');
    controller.abort(new Error('interrupted'));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let report: BenchReport;
  try {
    if (servers.pids.length > 0) progress.line(`started private servers (pids ${servers.pids.join(', ')})`);
    const results = await runScenarios({
      scenarios,
      settings: {
        quick: options.quick,
        count: options.count,
        clients: options.clients,
        nodes: options.nodes,
      },
      repeat: options.repeat,
      roundMs: options.roundMs,
      natsUrl: servers.natsUrl,
      redisUrl: servers.redisUrl,
      progress,
      signal: controller.signal,
      profileDir: options.profileDir,
    });
    report = {
      schemaVersion: REPORT_SCHEMA_VERSION,
      tool: 'troupe-bench',
      date,
      machine: machineInfo(),
      settings: {
        quick: options.quick,
        repeat: options.repeat,
        roundMs: options.roundMs,
        count: options.count ?? null,
        clients: options.clients,
        nodes: options.nodes,
        nats: servers.nats,
        redis: servers.redis,
      },
      scenarios: results,
    };
  } finally {
    progress.close();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await servers.stop();
  }
  process.stdout.write(`\n${renderTable(report)}\n`);
  const jsonPath =
    options.json ??
    (existsSync('bench/results') && statSync('bench/results').isDirectory() ? DEFAULT_RESULTS : undefined);
  if (jsonPath) {
    writeFile(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(`JSON report: ${jsonPath}\n`);
  }
  if (options.html) {
    writeFile(options.html, renderHtml(report));
    process.stdout.write(`HTML report: ${options.html}\n`);
  }
  if (controller.signal.aborted) return 130;
  return report.scenarios.some((s) => s.error !== null) ? 1 : 0;
}

/**
 * Runs `troupe bench` with `argv` (the arguments after `bench`); resolves with the exit code: 0 done, 1 a scenario
 * failed (or `--compare` found a drop), 2 bad usage.
 *
 * @example
 * process.exitCode = await main(['local-tell', '--quick', '--json', 'out.json']);
 */
export async function main(argv: string[]): Promise<number> {
  let options: ResolvedBenchOptions;
  try {
    options = resolveBenchOptions(parseBenchArgs(argv));
    if (!options.help && !options.list && !options.compare) selectScenarios(options.scenarios);
  } catch (err) {
    if (
      BenchError.is(err, BenchErrorCode.InvalidOptions) ||
      BenchError.is(err, BenchErrorCode.UnknownScenario)
    ) {
      process.stderr.write(`troupe bench: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    throw err;
  }
  if (options.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (options.list) return list();
  if (options.compare) {
    try {
      return compare(options.compare);
    } catch (err) {
      if (BenchError.is(err, BenchErrorCode.InvalidReport)) {
        process.stderr.write(`troupe bench: ${err.message}\n`);
        return 2;
      }
      throw err;
    }
  }
  return run(options);
}
