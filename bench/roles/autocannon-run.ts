// Worker role of `load-http`: autocannon, the baseline load generator, in a process of its own, against the same
// local target and with the same connections as `troupe load run`; reports its requests and its own CPU.

import { BenchError, BenchErrorCode } from '../errors.js';
import type { RoleCommands } from '../scenario.js';

/** What one autocannon run measured. */
export interface AutocannonResult {
  requests: number;
  durationMs: number;
  rps: number;
  /** p99 latency as autocannon reports it (ms). */
  p99Ms: number;
  errors: number;
  non2xx: number;
  /** User + system CPU this process used during the run (µs). */
  cpuMicros: number;
}

/** The arguments of `run`. */
export interface AutocannonRunArgs {
  url: string;
  connections: number;
  durationMs: number;
}

interface AutocannonRaw {
  requests: { total: number };
  duration: number;
  latency: { p99: number };
  errors: number;
  non2xx: number;
}

type Autocannon = (options: Record<string, unknown>) => Promise<AutocannonRaw>;

/** Loads autocannon (a devDependency); a missing package is a coded error naming it. */
async function loadAutocannon(): Promise<Autocannon> {
  const name = 'autocannon';
  try {
    const mod = (await import(name)) as { default?: Autocannon };
    if (typeof mod.default !== 'function') throw new Error('no default export');
    return mod.default;
  } catch (err) {
    throw new BenchError(
      BenchErrorCode.Worker,
      `load-http needs the autocannon package as its baseline (npm install --save-dev autocannon@8): ${(err as Error).message}`,
      { cause: err },
    );
  }
}

export async function autocannonRunRole(): Promise<RoleCommands> {
  const autocannon = await loadAutocannon();
  return {
    async run(args): Promise<AutocannonResult> {
      const { url, connections, durationMs } = args as AutocannonRunArgs;
      const cpu = process.cpuUsage();
      const started = performance.now();
      const r = await autocannon({ url, connections, pipelining: 1, duration: durationMs / 1000 });
      const elapsed = performance.now() - started;
      const used = process.cpuUsage(cpu);
      return {
        requests: r.requests.total,
        durationMs: elapsed,
        rps: r.requests.total / (elapsed / 1000),
        p99Ms: r.latency.p99,
        errors: r.errors,
        non2xx: r.non2xx,
        cpuMicros: used.user + used.system,
      };
    },
  };
}
