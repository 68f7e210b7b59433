// Rate-limited warnings for failures that can repeat in a loop (a predicate that always throws, a store that is
// down): the first of a kind is written at once, later ones within the window are counted and the count rides
// on the next line written.

import type { Clock, LogFields, Logger } from '../../runtime/index.js';

/** Default window of {@link LogGate}. */
export const DEFAULT_LOG_GATE_MS = 5000;

/** @internal At most one line per kind per window; `suppressed` says how many were skipped before it. */
export class LogGate {
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #windowMs: number;
  readonly #kinds = new Map<string, { until: number; suppressed: number }>();

  constructor(logger: Logger, clock: Clock, windowMs = DEFAULT_LOG_GATE_MS) {
    this.#logger = logger;
    this.#clock = clock;
    this.#windowMs = windowMs;
  }

  warn(kind: string, msg: string, fields: () => LogFields): void {
    const now = this.#clock.now();
    const seen = this.#kinds.get(kind);
    if (seen !== undefined && now < seen.until) {
      seen.suppressed++;
      return;
    }
    // Bounded: kinds are a handful of fixed strings, but a caller could make them from data.
    if (this.#kinds.size > 256) this.#kinds.clear();
    const suppressed = seen?.suppressed ?? 0;
    this.#kinds.set(kind, { until: now + this.#windowMs, suppressed: 0 });
    this.#logger.warn(msg, { kind, ...fields(), ...(suppressed > 0 ? { suppressed } : {}) });
  }
}
