// Failures of reminders, schedules and condition triggers as TroupeErrors with stable codes.

import { TroupeError } from '../../runtime/index.js';

export const TriggerErrorCode = {
  /** A cron expression does not parse, or names a day that never comes (`0 0 31 2 *`). */
  InvalidCron: 'INVALID_CRON',
  /** The reminder service (or condition trigger) was closed. */
  Closed: 'TRIGGER_CLOSED',
  /** A reminder's stored record is not one this version understands (written by hand, or corrupted). */
  BadRecord: 'REMINDER_BAD_RECORD',
} as const;

export type TriggerErrorCode = (typeof TriggerErrorCode)[keyof typeof TriggerErrorCode];

export class TriggerError extends TroupeError {
  override readonly name = 'TriggerError';
  constructor(code: TriggerErrorCode, message: string, options: { cause?: unknown; data?: unknown } = {}) {
    super(code, message, options);
  }
}
