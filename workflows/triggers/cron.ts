// Cron schedules: a five-field parser (minute hour day-of-month month day-of-week) and the next firing time, in
// UTC. Vixie cron's semantics: when both day fields are restricted a day matches either (OR); when one starts
// with `*` (including `*/n`) a day must match both.

import { TriggerError, TriggerErrorCode } from './errors.js';

/** Longest cron expression accepted, in characters. */
export const MAX_CRON_LENGTH = 200;

const MINUTE_MS = 60_000;

interface FieldSpec {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  /** Where `*` and `a/n` end, when not at `max` (Sunday is 0 and 7: `*\/2` should not take both). */
  readonly last?: number;
  readonly names?: readonly string[];
}

const FIELDS: readonly FieldSpec[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  {
    name: 'month',
    min: 1,
    max: 12,
    names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'],
  },
  // 7 is Sunday too, as in Vixie cron.
  { name: 'day of week', min: 0, max: 7, last: 6, names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] },
];

const MACROS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

/** Days in each month of a leap year: the most a day-of-month can ever be in that month. */
const MAX_DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function invalid(expression: string, why: string): TriggerError {
  return new TriggerError(TriggerErrorCode.InvalidCron, `invalid cron expression "${expression}": ${why}`, {
    data: { expression },
  });
}

function parseValue(text: string, spec: FieldSpec, expression: string): number {
  const named = spec.names?.indexOf(text.toUpperCase()) ?? -1;
  if (named >= 0) return spec.min + named;
  if (!/^[0-9]{1,2}$/.test(text)) throw invalid(expression, `bad ${spec.name} "${text}"`);
  const v = Number(text);
  if (v < spec.min || v > spec.max)
    throw invalid(expression, `${spec.name} ${v} is outside ${spec.min}-${spec.max}`);
  return v;
}

/** The values one field allows, as flags indexed by value. */
function parseField(text: string, spec: FieldSpec, expression: string): boolean[] {
  const allowed = new Array<boolean>(spec.max + 1).fill(false);
  for (const item of text.split(',')) {
    const [range = '', stepText, extra] = item.split('/');
    if (extra !== undefined || range === '') throw invalid(expression, `bad ${spec.name} "${item}"`);
    let step = 1;
    if (stepText !== undefined) {
      if (!/^[0-9]{1,2}$/.test(stepText) || Number(stepText) < 1)
        throw invalid(expression, `bad step "${stepText}" in the ${spec.name}`);
      step = Number(stepText);
    }
    let lo: number;
    let hi: number;
    if (range === '*') {
      lo = spec.min;
      hi = spec.last ?? spec.max;
    } else {
      const bounds = range.split('-');
      if (bounds.length > 2) throw invalid(expression, `bad ${spec.name} range "${range}"`);
      lo = parseValue(bounds[0] as string, spec, expression);
      // `a/n` means from a to the field's end, every n (as most crons read it).
      hi =
        bounds.length === 2
          ? parseValue(bounds[1] as string, spec, expression)
          : stepText
            ? (spec.last ?? spec.max)
            : lo;
      if (lo > hi) throw invalid(expression, `${spec.name} range "${range}" runs backwards`);
    }
    for (let v = lo; v <= hi; v += step) allowed[v] = true;
  }
  return allowed;
}

/**
 * A parsed cron schedule. Times are UTC milliseconds since the epoch; a schedule fires on minute boundaries.
 *
 * @example
 * const weekdays = parseCron('30 9 * * MON-FRI');
 * weekdays.next(Date.parse('2026-12-04T10:00:00Z')); // Monday 2026-12-07T09:30:00Z
 */
export class CronSchedule {
  readonly expression: string;
  readonly #minutes: boolean[];
  readonly #hours: boolean[];
  readonly #days: boolean[];
  readonly #months: boolean[];
  readonly #weekdays: boolean[];
  /** A day matches when both day fields match (one of them starts with `*`), else when either does. */
  readonly #both: boolean;

  constructor(expression: string) {
    if (typeof expression !== 'string') throw invalid(String(expression), 'expected a string');
    this.expression = expression;
    if (expression.length > MAX_CRON_LENGTH)
      throw invalid(expression.slice(0, 40), `longer than ${MAX_CRON_LENGTH} characters`);
    const trimmed = expression.trim();
    const source = MACROS[trimmed.toLowerCase()] ?? trimmed;
    if (source.startsWith('@')) throw invalid(expression, `unknown macro "${source}"`);
    const parts = source.split(/\s+/);
    if (parts.length !== 5)
      throw invalid(expression, `expected 5 fields (minute hour day month weekday), got ${parts.length}`);
    const [minutes, hours, days, months, weekdays] = parts.map((p, i) =>
      parseField(p, FIELDS[i] as FieldSpec, expression),
    ) as [boolean[], boolean[], boolean[], boolean[], boolean[]];
    if (weekdays[7]) weekdays[0] = true;
    this.#minutes = minutes;
    this.#hours = hours;
    this.#days = days;
    this.#months = months;
    this.#weekdays = weekdays;
    const daysStar = (parts[2] as string).startsWith('*');
    const weekdaysStar = (parts[4] as string).startsWith('*');
    this.#both = daysStar || weekdaysStar;
    // Only days of the month alone can name a day that never comes (the 30th of February).
    if (!daysStar && weekdaysStar) {
      const possible = MAX_DAYS.some((max, m) => months[m + 1] && days.some((on, d) => on && d <= max));
      if (!possible) throw invalid(expression, 'no month in it has that day');
    }
  }

  /** True when `time` (UTC ms, any second within the minute) is a firing minute. */
  matches(time: number): boolean {
    const d = new Date(time);
    return (
      this.#months[d.getUTCMonth() + 1] === true &&
      this.#dayMatches(d) &&
      this.#hours[d.getUTCHours()] === true &&
      this.#minutes[d.getUTCMinutes()] === true
    );
  }

  /** The first firing time strictly after `after` (UTC ms). */
  next(after: number): number {
    if (!Number.isFinite(after)) throw new RangeError(`next(${after}): expected a finite time`);
    let t = Math.floor(after / MINUTE_MS) * MINUTE_MS + MINUTE_MS;
    // Each pass jumps a month, a day, an hour or to an allowed minute: a few thousand passes cover decades.
    for (let pass = 0; pass < 100_000; pass++) {
      const d = new Date(t);
      const y = d.getUTCFullYear();
      const mo = d.getUTCMonth();
      const day = d.getUTCDate();
      const h = d.getUTCHours();
      if (!this.#months[mo + 1]) {
        t = Date.UTC(y, mo + 1, 1);
      } else if (!this.#dayMatches(d)) {
        t = Date.UTC(y, mo, day + 1);
      } else if (!this.#hours[h]) {
        t = Date.UTC(y, mo, day, h + 1);
      } else {
        const minute = this.#minutes.indexOf(true, d.getUTCMinutes());
        if (minute >= 0) return Date.UTC(y, mo, day, h, minute);
        t = Date.UTC(y, mo, day, h + 1);
      }
    }
    throw invalid(this.expression, `no firing time found after ${new Date(after).toISOString()}`);
  }

  toString(): string {
    return this.expression;
  }

  #dayMatches(d: Date): boolean {
    const dom = this.#days[d.getUTCDate()] === true;
    const dow = this.#weekdays[d.getUTCDay()] === true;
    return this.#both ? dom && dow : dom || dow;
  }
}

/**
 * Parses a five-field cron expression (`*`, `a`, `a-b`, `*\/n`, `a-b/n`, `a/n`, lists, month and weekday names,
 * `@hourly`/`@daily`/`@weekly`/`@monthly`/`@yearly`), evaluated in UTC. Throws `INVALID_CRON` on bad input.
 */
export function parseCron(expression: string): CronSchedule {
  return new CronSchedule(expression);
}
