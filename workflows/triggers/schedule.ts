// When a reminder fires: once (`at`, `afterMs`), every so often (`every`), or on a cron schedule (`cron`, UTC).

import { InvalidOptionsError } from '../../runtime/index.js';
import { parseCron } from './cron.js';

/** Shortest `every` accepted, in ms: a reminder is a stored record, not a tight loop. */
export const MIN_REMINDER_EVERY_MS = 100;

/**
 * When a reminder fires. Give one of `at`, `afterMs`, `every` or `cron`; `every` may also take `at` or `afterMs`
 * for its first firing (by default one period from now).
 *
 * @example
 * { afterMs: 30_000 }                       // once, in 30 s
 * { at: Date.parse('2027-01-01T00:00:00Z') } // once, then
 * { every: 60_000 }                         // every minute, from a minute from now
 * { cron: '0 9 * * MON-FRI' }               // 09:00 UTC on weekdays
 */
export interface ReminderSchedule {
  /** Fire at this time (ms since the epoch, or a Date). */
  at?: number | Date;
  /** Fire this many ms from now. */
  afterMs?: number;
  /** Fire again every this many ms (at least {@link MIN_REMINDER_EVERY_MS}). */
  every?: number;
  /** A five-field cron expression, evaluated in UTC (see `parseCron`). */
  cron?: string;
}

/** A schedule checked and placed in time. */
export interface ResolvedSchedule {
  readonly dueAt: number;
  readonly every?: number;
  readonly cron?: string;
}

const bad = (field: string, why: string) => new InvalidOptionsError(`schedule.${field}`, why);

/** Checks `schedule` and computes its first firing time after `now`; throws `INVALID_OPTIONS` / `INVALID_CRON`. */
export function resolveSchedule(schedule: ReminderSchedule, now: number): ResolvedSchedule {
  if (typeof schedule !== 'object' || schedule === null || Array.isArray(schedule))
    throw new InvalidOptionsError('schedule', 'expected { at | afterMs | every | cron }');
  const { at, afterMs, every, cron } = schedule;
  const given = [at, afterMs, every, cron].filter((v) => v !== undefined).length;
  if (given === 0) throw new InvalidOptionsError('schedule', 'give one of at, afterMs, every or cron');
  if (at !== undefined && afterMs !== undefined) throw bad('at', 'give at or afterMs, not both');
  if (cron !== undefined && given > 1) throw bad('cron', 'cron takes no at, afterMs or every');
  let first: number | undefined;
  if (at !== undefined) {
    first = at instanceof Date ? at.getTime() : at;
    if (typeof first !== 'number' || !Number.isFinite(first)) throw bad('at', 'expected a time or a Date');
  }
  if (afterMs !== undefined) {
    if (typeof afterMs !== 'number' || !Number.isFinite(afterMs) || afterMs < 0)
      throw bad('afterMs', `expected a non-negative number, got ${String(afterMs)}`);
    first = now + afterMs;
  }
  if (every !== undefined) {
    if (typeof every !== 'number' || !Number.isFinite(every) || every < MIN_REMINDER_EVERY_MS)
      throw bad('every', `expected a number of ms >= ${MIN_REMINDER_EVERY_MS}, got ${String(every)}`);
    return { dueAt: Math.round(first ?? now + every), every: Math.round(every) };
  }
  if (cron !== undefined) {
    if (typeof cron !== 'string') throw bad('cron', 'expected a cron expression');
    return { dueAt: parseCron(cron).next(now), cron };
  }
  return { dueAt: Math.round(first as number) };
}

/**
 * The occurrence after the one due at `dueAt`, given it fires at `now`; undefined for a one-shot. Occurrences
 * missed while no node ran are coalesced: the late one fires once, then the schedule resumes after `now`.
 */
export function nextOccurrence(
  schedule: { dueAt: number; every?: number | undefined; cron?: string | undefined },
  now: number,
): number | undefined {
  if (schedule.every !== undefined) {
    const periods = Math.max(1, Math.floor((now - schedule.dueAt) / schedule.every) + 1);
    return schedule.dueAt + periods * schedule.every;
  }
  if (schedule.cron !== undefined) return parseCron(schedule.cron).next(Math.max(schedule.dueAt, now));
  return undefined;
}
