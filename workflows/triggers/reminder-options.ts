// The options of the reminder service, their defaults and their checks.

import {
  type ActorSystem,
  type Clock,
  InvalidOptionsError,
  type KeyValueStore,
  type Logger,
} from '../../runtime/index.js';
import { DEFAULT_REMINDER_PREFIX } from './record.js';

/** Default lease of a claim: how long a node may take to deliver one occurrence before another may. */
export const DEFAULT_REMINDER_LEASE_MS = 10_000;
/** Default interval of reading the store when it cannot be watched. */
export const DEFAULT_REMINDER_POLL_MS = 1000;
/** Default bound on a reminder's message, JSON-encoded. */
export const DEFAULT_REMINDER_MAX_MESSAGE_BYTES = 64 * 1024;
/** Longest reminder name. */
export const MAX_REMINDER_NAME_LENGTH = 200;
/** Options of {@link reminders}. */
export interface RemindersOptions {
  /** The node: resolves targets, delivers, names claims (`nodeId`); its clock and logger are the defaults. */
  system: ActorSystem;
  /** Where reminders live: `natsKeyValue(...)` for a fleet, `memoryKeyValue()` for one process. Not closed here. */
  kv: KeyValueStore;
  /** Key prefix, so several fleets can share a store. @defaultValue `reminders` */
  prefix?: string;
  /** @defaultValue the system's clock */
  clock?: Clock;
  /** @defaultValue the system's logger */
  logger?: Logger;
  /**
   * Fire reminders on this node. False: only set, cancel and list (a client).
   * @defaultValue true
   */
  fire?: boolean;
  /**
   * How long a claim holds: past it, an occurrence whose node died (or whose delivery failed) is fired again
   * by any node. Longer than a delivery takes, plus the clock skew between nodes. @defaultValue 10000
   */
  leaseMs?: number;
  /** How often to read the store when it has no `watch`. @defaultValue 1000 */
  pollMs?: number;
  /** @defaultValue 65536 */
  maxMessageBytes?: number;
}

/** Options after defaults. */
export interface ResolvedRemindersOptions {
  readonly system: ActorSystem;
  readonly kv: KeyValueStore;
  readonly prefix: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly fire: boolean;
  readonly leaseMs: number;
  readonly pollMs: number;
  readonly maxMessageBytes: number;
}

const positive = (value: unknown, field: string, fallback: number): number => {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
    throw new InvalidOptionsError(field, `expected a positive number, got ${String(value)}`);
  return value;
};

/** Checks `options` and applies defaults; throws `INVALID_OPTIONS` naming the bad field. Never mutates. */
export function resolveRemindersOptions(options: RemindersOptions): ResolvedRemindersOptions {
  if (typeof options !== 'object' || options === null)
    throw new InvalidOptionsError('options', 'expected { system, kv }');
  const { system, kv } = options;
  if (typeof system !== 'object' || system === null || typeof system.ref !== 'function')
    throw new InvalidOptionsError('system', 'expected an ActorSystem');
  if (
    typeof kv !== 'object' ||
    kv === null ||
    typeof kv.get !== 'function' ||
    typeof kv.update !== 'function'
  )
    throw new InvalidOptionsError('kv', 'expected a KeyValueStore');
  const prefix = options.prefix ?? DEFAULT_REMINDER_PREFIX;
  if (typeof prefix !== 'string' || !/^[-_=/a-zA-Z0-9]+(\.[-_=/a-zA-Z0-9]+)*$/.test(prefix))
    throw new InvalidOptionsError('prefix', 'expected dot-separated [-_=/a-zA-Z0-9] tokens');
  const clock = options.clock ?? system.clock;
  if (typeof clock?.now !== 'function' || typeof clock.setTimeout !== 'function')
    throw new InvalidOptionsError('clock', 'expected { now, setTimeout, clearTimeout }');
  const fire = options.fire ?? true;
  if (typeof fire !== 'boolean') throw new InvalidOptionsError('fire', 'expected a boolean');
  const fires = kv.watch !== undefined || kv.keys !== undefined;
  if (fire && !fires) throw new InvalidOptionsError('kv', 'firing needs a store with watch or keys');
  return {
    system,
    kv,
    prefix,
    clock,
    logger: options.logger ?? system.logger.child({ component: 'reminders' }),
    fire,
    leaseMs: positive(options.leaseMs, 'leaseMs', DEFAULT_REMINDER_LEASE_MS),
    pollMs: positive(options.pollMs, 'pollMs', DEFAULT_REMINDER_POLL_MS),
    maxMessageBytes: positive(options.maxMessageBytes, 'maxMessageBytes', DEFAULT_REMINDER_MAX_MESSAGE_BYTES),
  };
}
