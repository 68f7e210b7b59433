// The cron parser against known firing times (UTC): steps, ranges, lists, names, month ends, leap years, and
// Vixie's day rule (both day fields restricted: either matches; one starting with `*`: both must).

import { describe, expect, it } from 'vitest';
import { parseCron, TriggerError } from '../../workflows/triggers/index.js';

const next = (expr: string, after: string) => new Date(parseCron(expr).next(Date.parse(after))).toISOString();

describe('cron next()', () => {
  it.each([
    ['* * * * *', '2026-12-01T10:07:30.000Z', '2026-12-01T10:08:00.000Z'],
    ['* * * * *', '2026-12-01T10:07:00.000Z', '2026-12-01T10:08:00.000Z'], // strictly after
    ['*/15 * * * *', '2026-12-01T10:07:30.000Z', '2026-12-01T10:15:00.000Z'],
    ['*/15 * * * *', '2026-12-01T10:45:00.000Z', '2026-12-01T11:00:00.000Z'],
    ['5,35 */6 * * *', '2026-12-01T06:36:00.000Z', '2026-12-01T12:05:00.000Z'],
    ['10-20/5 8 * * *', '2026-12-01T08:16:00.000Z', '2026-12-01T08:20:00.000Z'],
    ['10/20 8 * * *', '2026-12-01T08:31:00.000Z', '2026-12-01T08:50:00.000Z'],
    ['30 9 * * MON-FRI', '2026-12-04T10:00:00.000Z', '2026-12-07T09:30:00.000Z'], // Friday after 9:30 -> Monday
    ['0 0 * * 7', '2026-12-01T00:00:00.000Z', '2026-12-06T00:00:00.000Z'], // 7 is Sunday
    ['0 0 * * sun', '2026-12-01T00:00:00.000Z', '2026-12-06T00:00:00.000Z'],
    ['@hourly', '2026-12-01T10:00:00.000Z', '2026-12-01T11:00:00.000Z'],
    ['@daily', '2026-12-31T23:59:59.999Z', '2027-01-01T00:00:00.000Z'],
    ['@weekly', '2026-12-01T00:00:00.000Z', '2026-12-06T00:00:00.000Z'],
    ['@monthly', '2026-12-15T00:00:00.000Z', '2027-01-01T00:00:00.000Z'],
    ['@yearly', '2026-12-01T00:00:00.000Z', '2027-01-01T00:00:00.000Z'],
    ['0 0 1 JAN-MAR/2 *', '2027-01-02T00:00:00.000Z', '2027-03-01T00:00:00.000Z'],
    // Month ends: the 31st skips the months without one.
    ['0 0 31 * *', '2026-04-01T00:00:00.000Z', '2026-05-31T00:00:00.000Z'],
    ['0 0 31 * *', '2026-05-31T00:00:00.000Z', '2026-07-31T00:00:00.000Z'],
    ['59 23 31 12 *', '2026-12-31T23:59:00.000Z', '2027-12-31T23:59:00.000Z'],
    ['0 0 30 * *', '2027-01-31T00:00:00.000Z', '2027-03-30T00:00:00.000Z'], // no 30 February
    // Leap years: 29 February comes every four years (2100 is not one).
    ['0 0 29 2 *', '2025-03-01T00:00:00.000Z', '2028-02-29T00:00:00.000Z'],
    ['0 0 29 2 *', '2096-03-01T00:00:00.000Z', '2104-02-29T00:00:00.000Z'],
    // Both day fields restricted: the 13th OR a Friday (2026-12-04 is a Friday).
    ['0 12 13 * 5', '2026-12-01T00:00:00.000Z', '2026-12-04T12:00:00.000Z'],
    ['0 12 13 * 5', '2026-12-12T00:00:00.000Z', '2026-12-13T12:00:00.000Z'],
    ['0 0 29 2 1', '2027-02-02T00:00:00.000Z', '2027-02-08T00:00:00.000Z'], // a Monday, no 29th in 2027
    // Day of month `*/2` counts as `*`: the days must match both (odd days that are Fridays).
    ['0 12 */2 * 5', '2026-12-01T00:00:00.000Z', '2026-12-11T12:00:00.000Z'],
    ['0 12 13 * *', '2026-12-01T00:00:00.000Z', '2026-12-13T12:00:00.000Z'],
  ])('%s after %s is %s', (expr, after, expected) => {
    expect(next(expr, after)).toBe(expected);
  });

  it('chains: every next is the first firing after the previous one, and matches()', () => {
    const weekdays = parseCron('0 9,17 * * 1-5');
    let t = Date.parse('2026-12-03T18:00:00Z'); // Thursday evening
    const seen: string[] = [];
    for (let i = 0; i < 5; i++) {
      t = weekdays.next(t);
      expect(weekdays.matches(t)).toBe(true);
      seen.push(new Date(t).toISOString().slice(0, 16));
    }
    expect(seen).toEqual([
      '2026-12-04T09:00',
      '2026-12-04T17:00',
      '2026-12-07T09:00',
      '2026-12-07T17:00',
      '2026-12-08T09:00',
    ]);
    expect(weekdays.matches(Date.parse('2026-12-05T09:00:00Z'))).toBe(false); // Saturday
  });
});

describe('cron errors', () => {
  it.each([
    ['', 'expected 5 fields'],
    ['* * * *', 'expected 5 fields'],
    ['* * * * * *', 'expected 5 fields'],
    ['60 * * * *', 'outside 0-59'],
    ['* 24 * * *', 'outside 0-23'],
    ['* * 0 * *', 'outside 1-31'],
    ['* * * 13 *', 'outside 1-12'],
    ['* * * * 8', 'outside 0-7'],
    ['5-1 * * * *', 'backwards'],
    ['*/0 * * * *', 'bad step'],
    ['1,,2 * * * *', 'bad minute'],
    ['L * * * *', 'bad minute'],
    ['* * * FOO *', 'bad month'],
    ['1-2-3 * * * *', 'range'],
    ['*/5/2 * * * *', 'bad minute'],
    ['@every 5m', 'unknown macro'],
    ['0 0 30 2 *', 'no month'],
    ['0 0 31 4,6,9,11 *', 'no month'],
  ])('%j is INVALID_CRON (%s)', (expr, why) => {
    let caught: unknown;
    try {
      parseCron(expr);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(TriggerError);
    expect((caught as TriggerError).code).toBe('INVALID_CRON');
    expect((caught as Error).message).toContain(why);
  });

  it('rejects what is not a string, and overlong expressions', () => {
    expect(() => parseCron(5 as unknown as string)).toThrow(
      expect.objectContaining({ code: 'INVALID_CRON' }),
    );
    expect(() => parseCron(`${'1,'.repeat(150)}1 * * * *`)).toThrow(
      expect.objectContaining({ code: 'INVALID_CRON' }),
    );
  });
});
