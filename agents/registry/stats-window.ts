// An agent's recent run measurements: the latencies and outcomes of its last N runs, from which its card's
// p50 latency and success rate are computed.

import { InvalidOptionsError } from '../../runtime/index.js';

/** Default number of runs a {@link StatsWindow} remembers. */
export const DEFAULT_STATS_WINDOW = 100;

/** The last `size` runs' latencies and outcomes (a ring: recording is O(1), reading sorts at most `size`). */
export class StatsWindow {
  readonly size: number;
  readonly #latencies: number[] = [];
  readonly #ok: boolean[] = [];
  #next = 0;

  constructor(size = DEFAULT_STATS_WINDOW) {
    if (!(Number.isInteger(size) && size > 0))
      throw new InvalidOptionsError('size', 'expected a positive integer');
    this.size = size;
  }

  /** Records one run: how long it took and whether it succeeded. */
  record(latencyMs: number, ok: boolean): void {
    const latency = Number.isFinite(latencyMs) && latencyMs > 0 ? latencyMs : 0;
    this.#latencies[this.#next] = latency;
    this.#ok[this.#next] = ok;
    this.#next = (this.#next + 1) % this.size;
  }

  /** Runs remembered (at most `size`). */
  get count(): number {
    return this.#latencies.length;
  }

  /** Median latency of the remembered runs (the lower middle for an even count); 0 with none. */
  get p50(): number {
    if (this.#latencies.length === 0) return 0;
    const sorted = [...this.#latencies].sort((a, b) => a - b);
    return sorted[(sorted.length - 1) >> 1] as number;
  }

  /** Share of the remembered runs that succeeded; 1 with none. */
  get successRate(): number {
    if (this.#ok.length === 0) return 1;
    let ok = 0;
    for (const o of this.#ok) if (o) ok++;
    return ok / this.#ok.length;
  }
}
