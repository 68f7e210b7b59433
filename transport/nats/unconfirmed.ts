// Publishes kept until the server has had its say: a no-responders status for them comes back before the
// answer to a later flush, so what did not come back by then reached a subscriber.

import type { Clock, TimerHandle } from '../../runtime/index.js';
import type { Envelope } from '../../runtime/internal.js';

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

  /** The item published as `id`, left in place; undefined once confirmed or overwritten. */
  peek(id: number): T | undefined {
    const slot = id % this.#size;
    return this.#ids[slot] === id ? this.#items[slot] : undefined;
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

/** Asks that may still bounce, at most. A power of two: slots are taken from the correlation id's low bits. */
const ASK_RING = 65_536;

/**
 * The slot of a correlation id: its value as a base-36 number, modulo 2^32. A system's ids are base-36
 * sequence numbers, so consecutive asks take consecutive slots and never collide within the ring; any other
 * string still hashes to some slot, and is checked against the kept envelope.
 */
function correlationSlot(correlationId: string): number {
  let h = 0;
  for (let i = 0; i < correlationId.length; i++) {
    const c = correlationId.charCodeAt(i);
    h = (Math.imul(h, 36) + (c <= 57 ? c - 48 : c - 87)) >>> 0;
  }
  return h & (ASK_RING - 1);
}

/**
 * @internal Asks to virtual actors that may still bounce: an {@link UnconfirmedRing} of their envelopes, found
 * again by correlation id (the status of an ask comes back on `<node>.$r.<correlation id>`), with each ask's
 * place in the send order. Nothing is allocated per ask: a pointer and two numbers are written.
 */
export class AskRing {
  readonly #ring: UnconfirmedRing<Envelope>;
  /** By publish id slot: the ask's place in the send order. */
  readonly #order = new Float64Array(ASK_RING);
  /** By correlation slot: the publish id. */
  readonly #publishIds = new Float64Array(ASK_RING);

  constructor(clock: Clock, flush: () => Promise<void>) {
    this.#ring = new UnconfirmedRing(ASK_RING, clock, flush);
  }

  /** Keeps an ask just published; `order` is its place in the send order. */
  add(envelope: Envelope, order: number): void {
    const publishId = this.#ring.add(envelope);
    this.#order[publishId % ASK_RING] = order;
    this.#publishIds[correlationSlot(envelope.correlationId!)] = publishId;
  }

  /** The ask `correlationId` if still kept, removed; undefined once confirmed, overwritten or never kept. */
  take(correlationId: string): { envelope: Envelope; order: number } | undefined {
    const publishId = this.#publishIds[correlationSlot(correlationId)]!;
    const envelope = this.#ring.peek(publishId);
    if (envelope?.correlationId !== correlationId) return undefined;
    this.#ring.take(publishId);
    return { envelope, order: this.#order[publishId % ASK_RING]! };
  }

  close(): void {
    this.#ring.close();
  }
}
