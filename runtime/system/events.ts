// Lifecycle events of one node's actors, and the snapshots that inspect them (`inspect`, `tree`, `troupe ps`).

import type { ActorCell } from '../actor/cell.js';
import type { CellEvent } from '../actor/state.js';
import type { Clock } from '../core/clock.js';
import { TroupeError } from '../core/errors.js';
import type { ActorInfo, ActorTreeNode, LifecycleEvent } from './actor-system.js';

/** @internal The lifecycle bus: listeners hear what happens to this node's actors. */
export class LifecycleEvents {
  readonly #clock: Clock;
  readonly #listeners = new Set<(event: LifecycleEvent) => void>();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** True when someone listens: events that cost something to build are skipped otherwise. */
  get heard(): boolean {
    return this.#listeners.size > 0;
  }

  subscribe(listener: (event: LifecycleEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  started(cell: ActorCell): void {
    if (this.heard) this.#emit(this.#event(cell, 'started'));
  }

  failed(cell: ActorCell, error: unknown): void {
    if (!this.heard) return;
    const event = this.#event(cell, 'failed');
    event.error = TroupeError.toWire(error);
    this.#emit(event);
  }

  moment(cell: ActorCell, type: CellEvent, reason?: unknown): void {
    if (!this.heard) return;
    const event = this.#event(cell, type);
    if (reason !== undefined) event.error = TroupeError.toWire(reason);
    if (type === 'restarted') event.restarts = cell.restarts;
    this.#emit(event);
  }

  stopped(cell: ActorCell): void {
    if (this.heard) this.#emit(this.#event(cell, 'stopped'));
  }

  #event(cell: ActorCell, type: LifecycleEvent['type']): LifecycleEvent {
    return { type, address: cell.address, actorType: cell.definition.type, at: this.#clock.now() };
  }

  #emit(event: LifecycleEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch {
        // Observers must not break the actor whose event they watch.
      }
    }
  }
}

/** One actor as `inspect()` and `troupe ps` show it. */
export function infoOf(cell: ActorCell): ActorInfo {
  return {
    address: cell.address,
    type: cell.definition.type,
    status: cell.status,
    parent: cell.parent?.address,
    supervisor: cell.parent?.isSupervisor === true ? cell.parent.address : undefined,
    isSupervisor: cell.isSupervisor,
    mailboxDepth: cell.mailboxDepth,
    processed: cell.processed,
    restarts: cell.restarts,
    // Listings cross the wire for every actor at once (`troupe ps`): no stacks there.
    lastError:
      cell.lastError === undefined ? undefined : TroupeError.toWire(cell.lastError, { stack: false }),
  };
}

/** `cell` and its descendants as a tree. */
export function treeOf(cell: ActorCell): ActorTreeNode {
  return { ...infoOf(cell), children: [...cell.children.values()].map(treeOf) };
}
