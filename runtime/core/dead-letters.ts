// The dead-letter office: every message that could not be delivered or handled ends here, counted and observable.

import type { WireError } from './errors.js';

/** A message that was not handled, and why. */
export interface DeadLetter {
  /** Intended receiver. */
  address: string;
  /** Error code saying why: `UNHANDLED`, `ACTOR_NOT_FOUND`, `ACTOR_STOPPED`, `ACTOR_CRASHED`, `MALFORMED_FRAME`, ... */
  reason: string;
  /**
   * The message, when it could be decoded. Listeners get it whole; in {@link DeadLetters.recent} it is
   * trimmed to a bounded size (see {@link MAX_RETAINED_MESSAGE_BYTES}).
   */
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
  /**
   * The most recent dead letters, oldest first: at most the system's `deadLetterBuffer` of them, each
   * trimmed to about {@link MAX_RETAINED_MESSAGE_BYTES} (see {@link DeadLetterOffice}).
   */
  recent(): DeadLetter[];
  /** Calls `listener` for each new dead letter (whole, untrimmed); returns the unsubscribe function. */
  subscribe(listener: (letter: DeadLetter) => void): () => void;
}

/**
 * Most a dead letter's message may weigh (roughly: string lengths, binary bytes, 8 per other value) to be kept
 * whole in the recent buffer. A heavier one is kept as `{ type, $truncated: <approximate size> }`.
 */
export const MAX_RETAINED_MESSAGE_BYTES = 4096;
/** Binary values up to this size are copied into the recent buffer; larger ones are replaced by a note. */
export const MAX_RETAINED_BINARY_BYTES = 256;
/** Longest error message (or stack) kept in the recent buffer, in characters. */
const MAX_RETAINED_TEXT = 2048;
const MAX_DEPTH = 8;
const MAX_ENTRIES = 256;
/** Distinct reason codes counted one by one; any further code is counted under {@link OTHER_REASONS}. */
const MAX_REASONS = 256;
/** The reason under which codes beyond the first 256 distinct ones are counted. */
export const OTHER_REASONS = 'OTHER';

/** The walk of one message: what is left of its budget, and whether it ran out. */
interface Budget {
  left: number;
  over: boolean;
}

/** A copy of a string that shares no memory with it (a slice would keep the whole original alive). */
function ownString(text: string, max: number): string {
  if (text.length <= max) return text;
  const head = text.slice(0, max);
  // Round-trips through an array of code units: the result is a flat string of its own.
  return `${String.fromCharCode(...Array.from(head, (c) => c.charCodeAt(0)))}… (${text.length} chars)`;
}

/**
 * `value`, or a copy of it that keeps no large buffer alive: binary views that are small are copied (a
 * decoded view would otherwise pin the whole network read buffer it points into), large ones are replaced
 * by a note. Marks `budget.over` when the value is too big or too deep to keep.
 */
function trim(value: unknown, depth: number, budget: Budget): unknown {
  if (budget.over) return undefined;
  if (value === null || typeof value !== 'object') {
    budget.left -= typeof value === 'string' ? value.length + 8 : 8;
    if (budget.left < 0) budget.over = true;
    return value;
  }
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) {
    const bytes = value.byteLength;
    if (bytes > MAX_RETAINED_BINARY_BYTES) {
      budget.left -= 32;
      return `[binary: ${bytes} bytes]`;
    }
    budget.left -= bytes + 8;
    if (budget.left < 0) budget.over = true;
    if (value instanceof ArrayBuffer) return value.byteLength === 0 ? value : value.slice(0);
    // A view over a larger buffer: copy it (TypedArray#slice copies; Buffer#slice would not).
    if (value.byteLength === value.buffer.byteLength) return value;
    return value instanceof Uint8Array
      ? Uint8Array.prototype.slice.call(value)
      : new Uint8Array(value.buffer, value.byteOffset, value.byteLength).slice();
  }
  if (depth >= MAX_DEPTH) {
    budget.over = true;
    return undefined;
  }
  if (Array.isArray(value)) {
    if (value.length > MAX_ENTRIES) {
      budget.over = true;
      return undefined;
    }
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      const kept = trim(item, depth + 1, budget);
      if (budget.over) return undefined;
      if (kept !== item) copy ??= value.slice(0, i);
      copy?.push(kept);
    }
    return copy ?? value;
  }
  if (value instanceof Map || value instanceof Set) {
    // Kept as they are when small, flat and holding nothing that would need a copy; else not kept.
    if (value.size > MAX_ENTRIES) budget.over = true;
    for (const entry of value.entries()) {
      if (budget.over) break;
      if (trim(entry, depth + 1, budget) !== entry) budget.over = true;
    }
    return budget.over ? undefined : value;
  }
  const keys = Object.keys(value);
  if (keys.length > MAX_ENTRIES) {
    budget.over = true;
    return undefined;
  }
  let entries: [string, unknown][] | undefined;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const item = (value as Record<string, unknown>)[key];
    budget.left -= key.length;
    const kept = trim(item, depth + 1, budget);
    if (budget.over) return undefined;
    if (kept !== item && entries === undefined) {
      entries = keys.slice(0, i).map((k) => [k, (value as Record<string, unknown>)[k]]);
    }
    entries?.push([key, kept]);
  }
  // fromEntries defines properties, so a `__proto__` key stays a key.
  return entries === undefined ? value : Object.fromEntries(entries);
}

/** A dead letter's message as the recent buffer keeps it: whole when small, else its type and size. */
export function retainedMessage(message: unknown): unknown {
  if (message === undefined) return undefined;
  const budget: Budget = { left: MAX_RETAINED_MESSAGE_BYTES, over: false };
  const kept = trim(message, 0, budget);
  if (!budget.over) return kept;
  const type = (message as { type?: unknown } | null)?.type;
  return {
    ...(typeof type === 'string' && { type: ownString(type, 128) }),
    $truncated: `message over ${MAX_RETAINED_MESSAGE_BYTES} bytes (or ${MAX_DEPTH} levels deep) not kept`,
  };
}

function retainedError(error: WireError | undefined): WireError | undefined {
  if (error === undefined) return undefined;
  const kept: WireError = {
    code: ownString(String(error.code), 128),
    message: ownString(String(error.message), MAX_RETAINED_TEXT),
  };
  if (error.data !== undefined) kept.data = retainedMessage(error.data);
  const stack = (error as { stack?: unknown }).stack;
  if (typeof stack === 'string') (kept as { stack?: string }).stack = ownString(stack, MAX_RETAINED_TEXT);
  return kept;
}

/**
 * @internal The writable office the system owns.
 *
 * Memory is bounded whatever arrives: counters (a total, and one per reason code, at most 256 codes, the rest
 * counted under `OTHER`), plus a ring of the last
 * `capacity` letters (the system's `deadLetterBuffer`, 1000 by default) in which each letter's message is
 * trimmed by {@link retainedMessage} to about {@link MAX_RETAINED_MESSAGE_BYTES} and holds no view into a
 * network buffer, and its error text to 2048 characters. So the ring holds at most about
 * `capacity × (4 KiB + 4 KiB of error text)`: 8 MiB by default, typically far less. Recording is O(1).
 */
export class DeadLetterOffice implements DeadLetters {
  #count = 0;
  #reasons = new Map<string, number>();
  /** The ring: `#size` letters from `#head`, wrapping. */
  readonly #ring: (DeadLetter | undefined)[];
  #head = 0;
  #size = 0;
  #listeners = new Set<(letter: DeadLetter) => void>();
  readonly #capacity: number;

  constructor(capacity: number) {
    this.#capacity = Math.max(0, Math.floor(capacity));
    this.#ring = new Array<DeadLetter | undefined>(Math.min(this.#capacity, 1024));
  }

  get count(): number {
    return this.#count;
  }

  byReason(): Record<string, number> {
    return Object.fromEntries(this.#reasons);
  }

  recent(): DeadLetter[] {
    const out: DeadLetter[] = [];
    const start = (this.#head - this.#size + this.#capacity) % this.#capacity;
    for (let i = 0; i < this.#size; i++) out.push(this.#ring[(start + i) % this.#capacity]!);
    return out;
  }

  subscribe(listener: (letter: DeadLetter) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  record(letter: DeadLetter): void {
    this.#count++;
    // Codes can come from other nodes' errors: the table of counts is bounded too.
    const reason =
      this.#reasons.has(letter.reason) || this.#reasons.size < MAX_REASONS ? letter.reason : OTHER_REASONS;
    this.#reasons.set(reason, (this.#reasons.get(reason) ?? 0) + 1);
    if (this.#capacity > 0) {
      this.#ring[this.#head] = {
        address: ownString(letter.address, MAX_RETAINED_TEXT),
        reason: ownString(letter.reason, 128),
        ...(letter.message !== undefined && { message: retainedMessage(letter.message) }),
        ...(letter.sender !== undefined && { sender: ownString(letter.sender, MAX_RETAINED_TEXT) }),
        ...(letter.error !== undefined && { error: retainedError(letter.error) }),
        at: letter.at,
      };
      this.#head = (this.#head + 1) % this.#capacity;
      if (this.#size < this.#capacity) this.#size++;
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
