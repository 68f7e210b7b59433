// Triggers: durable reminders (once, every, cron) that fire after their node died, cron schedules, and
// condition triggers that turn matching events into messages (how proactive agents start work).

export type {
  ConditionState,
  ConditionTriggerOptions,
  EventSource,
  TriggerSend,
  TriggerStats,
  Unsubscribe,
} from './condition.js';
export { ConditionTrigger, conditionTrigger } from './condition.js';
export { CronSchedule, MAX_CRON_LENGTH, parseCron } from './cron.js';
export { TriggerError, TriggerErrorCode } from './errors.js';
export type { RemindersOptions, ResolvedRemindersOptions } from './reminder-options.js';
export {
  DEFAULT_REMINDER_LEASE_MS,
  DEFAULT_REMINDER_MAX_MESSAGE_BYTES,
  DEFAULT_REMINDER_POLL_MS,
  MAX_REMINDER_NAME_LENGTH,
  resolveRemindersOptions,
} from './reminder-options.js';
export type { ActorReminders, ReminderInfo, ReminderMessage, ReminderOccurrence } from './reminders.js';
export { Reminders, reminders } from './reminders.js';
export type { ReminderSchedule } from './schedule.js';
export { MIN_REMINDER_EVERY_MS } from './schedule.js';
export type { TopicSourceOptions } from './sources.js';
export { topicSource } from './sources.js';
export type { TriggerWindow, WindowOptions } from './window.js';
export { DEFAULT_WINDOW_SIZE, MAX_WINDOW_SIZE } from './window.js';
