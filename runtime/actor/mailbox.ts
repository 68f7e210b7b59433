// An actor's mailbox: envelopes in order, with plain local tells kept as their bare message.

import { type Envelope, tellEnvelope } from '../core/envelope.js';

/** The slot {@link Mailbox.shift} lends to {@link Mailbox.shiftInto}; emptied before `shift` returns. */
const SLOT: Envelope = tellEnvelope('', undefined);

/**
 * @internal FIFO of envelopes, able to put mail back at the front (stash, retry).
 *
 * A local tell with no sender or headers carries nothing but its message, so it is stored as the bare message
 * and given its envelope only when taken out. A backlog of a million tells then holds a million pointers (often
 * to one shared message) instead of a million envelopes the garbage collector must copy into old space; on
 * the way out the loop lends it a shared envelope ({@link shiftInto}). Slots come in pairs:
 * `[envelope | undefined, message]`.
 */
export class Mailbox {
  readonly #address: string;
  #buf: unknown[] = [];
  /** Capacity in pairs: a power of two, or 0 before the first push. */
  #cap = 0;
  #head = 0;
  #size = 0;

  constructor(address: string) {
    this.#address = address;
  }

  get length(): number {
    return this.#size;
  }

  push(envelope: Envelope): void {
    this.#put(envelope, undefined);
  }

  /** Appends a plain tell to this mailbox's actor (no sender, no headers). */
  pushTell(message: unknown): void {
    this.#put(undefined, message);
  }

  unshift(envelope: Envelope): void {
    if (this.#size === this.#cap) this.#grow();
    this.#head = (this.#head - 1) & (this.#cap - 1);
    this.#buf[2 * this.#head] = envelope;
    this.#buf[2 * this.#head + 1] = undefined;
    this.#size++;
  }

  shift(): Envelope | undefined {
    const envelope = this.shiftInto(SLOT);
    if (envelope !== SLOT) return envelope;
    // A bare tell: it gets an envelope of its own, the shared slot lets go of it.
    const message = SLOT.payload;
    SLOT.payload = undefined;
    return tellEnvelope(this.#address, message);
  }

  /**
   * Like {@link shift}, but a bare tell comes back in `slot` (its target and payload filled in) rather than in
   * an envelope of its own: the processing loop lends one envelope to every plain tell, so handling a backlog
   * allocates nothing. The caller copies the slot before anything may keep it.
   */
  shiftInto(slot: Envelope): Envelope | undefined {
    if (this.#size === 0) return undefined;
    const i = 2 * this.#head;
    const envelope = this.#buf[i] as Envelope | undefined;
    const message = this.#buf[i + 1];
    this.#buf[i] = undefined;
    this.#buf[i + 1] = undefined;
    this.#head = (this.#head + 1) & (this.#cap - 1);
    this.#size--;
    if (envelope !== undefined) return envelope;
    slot.target = this.#address;
    slot.payload = message;
    return slot;
  }

  #put(envelope: Envelope | undefined, message: unknown): void {
    if (this.#size === this.#cap) this.#grow();
    const i = 2 * ((this.#head + this.#size) & (this.#cap - 1));
    this.#buf[i] = envelope;
    this.#buf[i + 1] = message;
    this.#size++;
  }

  #grow(): void {
    const cap = this.#cap === 0 ? 4 : this.#cap * 2;
    const next = new Array<unknown>(2 * cap);
    for (let k = 0; k < this.#size; k++) {
      const from = 2 * ((this.#head + k) & (this.#cap - 1));
      next[2 * k] = this.#buf[from];
      next[2 * k + 1] = this.#buf[from + 1];
    }
    this.#buf = next;
    this.#cap = cap;
    this.#head = 0;
  }
}
