// The hard caps on VUs and arrival rate: from the environment (TROUPE_LOAD_MAX_VUS, TROUPE_LOAD_MAX_RATE) or options.

import { invalid } from '../fields.js';

/** Hard limits a run may not exceed: the coordinator checks the whole run, each node its own share. */
export interface LoadCaps {
  /** Most VUs at once. */
  maxVus: number;
  /** Most iterations started per second (open model). */
  maxRatePerSec: number;
}

/** The caps when nothing sets them: 2000 VUs, 50,000 iterations per second. */
export const DEFAULT_LOAD_CAPS: Readonly<LoadCaps> = Object.freeze({ maxVus: 2000, maxRatePerSec: 50_000 });

/**
 * Caps from `TROUPE_LOAD_MAX_VUS` and `TROUPE_LOAD_MAX_RATE` (iterations/s), each defaulting to
 * {@link DEFAULT_LOAD_CAPS}; a value that is not a positive number is a LOAD_INVALID naming the variable.
 *
 * @example
 * const caps = loadCapsFromEnv(process.env);
 */
export function loadCapsFromEnv(env: Record<string, string | undefined>): LoadCaps {
  return {
    maxVus: envNumber(env, 'TROUPE_LOAD_MAX_VUS', DEFAULT_LOAD_CAPS.maxVus, true),
    maxRatePerSec: envNumber(env, 'TROUPE_LOAD_MAX_RATE', DEFAULT_LOAD_CAPS.maxRatePerSec, false),
  };
}

function envNumber(
  env: Record<string, string | undefined>,
  name: string,
  fallback: number,
  integer: boolean,
): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value)))
    throw invalid(name, `expected a positive ${integer ? 'integer' : 'number'}, got ${JSON.stringify(raw)}`);
  return value;
}
