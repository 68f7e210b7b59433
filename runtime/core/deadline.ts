// One store operation against a deadline: the stores' adapters (NATS KV, append logs, Redis, PostgreSQL) must
// reject during an outage rather than hang, whatever their client does while it reconnects.

/**
 * Resolves as `work` does, or rejects with `timeout()` once `ms` have passed. A late rejection of `work` after
 * the deadline is swallowed (nobody is waiting for it any more); the timer never outlives the race.
 */
export async function withDeadline<T>(work: Promise<T>, ms: number, timeout: () => Error): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timeout()), ms);
  });
  work.catch(() => {});
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
