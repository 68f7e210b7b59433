// What targets and the VU context record into: one Recorder per node and run, shared by its VUs.

/**
 * The node's figures of one run. Latencies go into HDR histograms (one per metric name, microsecond integers),
 * never averaged: nodes ship the histograms and the coordinator merges them. Counters only add up.
 *
 * Metric names used by troupe itself:
 * - latencies: `request` (every target request), `<target name>` (that target's requests), `iteration`
 *   (open model: from the iteration's scheduled start, so queueing counts; closed model: from its start),
 *   `step.<name>` (`vu.step`), `ttft` and `tokens_per_s` (LLM targets, the latter recorded as a plain value).
 * - counters: `requests`, `errors`, `errors.<kind>` (kind: `http_4xx`, `http_5xx`, `timeout`, `connect`, `reset`,
 *   `no_responders`, an error's `code` lower-cased, `iteration`), `bytes_in`, `bytes_out`, `iterations`,
 *   `dropped_iterations`, `checks.pass`, `checks.fail`, `check.<name>.pass`, `check.<name>.fail`, `vu_restarts`,
 *   `tokens_in`, `tokens_out`, `cost_micro_usd`.
 */
export interface Recorder {
  /** Records a latency in milliseconds (fractional) into `metric`'s histogram. */
  latency(metric: string, ms: number): void;
  /** Records a plain positive value (not a duration) into `metric`'s histogram, e.g. tokens per second. */
  value(metric: string, value: number): void;
  /** Adds `n` (default 1) to a counter. */
  count(counter: string, n?: number): void;
  /** Records one request: latency under `request` and `target`, `requests`, bytes, and on `error` `errors` + `errors.<error>`. */
  request(target: string, ms: number, outcome: { error?: string; bytesIn?: number; bytesOut?: number }): void;
}
