// Publishes kept until the server has had its say: a no-responders status for them comes back before the
// answer to a later flush, so what did not come back by then reached a subscriber.

import type { Clock, TimerHandle } from '../runtime/index.js';

const SWEEP_EVERY_MS = 100;

/**
 * @internal A ring of the last `size` publishes that may still bounce, by publish id. Every 100 ms while any
 * are kept, a flush round trip confirms the ones published before it and lets go of them, so memory stays
 * at about 100 ms of traffic; a bounce for one already overwritten (over `size` publishes in that time)
 * finds nothing.
 */
export class UnconfirmedRing<T> {
  readonly #ids: Float64Array;
  readonly #items: (T | undefined)[];
  readonly #size: number;
  readonly #clock: Clock;
  readonly #flush: () => Promise<void>;
  #next = 0;
  #confirmed = 0;
  #sweep: TimerHandle | undefined;
  #sweeping = false;
  #closed = false;

  constructor(size: number, clock: Clock, flush: () => Promise<void>) {
    this.#size = size;
    this.#ids = new Float64Array(size);
    this.#items = new Array(size);
    this.#clock = clock;
    this.#flush = flush;
  }

  /** Keeps `item` and returns the id to put in the publish's reply subject. */
  add(item: T): number {
    const id = ++this.#next;
    const slot = id % this.#size;
    this.#ids[slot] = id;
    this.#items[slot] = item;
    this.#scheduleSweep();
    return id;
  }

  /** The item published as `id`, removed; undefined once confirmed or overwritten. */
  take(id: number): T | undefined {
    const slot = id % this.#size;
    if (this.#ids[slot] !== id) return undefined;
    const item = this.#items[slot];
    this.#items[slot] = undefined;
    return item;
  }

  close(): void {
    this.#closed = true;
    if (this.#sweep !== undefined) this.#clock.clearTimeout(this.#sweep);
    this.#sweep = undefined;
    this.#items.fill(undefined);
  }

  #scheduleSweep(): void {
    if (this.#sweep !== undefined || this.#sweeping || this.#closed) return;
    this.#sweep = this.#clock.setTimeout(() => {
      this.#sweep = undefined;
      this.#sweeping = true;
      const upTo = this.#next;
      void this.#flush()
        .then(
          () => {
            // Everything published before the flush is confirmed; a bounce for it would have come first.
            const from = Math.max(this.#confirmed + 1, upTo - this.#size + 1);
            for (let id = from; id <= upTo; id++) {
              const slot = id % this.#size;
              if (this.#ids[slot] === id) this.#items[slot] = undefined;
            }
            this.#confirmed = upTo;
          },
          () => undefined,
        )
        .finally(() => {
          this.#sweeping = false;
          if (this.#next > this.#confirmed) this.#scheduleSweep();
        });
    }, SWEEP_EVERY_MS);
  }
}
