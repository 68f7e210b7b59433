// Tasks under faults: a steady stream of `run()` calls on the BullMQ runner, worked by two `troupe node` worker
// processes, while a worker is SIGKILLed (a fresh one starts) and redis-server (append-only file, fsync always)
// is restarted in place, again and again. The workers record every execution in a file, so what ran is counted
// even when a worker dies; every call must settle, resolving or rejecting with an error that has a string `code`.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineTask } from '../../runtime/index.js';
import { type BullmqTaskRunner, bullmqTaskRunner } from '../../tasks-bullmq/index.js';
import { type ServerProcess, startRedis } from '../../testing/index.js';
import {
  builtCli,
  type CliNode,
  endCliNode,
  packageRoot,
  samplePeakRss,
  sleep,
  startCliNode,
} from '../processes.js';
import type { ChaosScenario, ChaosSettings } from '../scenario.js';
import type { ChaosSummary } from '../summary.js';

// The caller's twin of the fixture's task: same name and options; the handler runs only on the worker nodes.
const record = defineTask<{ id: string; ms: number }, { id: string; pid: number }>(
  'chaos-record',
  () => {
    throw new Error('runs on worker nodes');
  },
  { concurrency: 8, attempts: 3, backoffMs: 200 },
);

/** One `troupe node` worker process. */
type WorkerProcess = CliNode;

/** Knobs for tests; the defaults follow `settings`. */
export interface TasksFaultsOptions {
  /** run() calls per second. */
  rate?: number;
  /** How long the load runs, ms (at least until the faults are over). */
  streamMs?: number;
  /** How long a task works, ms. */
  taskMs?: number;
  /** The caller's `connectTimeoutMs`: a run that cannot queue its job within it rejects (`TRANSPORT_CONNECT_FAILED`). */
  connectTimeoutMs?: number;
}

/** What the scenario counted, beyond the summary. */
export interface TasksFaultsResult {
  summary: ChaosSummary;
  /** Rejected run() calls by error code (`(none)` for an error without a string code). */
  rejections: Record<string, number>;
  /** Rejections whose error had no string `code`. */
  uncoded: number;
  /** Runs that resolved with another job's output. */
  mismatched: number;
  /** Runs that rejected (not with TASK_LOST) whose job ran anyway. */
  rejectedButRan: number;
  redisRestarts: number;
  workerKills: number;
}

export async function runTasksFaults(
  settings: ChaosSettings,
  overrides: TasksFaultsOptions = {},
): Promise<TasksFaultsResult> {
  const log = settings.log;
  const short = settings.short;
  const root = packageRoot();
  const built = builtCli(root);
  const fixture = join(root, 'chaos', 'fixtures', 'tasks-record.mjs');
  const prefix = `c${randomBytes(4).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'troupe-chaos-tasks-'));
  const file = join(dir, 'ran.log');
  writeFileSync(file, '');

  const rate = overrides.rate ?? (short ? 120 : 200);
  const streamMs = overrides.streamMs ?? (short ? 8_000 : Math.max(30_000, settings.minutes * 60_000));
  const taskMs = overrides.taskMs ?? 10;
  const connectTimeoutMs = overrides.connectTimeoutMs ?? (short ? 2_000 : 5_000);
  const tailMs = short ? 1_000 : 3_000;
  /** After the load: how long runs may take to settle before they count as never settled. */
  const settleMs = short ? 12_000 : 40_000;
  // A dead worker's jobs move on after about the lock duration; the stalled check runs this often.
  const workerArgs = ['--lock-duration', '2000', '--stalled-interval', '1000'];

  const redis: ServerProcess = await startRedis({ appendonly: true });
  const workers: WorkerProcess[] = [];
  let workerSeq = 0;
  let nodeCrashes = 0;
  const rss = samplePeakRss(() => workers.filter((w) => !w.ended).map((w) => w.proc.pid));

  const startWorker = async (): Promise<WorkerProcess> => {
    const id = `w${++workerSeq}`;
    const worker = startCliNode({
      id,
      built,
      args: ['--redis', redis.url, '--prefix', prefix, '--node-id', id, '--tasks', fixture, ...workerArgs],
      env: { CHAOS_TASKS_FILE: file },
      readyText: 'working on',
      role: 'worker',
      crashed: (line) => {
        nodeCrashes++;
        log(line);
      },
    });
    workers.push(worker);
    await worker.ready;
    return worker;
  };

  const endWorker = (worker: WorkerProcess, signal: NodeJS.Signals): Promise<void> =>
    endCliNode(worker, signal, 10_000);

  let runner: BullmqTaskRunner | undefined;
  let sent = 0;
  let resolved = 0;
  const resolvedIds = new Set<string>();
  const lostIds = new Set<string>();
  const rejectedIds = new Set<string>();
  const rejections: Record<string, number> = {};
  let uncoded = 0;
  let mismatched = 0;
  const inFlight = new Set<string>();
  let neverSettled = 0;
  let redisRestarts = 0;
  const outages: number[] = [];
  let workerKills = 0;
  const faultLog: string[] = [];
  try {
    await Promise.all([startWorker(), startWorker()]);
    runner = bullmqTaskRunner({ redis: redis.url, prefix, connectTimeoutMs });
    await runner.ready();
    const tasks = runner;

    let stop = false;
    const started = Date.now();
    const load = (async () => {
      // Open loop: calls go out at `rate` whatever happens to the earlier ones, so calls pile up across outages.
      const interval = 1000 / rate;
      let next = Date.now();
      while (!stop) {
        const id = `j${++sent}`;
        inFlight.add(id);
        tasks.run(record, { id, ms: taskMs }).then(
          (out) => {
            inFlight.delete(id);
            resolved++;
            resolvedIds.add(id);
            if (out?.id !== id) mismatched++;
          },
          (err: unknown) => {
            inFlight.delete(id);
            rejectedIds.add(id);
            const code = (err as { code?: unknown } | undefined)?.code;
            const key = typeof code === 'string' ? code : '(none)';
            if (typeof code !== 'string') {
              uncoded++;
              if (uncoded <= 3) log(`rejection without a code: ${String((err as Error)?.stack ?? err)}`);
            }
            // The runner found the job it had queued gone from Redis: an accepted job that never came back.
            if (code === 'TASK_LOST') lostIds.add(id);
            rejections[key] = (rejections[key] ?? 0) + 1;
          },
        );
        next += interval;
        const wait = next - Date.now();
        if (wait > 0) await sleep(wait);
        else if (wait < -1000)
          next = Date.now(); // the event loop stalled: do not burst to catch up
        else if (sent % 50 === 0) await sleep(0);
      }
    })();

    const progress = async (count: number, timeoutMs: number): Promise<void> => {
      const target = resolved + count;
      const until = Date.now() + timeoutMs;
      while (resolved < target && Date.now() < until) await sleep(50);
    };
    const fault = (line: string): void => {
      faultLog.push(line);
      log(
        `t=${((Date.now() - started) / 1000).toFixed(1)}s ${line} (${resolved} resolved, ${inFlight.size} in flight)`,
      );
    };
    const killWorker = async (): Promise<void> => {
      const victim = workers.find((w) => !w.ended);
      if (victim === undefined) return;
      fault(`SIGKILL worker ${victim.id}`);
      await endWorker(victim, 'SIGKILL');
      workerKills++;
      const fresh = await startWorker();
      log(`worker ${fresh.id} started`);
    };
    const restartRedis = async (long: boolean): Promise<void> => {
      // A long outage outlasts the caller's connect timeout: runs that cannot queue their job must reject.
      const downMs = long
        ? connectTimeoutMs + (short ? 1_000 : 2_000)
        : short
          ? 300
          : 300 + Math.floor(Math.random() * 1200);
      fault(`restart redis-server (down ${downMs} ms)`);
      await redis.restart(downMs);
      redisRestarts++;
      outages.push(downMs);
    };
    const injector = (async () => {
      // Short: kill, restart, long outage, each after some progress. Full: the same cycle until the time is up.
      await sleep(short ? 1_200 : 3_000);
      const cycle = [killWorker, () => restartRedis(false), () => restartRedis(true)];
      for (let i = 0; ; i++) {
        await cycle[i % cycle.length]!();
        const elapsed = Date.now() - started;
        if (i >= cycle.length - 1 && (short || elapsed >= streamMs)) break;
        await progress(short ? 150 : 600, 15_000);
        await sleep(short ? 800 : 2_000 + Math.floor(Math.random() * 4_000));
      }
    })();
    let faultsOver = false;
    let injectorError: unknown;
    void injector.then(
      () => {
        faultsOver = true;
      },
      (err: unknown) => {
        injectorError = err;
        faultsOver = true;
      },
    );
    let tailFrom = Number.POSITIVE_INFINITY;
    let lastLog = Date.now();
    while (Date.now() - started < streamMs || !faultsOver || Date.now() - tailFrom < tailMs) {
      if (faultsOver && tailFrom === Number.POSITIVE_INFINITY) tailFrom = Date.now();
      await sleep(100);
      if (process.env.CHAOS_VERBOSE === '1' && Date.now() - lastLog >= 500) {
        lastLog = Date.now();
        const rejected = Object.values(rejections).reduce((a, b) => a + b, 0);
        log(
          `t=${((lastLog - started) / 1000).toFixed(1)}s ${sent} sent, ${resolved} resolved, ${rejected} rejected, ${inFlight.size} in flight`,
        );
      }
    }
    stop = true;
    await load;
    if (injectorError !== undefined) {
      faultLog.push(`fault injector failed: ${(injectorError as Error).message}`);
      log(faultLog[faultLog.length - 1]!);
    }
    log(
      `load over: ${sent} sent, ${resolved} resolved, ${inFlight.size} in flight; waiting for them to settle`,
    );
    const until = Date.now() + settleMs;
    while (inFlight.size > 0 && Date.now() < until) await sleep(100);
    neverSettled = inFlight.size;
    if (neverSettled > 0) log(`never settled: ${[...inFlight].slice(0, 20).join(' ')}`);
  } finally {
    rss.stop();
    if (neverSettled === 0) neverSettled = inFlight.size;
    await runner?.close().catch(() => undefined);
    for (const w of workers) if (!w.ended) await endWorker(w, 'SIGTERM');
    await redis.stop();
  }

  const ran = readRuns(file);
  let handled = 0;
  let lost = 0;
  const lostList: string[] = [];
  const acknowledgedIds = new Set([...resolvedIds, ...lostIds]);
  for (const id of acknowledgedIds) {
    if (ran.completed.has(id)) handled++;
    else {
      lost++;
      if (lostList.length < 20) lostList.push(id);
    }
  }
  let duplicated = 0;
  for (const [, n] of ran.completed) if (n > 1) duplicated++;
  let ranUnacknowledged = 0;
  for (const id of ran.completed.keys()) if (!acknowledgedIds.has(id)) ranUnacknowledged++;
  let rejectedButRan = 0;
  for (const id of rejectedIds) if (ran.completed.has(id) && !lostIds.has(id)) rejectedButRan++;
  if (lostList.length > 0) log(`lost: ${lostList.join(' ')}`);
  if (process.env.CHAOS_KEEP === '1') log(`execution record kept: ${file}`);
  else rmSync(dir, { recursive: true, force: true });
  const byCode = Object.entries(rejections)
    .sort((a, b) => b[1] - a[1])
    .map(([code, n]) => `${code} ${n}`)
    .join(', ');
  const summary: ChaosSummary = {
    scenario: 'tasks-faults',
    sent,
    acknowledged: acknowledgedIds.size,
    handled,
    lost,
    duplicated,
    reordered: 0,
    nodeCrashes,
    neverSettled,
    peakRssMb: rss.peakMb,
    notes:
      `${workerKills} worker SIGKILLs (a fresh worker after each), ${redisRestarts} redis-server restarts (AOF; ` +
      `down ${outages.join('/')} ms, caller connect timeout ${connectTimeoutMs} ms); ` +
      `${resolved} resolved, rejected by code: ${byCode || 'none'}${uncoded > 0 ? ` (${uncoded} without a code)` : ''}; ` +
      `${rejectedButRan} rejected runs ran anyway, ${ranUnacknowledged} jobs ran unacknowledged; ` +
      `${ran.restarted} executions cut short and started again; ` +
      `${mismatched} resolved with another job's output; caller peak RSS ${rss.selfPeakMb.toFixed(0)} MiB`,
  };
  return { summary, rejections, uncoded, mismatched, rejectedButRan, redisRestarts, workerKills };
}

/** Reads the workers' record: completed executions per job id, and starts that never completed. */
function readRuns(file: string): { completed: Map<string, number>; restarted: number } {
  const completed = new Map<string, number>();
  const starts = new Map<string, number>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line === '') continue;
    if (line.startsWith('+ ')) {
      const id = line.split(' ')[1]!;
      starts.set(id, (starts.get(id) ?? 0) + 1);
      continue;
    }
    const id = line.split(' ')[0]!;
    completed.set(id, (completed.get(id) ?? 0) + 1);
  }
  let restarted = 0;
  for (const [id, n] of starts) restarted += Math.max(0, n - (completed.get(id) ?? 0));
  return { completed, restarted };
}

export const tasksFaults: ChaosScenario = {
  name: 'tasks-faults',
  description:
    'a steady stream of run() calls on the BullMQ runner, worked by two troupe node processes, while a worker ' +
    'gets SIGKILL (a fresh one starts) and redis-server (AOF) restarts in place, again and again',
  run: async (settings) => (await runTasksFaults(settings)).summary,
};
