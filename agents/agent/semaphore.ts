// A FIFO counting semaphore: at most `limit` holders at once, waiters served in arrival order. The agent kit
// uses it to cap how many agents run a step (a model call and its tools) at the same time.

import { InvalidOptionsError } from '../../runtime/index.js';

export class Semaphore {
  readonly limit: number;
  #held = 0;
  readonly #waiting: (() => void)[] = [];
  #head = 0;

  constructor(limit: number) {
    if (!(Number.isInteger(limit) && limit > 0))
      throw new InvalidOptionsError(
        'maxConcurrentSteps',
        `expected a positive integer, got ${String(limit)}`,
      );
    this.limit = limit;
  }

  /** Holders now. */
  get held(): number {
    return this.#held;
  }

  /** Callers waiting now. */
  get waiting(): number {
    return this.#waiting.length - this.#head;
  }

  /** Resolves once a slot is taken; the caller must `release()` exactly once. */
  acquire(): Promise<void> {
    if (this.#held < this.limit && this.waiting === 0) {
      this.#held++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  release(): void {
    if (this.#head < this.#waiting.length) {
      const next = this.#waiting[this.#head] as () => void;
      this.#waiting[this.#head++] = undefined as unknown as () => void;
      if (this.#head > 64 && this.#head * 2 > this.#waiting.length) {
        this.#waiting.splice(0, this.#head);
        this.#head = 0;
      }
      next(); // the slot passes straight to the next waiter
      return;
    }
    if (this.#held > 0) this.#held--;
  }
}
