// Copies every state of one StateStore into another and proves it: counts and a sha256 of every value, read back
// from both sides. A copy is idempotent (saves overwrite), so a migration that failed halfway is simply run again.

import { createHash } from 'node:crypto';
import { StateError, StateErrorCode, type StateStore } from '../runtime/index.js';

/** Options of {@link migrateState}. */
export interface MigrateStateOptions {
  /** Only the keys starting with this. @defaultValue all */
  prefix?: string;
  /** Values copied at once. @defaultValue 16 */
  concurrency?: number;
  /** Called after each value copied (for a progress line). */
  onProgress?: (copied: number, total: number) => void;
}

/** What {@link migrateState} did. */
export interface MigrateStateReport {
  from: string;
  to: string;
  /** States the source held when the migration listed them. */
  count: number;
  /** States copied (the source's listed keys still there when read). */
  copied: number;
  /** Keys listed but gone by the time they were read (deleted meanwhile): not copied, not expected. */
  vanished: number;
  /** Values whose sha256 matched on both sides after the copy. */
  verified: number;
  bytes: number;
  /** sha256 over every `key NUL sha256(value)` in key order: equal on both sides. */
  checksum: string;
  ms: number;
}

const sha256 = (value: Uint8Array): string => createHash('sha256').update(value).digest('hex');

/** Runs `fn` over `items`, at most `limit` at once; the first failure rejects (the rest are not started). */
async function pool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * Copies every state from `from` to `to`, then reads both sides again and compares the count and the sha256 of
 * every value. Rejects with the store's coded error (`STATE_UNAVAILABLE` when one goes away mid-way) or with
 * `STATE_MIGRATION_MISMATCH` when the target does not hold what the source does.
 */
export async function migrateState(
  from: StateStore,
  to: StateStore,
  options: MigrateStateOptions = {},
): Promise<MigrateStateReport> {
  const started = Date.now();
  const concurrency = options.concurrency ?? 16;
  const keys = await from.list(options.prefix ?? '');
  const sums = new Map<string, string>();
  let bytes = 0;
  let vanished = 0;
  await pool(keys, concurrency, async (key) => {
    const value = await from.get(key);
    if (value === undefined) {
      vanished++;
      return;
    }
    if (value.length > to.maxValueBytes)
      throw new StateError(
        StateErrorCode.TooLarge,
        `state ${key} is ${value.length} bytes; the target ${to.kind} takes at most ${to.maxValueBytes}`,
      );
    await to.save(key, value);
    sums.set(key, sha256(value));
    bytes += value.length;
    options.onProgress?.(sums.size, keys.length);
  });

  // Verification reads both sides again: what is in the target now, against what is in the source now.
  const mismatched: string[] = [];
  let verified = 0;
  const copiedKeys = [...sums.keys()].sort();
  const targetKeys = new Set(await to.list(options.prefix ?? ''));
  const missing = copiedKeys.filter((k) => !targetKeys.has(k));
  await pool(copiedKeys, concurrency, async (key) => {
    const [source, target] = await Promise.all([from.get(key), to.get(key)]);
    const want = source === undefined ? undefined : sha256(source);
    const got = target === undefined ? undefined : sha256(target);
    if (want === undefined || got !== want || got !== sums.get(key)) mismatched.push(key);
    else verified++;
  });
  if (missing.length > 0 || mismatched.length > 0 || verified !== sums.size) {
    throw new StateError(
      StateErrorCode.MigrationMismatch,
      `the target ${to.kind} does not hold what the source ${from.kind} does: ${missing.length} missing, ` +
        `${mismatched.length} with another checksum (first: ${[...missing, ...mismatched].slice(0, 5).join(', ')})`,
      { data: { missing: missing.slice(0, 100), mismatched: mismatched.slice(0, 100) } },
    );
  }
  const total = createHash('sha256');
  for (const key of copiedKeys)
    total
      .update(key)
      .update('\u0000')
      .update(sums.get(key) as string)
      .update('\n');
  return {
    from: from.kind,
    to: to.kind,
    count: keys.length,
    copied: sums.size,
    vanished,
    verified,
    bytes,
    checksum: total.digest('hex'),
    ms: Date.now() - started,
  };
}
