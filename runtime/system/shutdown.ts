// How a system closes: hand over, let mailboxes empty, stop actors children-first, fail what waits, close the transport.

import type { ActorCell } from '../actor/cell.js';
import type { VirtualHost } from '../cluster/virtual.js';
import type { Clock } from '../core/clock.js';
import { ErrorCode, TroupeError } from '../core/errors.js';
import { OrderedSteps } from '../core/steps.js';
import type { Transport } from '../ports/transport.js';
import type { PendingAsks } from './asks.js';

/** What closing a system touches. */
export interface ShutdownParts {
  nodeId: string;
  clock: Clock;
  transport: Transport | undefined;
  virtual: VirtualHost;
  asks: PendingAsks;
  cells: ReadonlyMap<string, ActorCell>;
  roots: ReadonlyMap<string, ActorCell>;
  drainTimeoutMs: number;
}

/**
 * Closes a system. Graceful (`drain`): the transport hands over first (on NATS: shards released, the
 * cluster told), so no new work arrives; mailboxes empty (up to `drainTimeoutMs`); actors stop; the
 * transport drains. Not graceful (`close`): actors are terminated and the transport closed at once.
 * Resolves with the first error met; every step runs regardless.
 */
export async function shutdown(parts: ShutdownParts, graceful: boolean): Promise<Error | undefined> {
  const steps = new OrderedSteps();
  const { transport } = parts;
  parts.virtual.close();
  const handOver = transport?.handOver;
  if (graceful && handOver) await steps.run(() => handOver.call(transport));
  if (graceful) await steps.run(() => quiesce(parts));
  await steps.run(() =>
    Promise.all([...parts.roots.values()].map((cell) => (graceful ? cell.requestStop() : cell.terminate()))),
  );
  parts.asks.failAll(
    () => new TroupeError(ErrorCode.SystemClosed, `system ${parts.nodeId} closed before the reply`),
  );
  if (transport) await steps.run(() => (graceful ? transport.drain() : transport.close()));
  return steps.first;
}

/** Waits until every mailbox is empty and no handler runs, or `drainTimeoutMs` passes. */
async function quiesce(parts: ShutdownParts): Promise<void> {
  let timedOut = false;
  const timer = parts.clock.setTimeout(() => {
    timedOut = true;
  }, parts.drainTimeoutMs);
  try {
    for (let round = 0; !timedOut; round++) {
      let idle = true;
      for (const cell of parts.cells.values()) {
        if (!cell.idle) {
          idle = false;
          break;
        }
      }
      if (idle) return;
      // Poll: spin on the event loop briefly, then back off so a long handler does not cost a core.
      await new Promise((resolve) => (round < 100 ? setImmediate(resolve) : setTimeout(resolve, 5)));
    }
  } finally {
    parts.clock.clearTimeout(timer);
  }
}
