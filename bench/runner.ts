// Runs scenarios: opens each, warms it up, measures its repeats within time bounds, and closes what it started.

import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { formatRatio, formatValue } from './format.js';
import { wallNow, within } from './load.js';
import type { Progress } from './progress.js';
import { type ScenarioReport, summarizeLatency, summarizeMetrics } from './report.js';
import type {
  RoundBudget,
  RoundResult,
  Scenario,
  ScenarioContext,
  ScenarioSession,
  ScenarioSettings,
} from './scenario.js';
import { type ForkWorkerOptions, forkWorker, type WorkerHandle } from './worker-client.js';

/** Options of {@link runScenarios}. */
export interface RunnerOptions {
  scenarios: readonly Scenario[];
  settings: ScenarioSettings;
  /** Measured repeats per scenario, after one warm-up round. */
  repeat: number;
  /** Time bound of each measured phase, ms (warm-up phases get half). */
  roundMs: number;
  natsUrl: string | undefined;
  redisUrl: string | undefined;
  progress: Progress;
  /** Aborting stops the run after the current phase and closes everything. */
  signal?: AbortSignal;
  /** Directory for CPU profiles of worker processes. */
  profileDir?: string | undefined;
  /** Forks workers (tests replace it). @defaultValue {@link forkWorker} */
  fork?: (options: ForkWorkerOptions) => Promise<WorkerHandle>;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A generous bound on a whole scenario, so a wedged one cannot hang the run. */
function scenarioLimitMs(options: RunnerOptions, metricCount: number): number {
  return 120_000 + (options.repeat + 1) * (options.roundMs * 2 * Math.max(1, metricCount) + 60_000);
}

/** Runs one scenario; never throws: a failure is recorded in the report's `error`. */
async function runOne(scenario: Scenario, index: number, options: RunnerOptions): Promise<ScenarioReport> {
  const { progress, settings } = options;
  const fork = options.fork ?? forkWorker;
  const started = performance.now();
  const controller = new AbortController();
  const onAbort = (): void => controller.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const workers: WorkerHandle[] = [];
  let phase = 'setup';
  const ctx: ScenarioContext = {
    settings,
    natsUrl: options.natsUrl,
    redisUrl: options.redisUrl,
    namespace: `b${randomBytes(3).toString('hex')}${index}`,
    signal: controller.signal,
    count(quick, full, budget) {
      const n = settings.count ?? (settings.quick ? quick : full);
      return budget?.warmup ? Math.max(1, Math.ceil(n / 5)) : n;
    },
    progress(detail) {
      progress.detail(`${phase}: ${detail}`);
    },
    async fork(role, init, forkOptions) {
      const execArgv = [...(forkOptions?.execArgv ?? [])];
      if (options.profileDir) execArgv.push('--cpu-prof', `--cpu-prof-dir=${options.profileDir}`);
      const worker = await fork({ scenario: scenario.name, role, init, execArgv });
      workers.push(worker);
      return worker;
    },
  };
  const budget = (warmup: boolean): RoundBudget => {
    const maxMs = warmup ? Math.max(1, Math.floor(options.roundMs / 2)) : options.roundMs;
    return { warmup, maxMs, deadline: () => wallNow() + maxMs };
  };
  const metrics = scenario.metrics(settings);
  const rounds: RoundResult[] = [];
  let session: ScenarioSession | undefined;
  let error: string | null = null;
  try {
    await within(
      (async () => {
        session = await scenario.open(ctx);
        phase = 'warm-up';
        if (controller.signal.aborted) throw new Error('interrupted');
        await session.round(budget(true));
        for (let r = 1; r <= options.repeat; r++) {
          if (controller.signal.aborted) throw new Error('interrupted');
          phase = `round ${r}/${options.repeat}`;
          rounds.push(await session.round(budget(false)));
        }
      })(),
      scenarioLimitMs(options, metrics.length),
      `scenario ${scenario.name}`,
    );
  } catch (err) {
    error = message(err);
    controller.abort(err);
  } finally {
    phase = 'closing';
    try {
      await within(session?.close() ?? Promise.resolve(), 15_000, `closing ${scenario.name}`);
    } catch (err) {
      error ??= `close failed: ${message(err)}`;
    }
    await Promise.all(workers.map((w) => w.close()));
    options.signal?.removeEventListener('abort', onAbort);
  }
  return {
    name: scenario.name,
    description: scenario.description,
    durationMs: performance.now() - started,
    error,
    metrics: summarizeMetrics(metrics, rounds),
    latency: summarizeLatency(rounds),
  };
}

/** One line per figure, printed as each scenario finishes. */
function summaryLine(report: ScenarioReport): string {
  if (report.error) return `${report.name}: FAILED: ${report.error.split('\n')[0]}`;
  const parts = report.metrics.map(
    (m) =>
      `${m.id} ${formatValue(m.troupe.median, m.unit)}${m.baseline ? ` (baseline ${formatValue(m.baseline.median, m.unit)}, ${formatRatio(m.ratio)})` : ''}`,
  );
  return `${report.name} (${(report.durationMs / 1000).toFixed(1)} s): ${parts.join('; ')}`;
}

/**
 * Runs `scenarios` one after the other and returns their reports (failed ones included, with `error` set).
 *
 * @example
 * const reports = await runScenarios({ scenarios: selectScenarios(['local-tell']), settings, repeat: 3, roundMs: 5000, natsUrl: undefined, redisUrl: undefined, progress });
 */
export async function runScenarios(options: RunnerOptions): Promise<ScenarioReport[]> {
  const reports: ScenarioReport[] = [];
  for (const [i, scenario] of options.scenarios.entries()) {
    if (options.signal?.aborted) break;
    options.progress.scenario(scenario.name, i + 1, options.scenarios.length);
    const report = await runOne(scenario, i, options);
    options.progress.line(summaryLine(report));
    reports.push(report);
  }
  return reports;
}
