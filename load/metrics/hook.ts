// Where a node's figures go besides its histograms while a run goes on: OpenTelemetry (telemetry/load.ts) implements it.

/**
 * Told of every latency and counter a node's recorder takes, as it takes them (keep it cheap: it is on the
 * request path). Values recorded with `Recorder.value` (not durations) go to `onValue` when it is given.
 */
export interface LoadMetricsHook {
  onLatency(metric: string, ms: number): void;
  onCount(counter: string, n: number): void;
  onValue?(metric: string, value: number): void;
}
