// The Recorder of one node and run: HDR histograms in microseconds per metric, counters, and the snapshots it ships.

import { Histogram } from '../../bench/index.js';
import type { HistogramData, NodeSnapshot } from '../agent/protocol.js';
import type { LoadMetricsHook } from './hook.js';
import type { Recorder } from './recorder.js';

/** Options of {@link createRecorder}. */
export interface RecorderOptions {
  /** Told of every latency and count as it is recorded (OpenTelemetry). */
  hook?: LoadMetricsHook;
  /** Told of every histogram sample exactly as recorded (integer µs, or value × 1000). */
  samples?: (metric: string, micros: number) => void;
  /** Epoch ms for the snapshots' `at`. @defaultValue Date.now */
  now?: () => number;
}

/** What a snapshot adds to the recorder's own figures. */
export interface SnapshotExtra {
  vus: number;
  slots: number[];
  done: boolean;
  cpuMicros: number;
}

/** A node's recorder: the {@link Recorder} targets and VUs use, plus what the node does with its figures. */
export interface NodeRecorder extends Recorder {
  /** The node's cumulative figures as they travel (sparse histograms); each call takes the next `seq`. */
  snapshot(runId: string, node: string, extra: SnapshotExtra): NodeSnapshot;
  /** A counter's value now (0 when never counted). */
  counter(name: string): number;
  /** The histogram of `metric`, if anything was recorded into it. */
  histogram(metric: string): Histogram | undefined;
}

/**
 * Makes a node's recorder. Latencies are stored as integer microseconds (`Math.round(ms × 1000)`); plain values
 * (`value()`, e.g. tokens per second) as `Math.round(value × 1000)`, so both read back in their own unit after
 * dividing by 1000, and thresholds compare them alike.
 *
 * @example
 * const recorder = createRecorder();
 * recorder.request('api', 12.5, { bytesIn: 512 });
 * recorder.snapshot('run-1', 'node-a', { vus: 1, slots: [0], done: false, cpuMicros: 0 });
 */
export function createRecorder(options: RecorderOptions = {}): NodeRecorder {
  return new HistogramRecorder(options);
}

class HistogramRecorder implements NodeRecorder {
  readonly #histograms = new Map<string, Histogram>();
  readonly #counters = new Map<string, number>();
  readonly #hook: LoadMetricsHook | undefined;
  readonly #samples: ((metric: string, micros: number) => void) | undefined;
  readonly #now: () => number;
  #seq = 0;

  constructor(options: RecorderOptions) {
    this.#hook = options.hook;
    this.#samples = options.samples;
    this.#now = options.now ?? Date.now;
  }

  latency(metric: string, ms: number): void {
    this.#record(metric, ms);
    this.#hook?.onLatency(metric, ms);
  }

  value(metric: string, value: number): void {
    this.#record(metric, value);
    this.#hook?.onValue?.(metric, value);
  }

  count(counter: string, n = 1): void {
    this.#counters.set(counter, (this.#counters.get(counter) ?? 0) + n);
    this.#hook?.onCount(counter, n);
  }

  request(
    target: string,
    ms: number,
    outcome: { error?: string; bytesIn?: number; bytesOut?: number },
  ): void {
    this.latency('request', ms);
    this.latency(target, ms);
    this.count('requests');
    if (outcome.bytesIn !== undefined && outcome.bytesIn > 0) this.count('bytes_in', outcome.bytesIn);
    if (outcome.bytesOut !== undefined && outcome.bytesOut > 0) this.count('bytes_out', outcome.bytesOut);
    if (outcome.error !== undefined) {
      this.count('errors');
      this.count(`errors.${outcome.error}`);
    }
  }

  counter(name: string): number {
    return this.#counters.get(name) ?? 0;
  }

  histogram(metric: string): Histogram | undefined {
    return this.#histograms.get(metric);
  }

  snapshot(runId: string, node: string, extra: SnapshotExtra): NodeSnapshot {
    const histograms: Record<string, HistogramData> = {};
    for (const [metric, h] of this.#histograms) histograms[metric] = h.toJSON();
    return {
      runId,
      node,
      seq: ++this.#seq,
      at: this.#now(),
      histograms,
      counters: Object.fromEntries(this.#counters),
      vus: extra.vus,
      slots: [...extra.slots],
      done: extra.done,
      cpuMicros: extra.cpuMicros,
    };
  }

  #record(metric: string, value: number): void {
    let micros = Math.round(value * 1000);
    if (!(micros >= 0)) micros = 0;
    let h = this.#histograms.get(metric);
    if (h === undefined) {
      h = new Histogram();
      this.#histograms.set(metric, h);
    }
    h.record(micros);
    this.#samples?.(metric, micros);
  }
}
