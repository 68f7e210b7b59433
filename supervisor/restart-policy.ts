// A restart policy for self-supervised actors: intensity window plus optional backoff.

import type { RestartPolicy, RestartTracker } from '../runtime/index.js';
import { assertOptionsObject } from '../runtime/internal.js';
import { Backoff, type BackoffOptions } from './backoff.js';
import { type IntensityOptions, RestartIntensity, resolveIntensityOptions } from './intensity.js';

/** Options of {@link restartPolicy}. */
export interface RestartPolicyOptions extends IntensityOptions {
  /**
   * Delays between restarts.
   * @defaultValue none: restart at once
   */
  backoff?: BackoffOptions;
}

/**
 * A restart policy for an actor's `supervision.restart`: at most `maxRestarts` within `withinMs`, then the
 * actor gives up (stops with `RESTART_LIMIT`); with `backoff`, exponential delays between restarts.
 *
 * @example
 * defineActor({ ..., supervision: { restart: restartPolicy({ maxRestarts: 5, withinMs: 10_000, backoff: { minMs: 50 } }) } });
 */
export function restartPolicy(options: RestartPolicyOptions = {}): RestartPolicy {
  // Validate now, so a bad option fails at definition time rather than on the first crash.
  assertOptionsObject(options, 'options', 'expected { maxRestarts?, withinMs?, backoff? }');
  resolveIntensityOptions(options);
  if (options.backoff !== undefined) new Backoff(options.backoff);
  return {
    tracker(): RestartTracker {
      const intensity = new RestartIntensity(options);
      const backoff = options.backoff === undefined ? undefined : new Backoff(options.backoff);
      return {
        next(now: number): number | undefined {
          if (!intensity.record(now)) return undefined;
          return backoff === undefined ? 0 : backoff.next(now);
        },
      };
    },
  };
}
