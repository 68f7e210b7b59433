// Keyed timers that deliver messages to their own actor, through the injectable clock.

import type { Clock, TimerHandle } from './clock.js';

/** @internal Timers of one actor; `deliver` enqueues the message to the actor itself. */
export class TimerScheduler {
  readonly #clock: Clock;
  readonly #deliver: (message: unknown) => void;
  readonly #active = new Map<string, TimerHandle>();

  constructor(clock: Clock, deliver: (message: unknown) => void) {
    this.#clock = clock;
    this.#deliver = deliver;
  }

  startSingle(key: string, message: unknown, delayMs: number): void {
    this.cancel(key);
    this.#active.set(
      key,
      this.#clock.setTimeout(() => {
        this.#active.delete(key);
        this.#deliver(message);
      }, delayMs),
    );
  }

  startPeriodic(key: string, message: unknown, intervalMs: number): void {
    if (!(intervalMs > 0)) throw new RangeError('startPeriodic: intervalMs must be > 0');
    this.cancel(key);
    const tick = (): void => {
      this.#active.set(key, this.#clock.setTimeout(tick, intervalMs));
      this.#deliver(message);
    };
    this.#active.set(key, this.#clock.setTimeout(tick, intervalMs));
  }

  cancel(key: string): void {
    const handle = this.#active.get(key);
    if (handle !== undefined) {
      this.#clock.clearTimeout(handle);
      this.#active.delete(key);
    }
  }

  cancelAll(): void {
    for (const handle of this.#active.values()) this.#clock.clearTimeout(handle);
    this.#active.clear();
  }

  isActive(key: string): boolean {
    return this.#active.has(key);
  }
}
