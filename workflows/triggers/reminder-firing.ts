// The firing side of reminders (as BullMQ's Worker is to its Queue): it follows the store (a watch, or polls),
// keeps the due times in a heap with one timer, and for each due occurrence claims the reminder by
// compare-and-set, delivers, then advances or deletes it. A claim not finished (its node died, its send failed)
// ends after the lease, and any node fires the occurrence again.

import { KeyValueError, type KeyValueStore, type KvEntry, KvErrorCode } from '../../runtime/index.js';
import { DueQueue } from './due-queue.js';
import { LogGate } from './log-gate.js';
import { decodeRecord, encodeRecord, occurrenceId, type ReminderRecord } from './record.js';
import type { ResolvedRemindersOptions } from './reminder-options.js';
import { nextOccurrence } from './schedule.js';

/** Timers are set at most this far ahead; a longer wait is a chain of them (setTimeout caps at ~24.8 days). */
const MAX_TIMER_MS = 60 * 60_000;
/** Wait before trying again a store operation that failed (the store is down). */
const STORE_RETRY_MS = 1000;

interface Known {
  record: ReminderRecord;
  revision: number;
}

const isMismatch = (err: unknown) =>
  err instanceof KeyValueError &&
  (err.code === KvErrorCode.RevisionMismatch || err.code === KvErrorCode.Exists);

/** When to look at a reminder next: when due, or when the claim on it ends. */
const wakeAt = (r: ReminderRecord): number =>
  r.claim !== undefined ? Math.max(r.dueAt, r.claim.until) : r.dueAt;

/** @internal One node's firing of the reminders in a store. */
export class ReminderFiring {
  readonly #o: ResolvedRemindersOptions;
  readonly #kv: KeyValueStore;
  readonly #gate: LogGate;
  readonly #known = new Map<string, Known>();
  readonly #due = new DueQueue();
  /** Keys this node is firing now: one firing per key at a time. */
  readonly #firing = new Set<string>();
  readonly #inflight = new Set<Promise<void>>();
  #timer: unknown;
  #timerAt = Number.POSITIVE_INFINITY;
  #unwatch: (() => void) | undefined;
  #pollTimer: unknown;
  /** Set by stop: no new occurrence is taken, no write is applied. */
  #stopping = false;
  /** Occurrences this node delivered. */
  delivered = 0;

  constructor(options: ResolvedRemindersOptions) {
    this.#o = options;
    this.#kv = options.kv;
    this.#gate = new LogGate(options.logger, options.clock);
  }

  /** Follows the store: its watch, or a read every `pollMs`. */
  start(): void {
    const watch = this.#kv.watch;
    if (watch !== undefined)
      this.#unwatch = watch.call(this.#kv, `${this.#o.prefix}.`, (key, entry) => this.#seen(key, entry));
    else void this.#poll();
  }

  /** The reminders under `prefix` as last seen (for stores that cannot list keys). */
  seenUnder(prefix: string): ReminderRecord[] {
    return [...this.#known].filter(([key]) => key.startsWith(prefix)).map(([, k]) => k.record);
  }

  /** Takes no more occurrences; those in flight go on (their claims cover them). */
  stop(): void {
    this.#stopping = true;
    this.#unwatch?.();
    this.#unwatch = undefined;
    if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
    if (this.#pollTimer !== undefined) this.#o.clock.clearTimeout(this.#pollTimer);
    this.#timer = undefined;
    this.#pollTimer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    this.#due.clear();
    this.#known.clear();
  }

  /** Resolves when the occurrences in flight are done. */
  async settled(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
  }

  /** A key was written or deleted (from the watch, a poll, or a re-read after a lost compare-and-set). */
  #seen(key: string, entry: KvEntry | undefined): void {
    if (this.#stopping) return;
    if (entry === undefined) {
      this.#known.delete(key);
      return;
    }
    const known = this.#known.get(key);
    // The watch may lag behind a re-read: never go back to an older revision.
    if (known !== undefined && known.revision >= entry.revision) return;
    let record: ReminderRecord;
    try {
      record = decodeRecord(key, entry.value);
    } catch (err) {
      this.#gate.warn('bad-record', 'reminder record skipped', () => ({ key, err }));
      this.#known.delete(key);
      return;
    }
    this.#known.set(key, { record, revision: entry.revision });
    this.#schedule({ at: wakeAt(record), key, revision: entry.revision });
  }

  #schedule(item: { at: number; key: string; revision: number }): void {
    this.#due.push(item);
    // Rewrites leave stale entries behind until their time comes: rebuild when they outnumber the live ones.
    if (this.#due.size > 4 * this.#known.size + 1024) {
      this.#due.clear();
      for (const [key, k] of this.#known) this.#due.push({ at: wakeAt(k.record), key, revision: k.revision });
    }
    this.#arm();
  }

  /** Sets the one timer for the earliest wake-up. */
  #arm(): void {
    if (this.#stopping) return;
    const next = this.#due.peek();
    if (next === undefined) return;
    if (this.#timer !== undefined && this.#timerAt <= next.at) return;
    if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
    const delay = Math.min(Math.max(0, next.at - this.#o.clock.now()), MAX_TIMER_MS);
    this.#timerAt = next.at;
    this.#timer = this.#o.clock.setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Number.POSITIVE_INFINITY;
      this.#tick();
    }, delay);
    (this.#timer as { unref?: () => void } | undefined)?.unref?.();
  }

  #tick(): void {
    if (this.#stopping) return;
    const now = this.#o.clock.now();
    for (let top = this.#due.peek(); top !== undefined && top.at <= now; top = this.#due.peek()) {
      this.#due.pop();
      const known = this.#known.get(top.key);
      if (known === undefined || known.revision !== top.revision || this.#firing.has(top.key)) continue;
      this.#track(this.#fireOne(top.key, known));
    }
    this.#arm();
  }

  #track(p: Promise<void>): void {
    this.#inflight.add(p);
    void p.finally(() => this.#inflight.delete(p));
  }

  async #fireOne(key: string, known: Known): Promise<void> {
    const { record, revision } = known;
    const now = this.#o.clock.now();
    if (record.dueAt > now) return this.#schedule({ at: record.dueAt, key, revision });
    if (record.claim !== undefined && record.claim.until > now)
      return this.#schedule({ at: record.claim.until, key, revision });
    this.#firing.add(key);
    try {
      // The claim: exactly one node wins this revision.
      const claimed: ReminderRecord = {
        ...record,
        claim: { node: this.#o.system.nodeId, until: now + this.#o.leaseMs },
      };
      let claimRevision: number;
      try {
        claimRevision = await this.#kv.update(key, encodeRecord(claimed), revision);
      } catch (err) {
        if (isMismatch(err)) return void (await this.#reread(key));
        return this.#storeFailed(key, revision, 'claim', err);
      }
      this.#seenOwn(key, claimed, claimRevision);
      const occurrence = occurrenceId(record);
      const message = {
        ...record.message,
        reminder: { name: record.name, occurrence, dueAt: record.dueAt },
      };
      try {
        await this.#o.system
          .ref(record.target)
          .send(message, { messageId: `reminder:${record.target}:${occurrence}` });
      } catch (err) {
        // The claim stays: when its lease ends, any node (this one too) delivers the occurrence again.
        this.#gate.warn(
          `deliver:${record.target}`,
          'reminder not delivered; retried after its lease',
          () => ({
            target: record.target,
            name: record.name,
            occurrence,
            err,
          }),
        );
        return;
      }
      this.delivered++;
      await this.#advance(key, record, claimRevision);
    } finally {
      this.#firing.delete(key);
    }
  }

  /** After a delivery: the next occurrence, or the end of a one-shot. */
  async #advance(key: string, record: ReminderRecord, claimRevision: number): Promise<void> {
    const next = nextOccurrence(record, this.#o.clock.now());
    try {
      if (next === undefined) {
        // Delete only what this node claimed: the reminder may have been set anew meanwhile.
        const current = await this.#kv.get(key);
        if (current?.revision === claimRevision) await this.#kv.delete(key);
        return;
      }
      const { claim: _claim, ...rest } = record;
      const advanced: ReminderRecord = { ...rest, dueAt: next, fired: record.fired + 1 };
      const revision = await this.#kv.update(key, encodeRecord(advanced), claimRevision);
      this.#seenOwn(key, advanced, revision);
    } catch (err) {
      if (isMismatch(err)) return; // cancelled or set anew while it fired: the new record stands
      // The occurrence was delivered but not recorded: its lease ends and it is delivered again (deduped by id).
      this.#gate.warn('advance', 'reminder fired but not advanced; it will fire again', () => ({ key, err }));
    }
  }

  /** Applies this node's own write at once, not waiting for the watch to echo it. */
  #seenOwn(key: string, record: ReminderRecord, revision: number): void {
    this.#seen(key, { value: encodeRecord(record), revision });
  }

  async #reread(key: string): Promise<void> {
    try {
      const entry = await this.#kv.get(key);
      if (entry === undefined) this.#known.delete(key);
      else this.#seen(key, entry);
    } catch (err) {
      const known = this.#known.get(key);
      if (known !== undefined) this.#storeFailed(key, known.revision, 'read', err);
    }
  }

  #storeFailed(key: string, revision: number, what: string, err: unknown): void {
    this.#gate.warn(`store:${what}`, 'reminder store failed; trying again', () => ({ key, err }));
    this.#schedule({ at: this.#o.clock.now() + STORE_RETRY_MS, key, revision });
  }

  /** Without a watch: read every reminder each `pollMs`. */
  async #poll(): Promise<void> {
    if (this.#stopping) return;
    try {
      const keys = (await this.#kv.keys?.(`${this.#o.prefix}.`)) ?? [];
      const present = new Set(keys);
      for (const key of [...this.#known.keys()]) if (!present.has(key)) this.#known.delete(key);
      const entries = await Promise.all(keys.map((key) => this.#kv.get(key)));
      entries.forEach((entry, i) => {
        this.#seen(keys[i] as string, entry);
      });
    } catch (err) {
      this.#gate.warn('store:poll', 'reading reminders failed; trying again', () => ({ err }));
    }
    if (this.#stopping) return;
    this.#pollTimer = this.#o.clock.setTimeout(() => void this.#poll(), this.#o.pollMs);
    (this.#pollTimer as { unref?: () => void } | undefined)?.unref?.();
  }
}
