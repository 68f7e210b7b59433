// Pending asks: each waits for its reply, its deadline or its abort signal, whichever comes first.

import type { Clock, TimerHandle } from '../core/clock.js';
import type { Waiter } from '../core/envelope.js';
import { AskTimeoutError, ErrorCode, TroupeError, type WireError } from '../core/errors.js';
import type { AskOutcomes } from './stats.js';

/**
 * One ask waiting for its reply. It is also its own node in the deadline queue of its timeout, so waiting
 * costs no timer and no map entry of its own: the hot path of a local ask allocates this and its promise.
 */
export class PendingAsk implements Waiter {
  /** Set once the ask is registered by correlation id (it left this node); local asks have none. */
  correlationId: string | undefined = undefined;
  readonly address: string;
  readonly deadline: number;
  readonly timeout: number;
  settled = false;
  /** @internal Deadline queue links. */
  prev: PendingAsk | undefined = undefined;
  next: PendingAsk | undefined = undefined;
  queue: DeadlineQueue | undefined = undefined;
  signal: AbortSignal | undefined = undefined;
  onAbort: (() => void) | undefined = undefined;
  readonly #resolve: (value: unknown) => void;
  readonly #reject: (error: unknown) => void;
  readonly #asks: PendingAsks;

  constructor(
    asks: PendingAsks,
    address: string,
    deadline: number,
    timeout: number,
    resolve: (value: unknown) => void,
    reject: (error: unknown) => void,
  ) {
    this.#asks = asks;
    this.address = address;
    this.deadline = deadline;
    this.timeout = timeout;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  /** Settles with a reply (a value, or a wire error when `isError`). False when it had settled already. */
  settle(value: unknown, isError: boolean): boolean {
    if (!this.#asks.release(this)) return false;
    const outcomes = this.#asks.outcomes;
    if (outcomes !== undefined) outcomes.count(isError ? String((value as WireError)?.code) : 'ok');
    if (isError) this.#reject(TroupeError.fromWire(value as WireError));
    else this.#resolve(value);
    return true;
  }

  /** Fails with `error` (timeout, abort, closing, unsendable). False when it had settled already. */
  fail(error: unknown): boolean {
    if (!this.#asks.release(this)) return false;
    this.#asks.outcomes?.count(TroupeError.is(error) ? error.code : ErrorCode.Remote);
    this.#reject(error);
    return true;
  }
}

/**
 * The asks of one timeout value in deadline order: deadlines only grow when the timeout is the same, so a
 * doubly linked list kept in arrival order is sorted, removal is O(1), and one timer armed for the head
 * serves them all.
 */
class DeadlineQueue {
  head: PendingAsk | undefined = undefined;
  tail: PendingAsk | undefined = undefined;
  timer: TimerHandle | undefined = undefined;
}

/** @internal Every pending ask of one system. */
export class PendingAsks {
  /** Counts settled asks by outcome when the system has metrics. */
  outcomes: AskOutcomes | undefined = undefined;
  readonly #clock: Clock;
  readonly #byId = new Map<string, PendingAsk>();
  readonly #queues = new Map<number, DeadlineQueue>();
  #seq = 0;
  #count = 0;
  #cachedNow = -1;
  #lastTimeout = -1;
  #lastQueue: DeadlineQueue | undefined = undefined;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Asks still waiting. */
  get size(): number {
    return this.#count;
  }

  /** Registers an ask to `address` that times out after `timeout` ms (or when `signal` aborts). */
  add(
    address: string,
    timeout: number,
    signal: AbortSignal | undefined,
    resolve: (value: unknown) => void,
    reject: (error: unknown) => void,
  ): PendingAsk {
    const pending = new PendingAsk(this, address, this.#now() + timeout, timeout, resolve, reject);
    this.#enqueue(pending);
    this.#count++;
    if (signal !== undefined) {
      pending.signal = signal;
      pending.onAbort = () => {
        pending.fail(
          new TroupeError(ErrorCode.AskAborted, `ask to ${address} was aborted`, { cause: signal.reason }),
        );
      };
      signal.addEventListener('abort', pending.onAbort, { once: true });
    }
    return pending;
  }

  /** Gives the ask a correlation id, so a reply from another node finds it; returns the id. */
  correlate(pending: PendingAsk): string {
    if (pending.correlationId !== undefined) return pending.correlationId;
    const id = (this.#seq++).toString(36);
    pending.correlationId = id;
    this.#byId.set(id, pending);
    return id;
  }

  /** The ask waiting under correlation id `id`, if any. */
  byId(id: string): PendingAsk | undefined {
    return this.#byId.get(id);
  }

  /** Fails every pending ask with `error` (the system is closing). */
  failAll(error: () => unknown): void {
    for (const queue of [...this.#queues.values()]) {
      for (let p = queue.head; p !== undefined; p = queue.head) p.fail(error());
    }
  }

  /** @internal Takes a settling ask out of every structure; false when it had settled already. */
  release(pending: PendingAsk): boolean {
    if (pending.settled) return false;
    pending.settled = true;
    this.#count--;
    if (pending.correlationId !== undefined) this.#byId.delete(pending.correlationId);
    if (pending.onAbort !== undefined) pending.signal?.removeEventListener('abort', pending.onAbort);
    const queue = pending.queue;
    if (queue !== undefined) {
      if (pending.prev === undefined) queue.head = pending.next;
      else pending.prev.next = pending.next;
      if (pending.next === undefined) queue.tail = pending.prev;
      else pending.next.prev = pending.prev;
      pending.prev = pending.next = pending.queue = undefined;
      if (queue.head === undefined && queue.timer !== undefined) {
        // Nothing left to time: drop the timer rather than wake up for nothing.
        this.#clock.clearTimeout(queue.timer);
        queue.timer = undefined;
      }
    }
    return true;
  }

  /**
   * The clock's time, read once per run of the microtask queue: a burst of asks shares one read (reading the
   * clock costs more than the rest of a local ask). A deadline is at most that drain's length early.
   */
  #now(): number {
    if (this.#cachedNow < 0) {
      this.#cachedNow = this.#clock.now();
      queueMicrotask(this.#forgetNow);
    }
    return this.#cachedNow;
  }

  readonly #forgetNow = (): void => {
    this.#cachedNow = -1;
  };

  #enqueue(pending: PendingAsk): void {
    // Most asks share one timeout: keep its queue at hand rather than look it up.
    let queue = pending.timeout === this.#lastTimeout ? this.#lastQueue : this.#queues.get(pending.timeout);
    if (queue === undefined) {
      queue = new DeadlineQueue();
      this.#queues.set(pending.timeout, queue);
    }
    this.#lastTimeout = pending.timeout;
    this.#lastQueue = queue;
    pending.queue = queue;
    pending.prev = queue.tail;
    if (queue.tail === undefined) queue.head = pending;
    else queue.tail.next = pending;
    queue.tail = pending;
    if (queue.timer === undefined) this.#arm(queue, pending.deadline);
  }

  #arm(queue: DeadlineQueue, deadline: number): void {
    queue.timer = this.#clock.setTimeout(
      () => this.#expire(queue),
      Math.max(0, deadline - this.#clock.now()),
    );
  }

  /** The head's deadline came: fail what is due, then arm for the next one. */
  #expire(queue: DeadlineQueue): void {
    queue.timer = undefined;
    const now = this.#clock.now();
    for (let p = queue.head; p !== undefined && p.deadline <= now; p = queue.head) {
      p.fail(new AskTimeoutError(p.address, p.timeout));
    }
    if (queue.head !== undefined && queue.timer === undefined) this.#arm(queue, queue.head.deadline);
  }
}
