// A bare FIFO ring buffer: the queue the in-process baselines use where troupe has an actor mailbox.

/**
 * A growable FIFO ring buffer with no extras: what a hand-written event queue would use.
 *
 * @example
 * const q = new RingQueue<number>();
 * q.push(1);
 * q.shift(); // 1
 */
export class RingQueue<T> {
  #items: (T | undefined)[];
  #mask: number;
  #head = 0;
  #length = 0;

  /** `capacity` is rounded up to a power of two; the queue doubles when full. */
  constructor(capacity = 1024) {
    const size = 2 ** Math.ceil(Math.log2(Math.max(2, capacity)));
    this.#items = new Array<T | undefined>(size).fill(undefined);
    this.#mask = size - 1;
  }

  get length(): number {
    return this.#length;
  }

  push(item: T): void {
    if (this.#length === this.#items.length) this.#grow();
    this.#items[(this.#head + this.#length) & this.#mask] = item;
    this.#length++;
  }

  shift(): T | undefined {
    if (this.#length === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head = (this.#head + 1) & this.#mask;
    this.#length--;
    return item;
  }

  #grow(): void {
    const old = this.#items;
    const grown = new Array<T | undefined>(old.length * 2).fill(undefined);
    for (let i = 0; i < this.#length; i++) grown[i] = old[(this.#head + i) & this.#mask];
    this.#items = grown;
    this.#mask = grown.length - 1;
    this.#head = 0;
  }
}
