// defineLoad: checks a load test once, where it is written, and freezes it.

import { validateExecutor } from './executors/validate.js';
import { assertKnownKeys, assertObject, describe, invalid, numberField } from './fields.js';
import type { TargetFactory } from './targets/target.js';
import type { LoadTest } from './test.js';
import { parseThreshold } from './thresholds.js';

const KNOWN = [
  'name',
  'targets',
  'scenario',
  'executor',
  'thresholds',
  'setup',
  'teardown',
  'gracefulStopMs',
  'allowHosts',
] as const;

/** Metric names troupe records itself: a target named like one would mix its figures into them. */
const RESERVED_TARGETS = new Set(['request', 'iteration', 'ttft', 'tokens_per_s', 'errors', 'checks', 'rps']);
const TARGET_NAME = /^[A-Za-z_][\w-]*$/;
const HOST = /^[^\s*?/]+$/;

/** Tests defineLoad checked and froze (another copy of this module re-checks, which is harmless). */
const defined = new WeakSet<object>();

/**
 * Defines a load test: checks every part (LOAD_INVALID naming the field, LOAD_INVALID_THRESHOLD for a threshold)
 * and returns it frozen.
 *
 * @example
 * export default defineLoad({
 *   name: 'checkout',
 *   targets: { api: http('http://127.0.0.1:3000', { connections: 50 }) },
 *   executor: { kind: 'constant-arrival-rate', rate: 200, durationMs: 30_000, preAllocatedVus: 50 },
 *   thresholds: ['p99 < 200ms', 'errors < 1%'],
 *   scenario: async (vu) => {
 *     const res = await vu.targets.api.get('/cart');
 *     vu.check('status 200', res.status === 200);
 *   },
 * });
 */
export function defineLoad<D, T extends Record<string, TargetFactory>>(test: LoadTest<D, T>): LoadTest<D, T> {
  if (typeof test === 'object' && test !== null && defined.has(test)) return test;
  assertObject(test, 'test');
  assertKnownKeys(test, KNOWN, 'test');
  if (typeof test.name !== 'string' || test.name.trim() === '' || test.name.length > 200)
    throw invalid(
      'name',
      `expected a non-empty string of at most 200 characters, got ${describe(test.name)}`,
    );
  assertTargets(test.targets);
  if (typeof test.scenario !== 'function')
    throw invalid('scenario', `expected an async function of the VU context, got ${describe(test.scenario)}`);
  validateExecutor(test.executor);
  const thresholds = test.thresholds;
  if (thresholds !== undefined) {
    if (!Array.isArray(thresholds))
      throw invalid('thresholds', `expected an array of strings, got ${describe(thresholds)}`);
    for (const expr of thresholds) parseThreshold(expr);
  }
  for (const hook of ['setup', 'teardown'] as const) {
    if (test[hook] !== undefined && typeof test[hook] !== 'function')
      throw invalid(hook, `expected a function, got ${describe(test[hook])}`);
  }
  if (test.gracefulStopMs !== undefined) numberField(test.gracefulStopMs, 'gracefulStopMs', 0);
  const allowHosts = test.allowHosts;
  if (allowHosts !== undefined) {
    if (!Array.isArray(allowHosts))
      throw invalid('allowHosts', `expected an array of host names, got ${describe(allowHosts)}`);
    allowHosts.forEach((host, i) => {
      if (typeof host !== 'string' || !HOST.test(host))
        throw invalid(
          `allowHosts[${i}]`,
          `expected a host name (no wildcard, scheme or path), got ${describe(host)}`,
        );
    });
  }
  const frozen: LoadTest<D, T> = Object.freeze({
    ...test,
    targets: Object.freeze({ ...test.targets }),
    executor: deepFreeze(structuredClone(test.executor)),
    ...(thresholds !== undefined && { thresholds: Object.freeze([...thresholds]) as string[] }),
    ...(allowHosts !== undefined && { allowHosts: Object.freeze([...allowHosts]) as string[] }),
  });
  defined.add(frozen);
  return frozen;
}

/** True for a value defineLoad returned. */
export function isDefinedLoad(value: unknown): value is LoadTest {
  return typeof value === 'object' && value !== null && defined.has(value);
}

function assertTargets(targets: unknown): void {
  assertObject(targets, 'targets');
  for (const [name, target] of Object.entries(targets)) {
    const field = `targets.${name}`;
    if (!TARGET_NAME.test(name) || RESERVED_TARGETS.has(name))
      throw invalid(
        field,
        'a target name must be a word (letters, digits, _ or -) and not a metric troupe records',
      );
    const t = target as Partial<TargetFactory> | null;
    if (
      typeof t !== 'object' ||
      t === null ||
      typeof t.kind !== 'string' ||
      typeof t.describe !== 'function' ||
      typeof t.open !== 'function'
    )
      throw invalid(field, 'expected a target ({ kind, describe(), open(context) }, e.g. http(url))');
  }
}

function deepFreeze<V>(value: V): V {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
