// Durable reminders: messages an actor gets at a time, every period or on a cron schedule, kept in a
// KeyValueStore so they fire whichever node is alive. Every node runs the service; for each occurrence one node
// claims the reminder by compare-and-set, delivers, then advances or deletes it. A claim whose node died before
// it finished expires after a lease and another node fires the occurrence again: at least once, with an
// occurrence id (in the message, and as the durable message id) to dedupe by.

import { type AnyActorRef, InvalidOptionsError } from '../../runtime/index.js';
import { TriggerError, TriggerErrorCode } from './errors.js';
import { decodeRecord, encodeRecord, type ReminderRecord, reminderKey, targetPrefix } from './record.js';
import { ReminderFiring } from './reminder-firing.js';
import {
  MAX_REMINDER_NAME_LENGTH,
  type RemindersOptions,
  type ResolvedRemindersOptions,
  resolveRemindersOptions,
} from './reminder-options.js';
import { type ReminderSchedule, resolveSchedule } from './schedule.js';

/** What a reminder adds to the message it delivers. */
export interface ReminderOccurrence {
  /** The reminder's name. */
  readonly name: string;
  /** `<name>@<dueAt>`: the same for every delivery of this occurrence, on any node. */
  readonly occurrence: string;
  /** When it was due (ms since the epoch); it is delivered at or after that. */
  readonly dueAt: number;
}

/** The message a reminder delivers: the one given to `set`, with `reminder` added. */
export type ReminderMessage<M extends { type: string } = { type: string }> = M & {
  readonly reminder: ReminderOccurrence;
};

/** A reminder as `list` and `get` report it. */
export interface ReminderInfo {
  readonly target: string;
  readonly name: string;
  readonly message: { readonly type: string } & Record<string, unknown>;
  /** When its next occurrence is due. */
  readonly dueAt: number;
  readonly every?: number;
  readonly cron?: string;
  /** Occurrences fired so far. */
  readonly fired: number;
}

/** The reminders of one actor, for use inside its handlers (`service.of(ctx.self)`). */
export interface ActorReminders {
  set(name: string, schedule: ReminderSchedule, message: { type: string }): Promise<ReminderInfo>;
  cancel(name: string): Promise<boolean>;
  list(): Promise<ReminderInfo[]>;
}

function infoOf(r: ReminderRecord): ReminderInfo {
  return {
    target: r.target,
    name: r.name,
    message: r.message,
    dueAt: r.dueAt,
    ...(r.every === undefined ? {} : { every: r.every }),
    ...(r.cron === undefined ? {} : { cron: r.cron }),
    fired: r.fired,
  };
}

/**
 * The reminder service of one node. Create with {@link reminders}; dispose with `close()`, `drain()` or
 * `await using`.
 */
export class Reminders {
  readonly #o: ResolvedRemindersOptions;
  readonly #firing: ReminderFiring | undefined;
  #closed = false;
  #closedResolve!: (reason: Error | undefined) => void;
  readonly #closedPromise = new Promise<Error | undefined>((r) => {
    this.#closedResolve = r;
  });

  /** @internal Use {@link reminders}. */
  constructor(options: ResolvedRemindersOptions) {
    this.#o = options;
    this.#firing = options.fire ? new ReminderFiring(options) : undefined;
    this.#firing?.start();
  }

  /** Occurrences delivered by this node since it started. */
  get delivered(): number {
    return this.#firing?.delivered ?? 0;
  }

  /**
   * Sets (or replaces) reminder `name` of `target`: at each occurrence, `target` gets `message` with
   * `reminder: { name, occurrence, dueAt }` added (replacing any `reminder` field). Target a virtual actor
   * (`$v/<type>/<id>`, or its ref) so the message finds it wherever it lives; make its type durable for
   * at-least-once delivery through node deaths (a non-durable one gets it at most once).
   *
   * @example
   * await service.set(system.virtual('invoice', 'inv-7'), 'chase', { every: 86_400_000 }, { type: 'chase' });
   */
  async set(
    target: string | AnyActorRef,
    name: string,
    schedule: ReminderSchedule,
    message: { type: string },
  ): Promise<ReminderInfo> {
    this.#assertOpen();
    const address = this.#address(target);
    this.#assertName(name);
    const body = this.#checkMessage(message);
    const when = resolveSchedule(schedule, this.#o.clock.now());
    const record: ReminderRecord = {
      v: 1,
      target: address,
      name,
      message: body,
      dueAt: when.dueAt,
      ...(when.every === undefined ? {} : { every: when.every }),
      ...(when.cron === undefined ? {} : { cron: when.cron }),
      fired: 0,
    };
    await this.#o.kv.put(reminderKey(this.#o.prefix, address, name), encodeRecord(record));
    return infoOf(record);
  }

  /** Cancels reminder `name` of `target`; false when there was none. An occurrence being delivered may still arrive. */
  async cancel(target: string | AnyActorRef, name: string): Promise<boolean> {
    this.#assertOpen();
    const address = this.#address(target);
    this.#assertName(name);
    const key = reminderKey(this.#o.prefix, address, name);
    if ((await this.#o.kv.get(key)) === undefined) return false;
    await this.#o.kv.delete(key);
    return true;
  }

  /** Reminder `name` of `target`, if set. */
  async get(target: string | AnyActorRef, name: string): Promise<ReminderInfo | undefined> {
    this.#assertOpen();
    const address = this.#address(target);
    this.#assertName(name);
    const key = reminderKey(this.#o.prefix, address, name);
    const entry = await this.#o.kv.get(key);
    return entry === undefined ? undefined : infoOf(decodeRecord(key, entry.value));
  }

  /** The reminders of `target`, by name. */
  async list(target: string | AnyActorRef): Promise<ReminderInfo[]> {
    this.#assertOpen();
    const address = this.#address(target);
    const prefix = targetPrefix(this.#o.prefix, address);
    let records: ReminderRecord[];
    if (this.#o.kv.keys !== undefined) {
      const keys = await this.#o.kv.keys(prefix);
      const entries = await Promise.all(keys.map((key) => this.#o.kv.get(key)));
      records = [];
      entries.forEach((entry, i) => {
        if (entry === undefined) return;
        try {
          records.push(decodeRecord(keys[i] as string, entry.value));
        } catch {
          // a malformed record is no reminder; the firing side logs it
        }
      });
    } else {
      records = this.#firing?.seenUnder(prefix) ?? [];
    }
    return records.map(infoOf).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** The reminders of one actor: `service.of(ctx.self)` inside its handlers. */
  of(target: string | AnyActorRef): ActorReminders {
    const address = this.#address(target);
    return {
      set: (name, schedule, message) => this.set(address, name, schedule, message),
      cancel: (name) => this.cancel(address, name),
      list: () => this.list(address),
    };
  }

  /** Stops firing now; an occurrence being delivered finishes in the background (its claim covers it). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#firing?.stop();
    this.#closedResolve(undefined);
  }

  /** Stops taking occurrences, waits for those being delivered, then closes. */
  async drain(): Promise<void> {
    if (this.#closed) return;
    this.#firing?.stop();
    await this.#firing?.settled();
    await this.close();
  }

  /** Resolves when the service closed. */
  closed(): Promise<Error | undefined> {
    return this.#closedPromise;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.drain();
  }

  // --- checks -----------------------------------------------------------------------------------------------

  #assertOpen(): void {
    if (this.#closed) throw new TriggerError(TriggerErrorCode.Closed, 'the reminder service is closed');
  }

  #address(target: string | AnyActorRef): string {
    const address =
      typeof target === 'string'
        ? target
        : typeof target === 'object' && target !== null && typeof target.address === 'string'
          ? target.address
          : undefined;
    if (address === undefined || address === '')
      throw new InvalidOptionsError('target', 'expected an address or an actor ref');
    this.#o.system.ref(address); // throws INVALID_NAME for an address no actor can have
    return address;
  }

  #assertName(name: string): void {
    if (typeof name !== 'string' || name === '' || name.length > MAX_REMINDER_NAME_LENGTH)
      throw new InvalidOptionsError('name', `expected 1 to ${MAX_REMINDER_NAME_LENGTH} characters`);
  }

  #checkMessage(message: { type: string }): ReminderRecord['message'] {
    if (typeof message !== 'object' || message === null || Array.isArray(message))
      throw new InvalidOptionsError('message', 'expected an object with a string `type`');
    if (typeof message.type !== 'string' || message.type === '')
      throw new InvalidOptionsError('message.type', 'expected a non-empty string');
    let json: string;
    try {
      json = JSON.stringify(message);
    } catch (err) {
      throw new InvalidOptionsError('message', `not JSON-encodable: ${(err as Error).message}`);
    }
    if (Buffer.byteLength(json) > this.#o.maxMessageBytes)
      throw new InvalidOptionsError('message', `larger than ${this.#o.maxMessageBytes} bytes as JSON`);
    // Stored as JSON: what arrives is what JSON keeps (no functions, no undefined fields, no prototypes).
    return JSON.parse(json) as ReminderRecord['message'];
  }
}

/**
 * Starts the reminder service of one node: run it on every node of a fleet (all on one `natsKeyValue` store);
 * each occurrence is fired by one of them, at least once even if nodes die. Times are wall-clock ms: nodes'
 * clocks should agree (NTP). Occurrences missed while no node ran fire once, late, then the schedule resumes.
 *
 * @example
 * const service = reminders({ system, kv: await natsKeyValue({ transport: system.transport }) });
 * await service.set(system.virtual('invoice', 'inv-7'), 'due', { afterMs: 86_400_000 }, { type: 'overdue' });
 * // inside a handler: await service.of(ctx.self).set('tick', { cron: '0 * * * *' }, { type: 'tick' });
 */
export function reminders(options: RemindersOptions): Reminders {
  return new Reminders(resolveRemindersOptions(options));
}
