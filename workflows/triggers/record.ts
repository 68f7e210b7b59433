// A reminder as stored: one JSON value per reminder under `<prefix>.<target token>.<name token>`, with the
// claim of the node firing its current occurrence.

import { kvToken } from '../../runtime/index.js';
import { TriggerError, TriggerErrorCode } from './errors.js';

/** Who is firing the current occurrence, until when (past it, any node may take over). */
export interface ReminderClaim {
  readonly node: string;
  readonly until: number;
}

/** The stored form of a reminder. */
export interface ReminderRecord {
  readonly v: 1;
  /** The address the message goes to (`$v/<type>/<id>` for a virtual actor). */
  readonly target: string;
  readonly name: string;
  readonly message: { readonly type: string } & Record<string, unknown>;
  /** When the current occurrence is due (ms since the epoch). */
  readonly dueAt: number;
  readonly every?: number;
  readonly cron?: string;
  /** Occurrences fired so far. */
  readonly fired: number;
  readonly claim?: ReminderClaim;
}

/** Default key prefix of reminders in their store. */
export const DEFAULT_REMINDER_PREFIX = 'reminders';

/** The key of reminder `name` of `target`. */
export function reminderKey(prefix: string, target: string, name: string): string {
  return `${prefix}.${kvToken(target)}.${kvToken(name)}`;
}

/** The key prefix of every reminder of `target` (ends with '.'). */
export function targetPrefix(prefix: string, target: string): string {
  return `${prefix}.${kvToken(target)}.`;
}

/** The id of one occurrence: the same on every node and every retry, so a handler or a store can dedupe it. */
export function occurrenceId(record: Pick<ReminderRecord, 'name' | 'dueAt'>): string {
  return `${record.name}@${record.dueAt}`;
}

export function encodeRecord(record: ReminderRecord): string {
  return JSON.stringify(record);
}

const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Parses a stored value; throws `REMINDER_BAD_RECORD` for anything that is not a reminder. */
export function decodeRecord(key: string, value: string): ReminderRecord {
  let r: unknown;
  try {
    r = JSON.parse(value);
  } catch (err) {
    throw new TriggerError(TriggerErrorCode.BadRecord, `reminder ${key} is not JSON`, { cause: err });
  }
  const o = r as Partial<ReminderRecord> | null;
  const ok =
    typeof o === 'object' &&
    o !== null &&
    o.v === 1 &&
    typeof o.target === 'string' &&
    typeof o.name === 'string' &&
    typeof o.message === 'object' &&
    o.message !== null &&
    typeof o.message.type === 'string' &&
    isTime(o.dueAt) &&
    isTime(o.fired) &&
    (o.every === undefined || (isTime(o.every) && o.every > 0)) &&
    (o.cron === undefined || typeof o.cron === 'string') &&
    (o.claim === undefined || (typeof o.claim === 'object' && o.claim !== null && isTime(o.claim.until)));
  if (!ok)
    throw new TriggerError(TriggerErrorCode.BadRecord, `reminder ${key} is malformed`, { data: { key } });
  return o as ReminderRecord;
}
