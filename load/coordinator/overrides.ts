// Run options that override the test's executor (`--vus`, `--duration`, `--rate`), and duration strings.

import { LoadError, LoadErrorCode } from '../errors.js';
import { executorDurationMs } from '../executors/index.js';
import type { ExecutorSpec } from '../executors/spec.js';

/** What a run may override in the test's executor. */
export interface ExecutorOverrides {
  /** Closed model: run `vus` constant VUs; open model: allocate (and allow at most) this many VUs. */
  vus?: number;
  /** A constant executor's duration. */
  durationMs?: number;
  /** A constant arrival rate's iterations per time unit. */
  rate?: number;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `30s`, `500ms`, `2m`, `1h`, `1m30s`, or a bare number of seconds → milliseconds. */
export function parseDuration(text: string, field = 'duration'): number {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Math.round(Number(t) * 1000);
  const parts = [...t.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== t)
    throw new LoadError(
      LoadErrorCode.Invalid,
      `${field}: expected a duration like 30s, 500ms, 2m or 1m30s, got "${text}"`,
    );
  const ms = parts.reduce((sum, p) => sum + Number(p[1]) * UNITS[p[2]!]!, 0);
  if (!(ms > 0)) throw new LoadError(LoadErrorCode.Invalid, `${field}: must be more than 0, got "${text}"`);
  return Math.round(ms);
}

function positiveInt(value: number, field: string): number {
  if (!(Number.isInteger(value) && value > 0))
    throw new LoadError(LoadErrorCode.Invalid, `${field}: expected a positive integer, got ${value}`);
  return value;
}

/** `spec` with the overrides applied (a new object); throws LOAD_INVALID for one that does not fit the executor. */
export function applyOverrides(spec: ExecutorSpec, o: ExecutorOverrides): ExecutorSpec {
  let out: ExecutorSpec = { ...spec };
  if (o.vus !== undefined) {
    const vus = positiveInt(o.vus, '--vus');
    if (out.kind === 'constant-vus' || out.kind === 'ramping-vus')
      out = { kind: 'constant-vus', vus, durationMs: executorDurationMs(out) };
    else out = { ...out, preAllocatedVus: vus, maxVus: vus };
  }
  if (o.durationMs !== undefined) {
    const durationMs = positiveInt(o.durationMs, '--duration');
    if (out.kind === 'constant-vus' || out.kind === 'constant-arrival-rate') out = { ...out, durationMs };
    else
      throw new LoadError(
        LoadErrorCode.Invalid,
        `--duration: the ${out.kind} executor's length is the sum of its stages; change the stages instead`,
      );
  }
  if (o.rate !== undefined) {
    if (!(o.rate > 0 && Number.isFinite(o.rate)))
      throw new LoadError(LoadErrorCode.Invalid, `--rate: expected a positive number, got ${o.rate}`);
    if (out.kind !== 'constant-arrival-rate')
      throw new LoadError(
        LoadErrorCode.Invalid,
        `--rate: only a constant-arrival-rate executor has one rate (this test's is ${out.kind})`,
      );
    out = { ...out, rate: o.rate };
  }
  return out;
}
