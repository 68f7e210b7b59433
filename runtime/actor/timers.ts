// Keyed timers that send messages to their own actor, through the injectable clock.

import type { Clock, TimerHandle } from '../core/clock.js';
import { ErrorCode, InvalidOptionsError, TroupeError } from '../core/errors.js';

/** Timers beyond this would overflow the platform's timer (2^31 - 1 ms) and fire at once. */
const MAX_DELAY_MS = 2_147_483_647;

function assertTimer(key: unknown, message: unknown, ms: unknown, field: string, min: number): void {
  if (typeof key !== 'string') throw new InvalidOptionsError('key', 'expected a string');
  if (
    typeof message !== 'object' ||
    message === null ||
    typeof (message as { type?: unknown }).type !== 'string'
  )
    throw new TroupeError(ErrorCode.InvalidMessage, 'a message must be an object with a string `type`');
  if (typeof ms !== 'number' || !(ms >= min) || ms > MAX_DELAY_MS)
    throw new InvalidOptionsError(
      field,
      `expected a number of ms from ${min} to ${MAX_DELAY_MS}, got ${String(ms)}`,
    );
}

/** @internal Timers of one actor; `tellSelf` enqueues the message to the actor itself. */
export class TimerScheduler {
  readonly #clock: Clock;
  readonly #tellSelf: (message: unknown) => void;
  readonly #active = new Map<string, TimerHandle>();

  constructor(clock: Clock, tellSelf: (message: unknown) => void) {
    this.#clock = clock;
    this.#tellSelf = tellSelf;
  }

  startSingle(key: string, message: unknown, delayMs: number): void {
    assertTimer(key, message, delayMs, 'delayMs', 0);
    this.cancel(key);
    this.#active.set(
      key,
      this.#clock.setTimeout(() => {
        this.#active.delete(key);
        this.#tellSelf(message);
      }, delayMs),
    );
  }

  startPeriodic(key: string, message: unknown, intervalMs: number): void {
    assertTimer(key, message, intervalMs, 'intervalMs', 1);
    this.cancel(key);
    const tick = (): void => {
      this.#active.set(key, this.#clock.setTimeout(tick, intervalMs));
      this.#tellSelf(message);
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
