// Collects fleet snapshots while someone watches: one collection per interval shared by every open page (not
// one per page, since each asks every node), pushed to all of them; a change seen on this node pushes early.

import type { Logger } from '../../runtime/index.js';
import type { FleetSnapshot } from './snapshot.js';

/** What a watcher receives: the snapshot's JSON, its sequence, and whether it differs from the one before. */
export interface FleetUpdate {
  seq: number;
  json: string;
  changed: boolean;
}

export interface FleetMonitorOptions {
  collect: () => Promise<FleetSnapshot>;
  intervalMs: number;
  logger: Logger;
}

// The snapshot without its timestamp, to tell whether anything changed.
const content = (s: FleetSnapshot): string => JSON.stringify({ ...s, at: 0 });

export class FleetMonitor {
  readonly #options: FleetMonitorOptions;
  readonly #watchers = new Set<(update: FleetUpdate) => void>();
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<FleetSnapshot> | undefined;
  #last: FleetUpdate | undefined;
  #lastContent = '';
  #seq = 0;
  #closed = false;
  #kicked = false;

  constructor(options: FleetMonitorOptions) {
    this.#options = options;
  }

  /** A fresh snapshot (shared with a collection already under way). */
  snapshot(): Promise<FleetSnapshot> {
    this.#inFlight ??= this.#options.collect().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  /** Calls `watcher` with the latest snapshot now (if any) and each one after; returns the unsubscribe function. */
  watch(watcher: (update: FleetUpdate) => void): () => void {
    this.#watchers.add(watcher);
    if (this.#last !== undefined) watcher(this.#last);
    if (this.#timer === undefined && !this.#closed) this.#schedule(0);
    return () => {
      this.#watchers.delete(watcher);
      if (this.#watchers.size === 0) this.#stop();
    };
  }

  /** Something changed: collect soon instead of at the next tick. */
  kick(): void {
    // One early collection per burst: rescheduling on every event would starve a steady stream of them.
    if (this.#kicked || this.#watchers.size === 0 || this.#closed) return;
    this.#kicked = true;
    this.#schedule(50);
  }

  close(): void {
    this.#closed = true;
    this.#watchers.clear();
    this.#stop();
  }

  #stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(delayMs: number): void {
    this.#stop();
    this.#timer = setTimeout(() => void this.#tick(), delayMs);
    this.#timer.unref();
  }

  async #tick(): Promise<void> {
    this.#timer = undefined;
    this.#kicked = false;
    try {
      const snapshot = await this.snapshot();
      const now = content(snapshot);
      const update = { seq: ++this.#seq, json: JSON.stringify(snapshot), changed: now !== this.#lastContent };
      this.#lastContent = now;
      this.#last = update;
      for (const watcher of this.#watchers) watcher(update);
    } catch (err) {
      this.#options.logger.warn('gateway: fleet snapshot failed', {
        code: (err as { code?: string }).code ?? 'ERROR',
      });
    }
    if (this.#watchers.size > 0 && !this.#closed && this.#timer === undefined)
      this.#schedule(this.#options.intervalMs);
  }
}
