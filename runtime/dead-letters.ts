// The dead-letter office: every message that could not be delivered or handled ends here, counted and observable.

import type { WireError } from './errors.js';

/** A message that was not handled, and why. */
export interface DeadLetter {
  /** Intended receiver. */
  address: string;
  /** Error code saying why: `UNHANDLED`, `ACTOR_NOT_FOUND`, `ACTOR_STOPPED`, `ACTOR_CRASHED`, `MALFORMED_FRAME`, ... */
  reason: string;
  /** The message, when it could be decoded. */
  message?: unknown;
  sender?: string | undefined;
  error?: WireError | undefined;
  /** Clock time it was recorded. */
  at: number;
}

/** Read side of the dead-letter office, as exposed on the system. */
export interface DeadLetters {
  /** Total dead letters since the system started. */
  readonly count: number;
  /** Counts per reason code. */
  byReason(): Record<string, number>;
  /** The most recent dead letters, oldest first (bounded buffer). */
  recent(): DeadLetter[];
  /** Calls `listener` for each new dead letter; returns the unsubscribe function. */
  subscribe(listener: (letter: DeadLetter) => void): () => void;
}

/** @internal The writable office the system owns. */
export class DeadLetterOffice implements DeadLetters {
  #count = 0;
  #reasons = new Map<string, number>();
  #recent: DeadLetter[] = [];
  #listeners = new Set<(letter: DeadLetter) => void>();
  readonly #capacity: number;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  get count(): number {
    return this.#count;
  }

  byReason(): Record<string, number> {
    return Object.fromEntries(this.#reasons);
  }

  recent(): DeadLetter[] {
    return [...this.#recent];
  }

  subscribe(listener: (letter: DeadLetter) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  record(letter: DeadLetter): void {
    this.#count++;
    this.#reasons.set(letter.reason, (this.#reasons.get(letter.reason) ?? 0) + 1);
    if (this.#capacity > 0) {
      if (this.#recent.length >= this.#capacity) this.#recent.shift();
      this.#recent.push(letter);
    }
    for (const listener of this.#listeners) {
      try {
        listener(letter);
      } catch {
        // A faulty observer must not turn one lost message into a crashed node.
      }
    }
  }
}
