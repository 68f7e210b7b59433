// Per-deployment pacing under its rpm/tpm limits: a sliding minute of calls and tokens on this node, so the
// router waits (or picks another deployment) instead of collecting 429s.

const MINUTE = 60_000;

export class Pacer {
  readonly #rpm: number | undefined;
  readonly #tpm: number | undefined;
  /** Start times and token estimates of the calls of the last minute, oldest first. */
  readonly #times: number[] = [];
  readonly #tokens: number[] = [];
  #tokenSum = 0;

  constructor(rpm: number | undefined, tpm: number | undefined) {
    this.#rpm = rpm;
    this.#tpm = tpm;
  }

  get limited(): boolean {
    return this.#rpm !== undefined || this.#tpm !== undefined;
  }

  /** When a call of `tokens` may start (≤ now: at once). */
  readyAt(now: number, tokens: number): number {
    if (!this.limited) return now;
    this.#expire(now);
    let at = now;
    if (this.#rpm !== undefined && this.#times.length >= this.#rpm) {
      at = Math.max(at, (this.#times[this.#times.length - this.#rpm] ?? now) + MINUTE);
    }
    if (this.#tpm !== undefined && this.#tokenSum + tokens > this.#tpm && this.#times.length > 0) {
      // The earliest moment enough old calls have left the window.
      let sum = this.#tokenSum;
      for (let i = 0; i < this.#times.length && sum + tokens > this.#tpm; i++) {
        sum -= this.#tokens[i] ?? 0;
        at = Math.max(at, (this.#times[i] ?? now) + MINUTE);
      }
    }
    return at;
  }

  record(now: number, tokens: number): void {
    if (!this.limited) return;
    this.#times.push(now);
    this.#tokens.push(tokens);
    this.#tokenSum += tokens;
  }

  #expire(now: number): void {
    while (this.#times.length > 0 && (this.#times[0] ?? now) <= now - MINUTE) {
      this.#times.shift();
      this.#tokenSum -= this.#tokens.shift() ?? 0;
    }
  }
}
