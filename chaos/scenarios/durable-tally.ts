// Counting a durable chaos run: each actor's log of handled seqs against the seqs that were acknowledged.

/** Asks every actor for its log (keeping the last answer on failure); returns how many acked seqs are missing. */
export async function collect(
  ledger: (id: string) => { ask(m: { type: 'seen' }, o: { timeout: number }): Promise<number[]> },
  acked: Map<string, Set<number>>,
  logs: Map<string, number[]>,
): Promise<number> {
  let missing = 0;
  await Promise.all(
    [...acked.keys()].map(async (id) => {
      try {
        logs.set(id, await ledger(id).ask({ type: 'seen' }, { timeout: 3000 }));
      } catch {
        // Keep the last answer.
      }
    }),
  );
  for (const [id, seqs] of acked) {
    const have = new Set(logs.get(id) ?? []);
    for (const s of seqs) if (!have.has(s)) missing++;
  }
  return missing;
}

/** What the logs say about the acknowledged messages. */
export interface Tally {
  /** Per actor, the seqs handled at least once. */
  first: Map<string, Set<number>>;
  duplicated: number;
  reordered: number;
  reorderedList: string[];
  /** Acknowledged messages handled at least once. */
  handled: number;
  /** Acknowledged messages no log holds, and the first few of them (`id#seq`). */
  lost: number;
  lostList: string[];
}

/**
 * Counts what the actors' logs hold against what was acknowledged. Per actor, a seq that first appears in the
 * log below one that appeared before it is reordered (unless `skipOrder` says its order is not promised).
 */
export function tally(
  logs: Map<string, number[]>,
  acked: Map<string, Set<number>>,
  skipOrder: (id: string, seq: number) => boolean,
): Tally {
  const first = new Map<string, Set<number>>();
  let duplicated = 0;
  let reordered = 0;
  const reorderedList: string[] = [];
  for (const [id, log] of logs) {
    const seen = new Set<number>();
    first.set(id, seen);
    let top = 0;
    for (const seq of log) {
      if (seen.has(seq)) {
        duplicated++;
        continue;
      }
      seen.add(seq);
      if (skipOrder(id, seq)) continue;
      if (seq < top) {
        reordered++;
        if (reorderedList.length < 20) reorderedList.push(`${id}#${seq}<${top}`);
      } else top = seq;
    }
  }
  let handled = 0;
  let lost = 0;
  const lostList: string[] = [];
  for (const [id, seqs] of acked) {
    for (const s of seqs) {
      if (first.get(id)?.has(s)) handled++;
      else {
        lost++;
        if (lostList.length < 20) lostList.push(`${id}#${s}`);
      }
    }
  }
  return { first, duplicated, reordered, reorderedList, handled, lost, lostList };
}
