// The restart bookkeeping of a team's members: the intensity all restarts count against, and a backoff per
// member. Part of the team's state, so a team restart starts it anew.

import {
  Backoff,
  type BackoffOptions,
  type IntensityOptions,
  RestartIntensity,
} from '../../supervisor/index.js';

/** Counts member restarts against the team's intensity and delays each member's by its own backoff. */
export class MemberRestarts {
  readonly intensity: RestartIntensity;
  readonly #backoff: BackoffOptions | undefined;
  readonly #backoffs = new Map<string, Backoff>();

  constructor(intensity: IntensityOptions, backoff: BackoffOptions | undefined) {
    this.intensity = new RestartIntensity(intensity);
    this.#backoff = backoff;
  }

  delay(name: string, now: number): number {
    if (this.#backoff === undefined) return 0;
    let b = this.#backoffs.get(name);
    if (b === undefined) {
      b = new Backoff(this.#backoff);
      this.#backoffs.set(name, b);
    }
    return b.next(now);
  }
}
