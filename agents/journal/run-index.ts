// The open runs of each agent, in the shared key-value store (`agents.runs.<agent token>`: a JSON array of run
// ids), so an agent activated on another node (a failover, a rebalance) finds its unfinished runs and resumes
// them. Updated by compare-and-set: concurrent runs of one agent on several nodes do not lose each other's ids.

import { type KeyValueStore, KvErrorCode, kvToken, TroupeError } from '../../runtime/index.js';

/** Default key prefix of the run index. */
export const DEFAULT_RUN_INDEX_PREFIX = 'agents.runs';

const MAX_ATTEMPTS = 20;

const keyOf = (agent: string, prefix: string) => `${prefix}.${kvToken(agent)}`;

function parse(value: string | undefined): string[] {
  if (value === undefined) return [];
  try {
    const ids = JSON.parse(value) as unknown;
    return Array.isArray(ids) ? ids.filter((id): id is string => typeof id === 'string') : [];
  } catch {
    return [];
  }
}

/** Applies `change` to an agent's list with compare-and-set, retrying when another writer came first. */
async function modify(
  kv: KeyValueStore,
  key: string,
  change: (ids: string[]) => string[] | undefined,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const entry = await kv.get(key);
    const next = change(parse(entry?.value));
    if (next === undefined) return;
    try {
      await kv.update(key, JSON.stringify(next), entry?.revision ?? 0);
      return;
    } catch (err) {
      if (!(TroupeError.is(err) && err.code === KvErrorCode.RevisionMismatch) || attempt >= MAX_ATTEMPTS)
        throw err;
    }
  }
}

/** Records run `runId` of `agent` as open (idempotent). */
export function addOpenRun(
  kv: KeyValueStore,
  agent: string,
  runId: string,
  prefix = DEFAULT_RUN_INDEX_PREFIX,
) {
  return modify(kv, keyOf(agent, prefix), (ids) => (ids.includes(runId) ? undefined : [...ids, runId]));
}

/** Drops run `runId` from `agent`'s open runs (idempotent). */
export function removeOpenRun(
  kv: KeyValueStore,
  agent: string,
  runId: string,
  prefix = DEFAULT_RUN_INDEX_PREFIX,
) {
  return modify(kv, keyOf(agent, prefix), (ids) =>
    ids.includes(runId) ? ids.filter((id) => id !== runId) : undefined,
  );
}

/** The open (unfinished) runs of `agent`, oldest first. */
export async function openRuns(
  kv: KeyValueStore,
  agent: string,
  prefix = DEFAULT_RUN_INDEX_PREFIX,
): Promise<string[]> {
  return parse((await kv.get(keyOf(agent, prefix)))?.value);
}
