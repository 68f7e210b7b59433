// The order a bound transport's parts stop in. Retries stop first (nothing is re-sent into a closing
// connection), shard subscriptions before the goodbye (the others claim the shards once it arrives), and the
// connection last. Every step runs even if one before it fails: `steps` records the failure, the rest still run.

import type { NatsConnection } from '@nats-io/transport-node';
import type { OrderedSteps } from '../../runtime/internal.js';
import type { NatsCluster } from './cluster.js';
import type { Link } from './link.js';

/**
 * What binding set up, read when each step runs (a part is undefined when binding stopped before it; a close
 * while binding may see parts appear between steps).
 */
export interface BoundParts {
  readonly nc: () => NatsConnection | undefined;
  /** The transport opened the connection (and closes it), rather than being given one. */
  readonly owned: boolean;
  readonly link: () => Link | undefined;
  readonly cluster: () => NatsCluster | undefined;
}

/** Close, or a bind that failed half-way: each part stops now; a connection the caller gave stays open. */
export async function stopParts(parts: BoundParts, steps: OrderedSteps): Promise<void> {
  const nc = parts.nc();
  await steps.run(() => parts.link()?.retry.close());
  await steps.run(() => parts.link()?.batcher.close());
  await steps.run(() => parts.cluster()?.shards.close());
  // Its goodbye may find the connection gone: nothing to report then.
  await steps.run(() =>
    parts
      .cluster()
      ?.membership.close()
      .catch(() => undefined),
  );
  if (parts.owned) await steps.run(() => nc?.close());
  else if (!nc?.isClosed()) await steps.run(() => parts.link()?.sub.unsubscribe());
}

/**
 * Drain, after the hand-over: what was sent reaches the server and what was received is handled before the
 * connection closes (only this transport's subscription drains on a connection the caller gave).
 */
export async function drainParts(parts: BoundParts, steps: OrderedSteps): Promise<void> {
  const nc = parts.nc();
  await steps.run(() => parts.link()?.retry.close());
  await steps.run(() => parts.cluster()?.shards.close());
  await steps.run(async () => {
    if (parts.owned) await nc?.drain();
    else {
      await nc?.flush();
      await parts.link()?.sub.drain();
    }
  });
  await steps.run(() => parts.link()?.batcher.close());
}
