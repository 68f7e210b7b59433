// The upkeep of the cards one registry publishes: each agent's stats window, stats written at most once per
// `flushEveryMs`, and a heartbeat that rewrites the card so a live (even idle) agent never goes stale.

import { type Clock, type KeyValueStore, type Logger, TroupeError } from '../../runtime/index.js';
import type { AgentCard, AgentStats } from './card.js';
import { RegistryErrorCode } from './errors.js';
import { StatsWindow } from './stats-window.js';

/** A card this registry published, with its last known revision (its own writes are usually the latest). */
export interface OwnCard {
  key: string;
  card: AgentCard;
  revision: number;
  window: StatsWindow | undefined;
  load: number | undefined;
  dirty: boolean;
  lastFlush: number;
  flushTimer: unknown;
  heartbeat: unknown;
}

export interface KeeperOptions {
  store: KeyValueStore;
  clock: Clock;
  logger: Logger;
  heartbeatMs: number;
  flushEveryMs: number;
  windowSize: number;
  /** The registry's compare-and-set update. */
  update: (address: string, stats: Partial<AgentStats>) => Promise<AgentCard>;
}

const isCode = (err: unknown, code: string) => TroupeError.is(err) && err.code === code;

export class CardKeeper {
  readonly #cards = new Map<string, OwnCard>();
  readonly #o: KeeperOptions;

  constructor(options: KeeperOptions) {
    this.#o = options;
  }

  get(address: string): OwnCard | undefined {
    return this.#cards.get(address);
  }

  addresses(): string[] {
    return [...this.#cards.keys()];
  }

  /** Takes over the card just published (keeping the stats window of an earlier one of the same address). */
  adopt(key: string, card: AgentCard, revision: number): void {
    const previous = this.#cards.get(card.address);
    const own: OwnCard = previous ?? {
      key,
      card,
      revision,
      window: undefined,
      load: undefined,
      dirty: false,
      lastFlush: 0,
      flushTimer: undefined,
      heartbeat: undefined,
    };
    Object.assign(own, { key, card, revision });
    this.#cards.set(card.address, own);
    if (own.heartbeat === undefined) this.#scheduleHeartbeat(card.address, own);
  }

  /** Notes a write of `address`'s card (by anyone through this registry), if it is newer than the known one. */
  wrote(address: string, key: string, card: AgentCard, revision: number): void {
    const own = this.#cards.get(address);
    if (own !== undefined && own.key === key && revision > own.revision) {
      own.card = card;
      own.revision = revision;
    }
  }

  record(address: string, latencyMs: number, ok: boolean): void {
    const own = this.#known(address);
    if (own === undefined) return;
    own.window ??= new StatsWindow(this.#o.windowSize);
    own.window.record(latencyMs, ok);
    this.#markDirty(address, own);
  }

  setLoad(address: string, runsInFlight: number): void {
    const own = this.#known(address);
    if (own === undefined) return;
    own.load = Math.max(0, Math.trunc(runsInFlight));
    this.#markDirty(address, own);
  }

  /** Writes `address`'s pending stats now; a failure is logged and the stats stay pending. */
  async flush(address: string): Promise<void> {
    const own = this.#cards.get(address);
    if (own === undefined || !own.dirty) return;
    own.dirty = false;
    own.lastFlush = this.#o.clock.now();
    const stats: Partial<AgentStats> = {};
    if (own.window !== undefined) {
      stats.p50LatencyMs = own.window.p50;
      stats.successRate = own.window.successRate;
    }
    if (own.load !== undefined) stats.load = own.load;
    try {
      await this.#o.update(address, stats);
    } catch (err) {
      own.dirty = true;
      this.#o.logger.warn('agent registry: could not write the card', { address, error: String(err) });
    }
  }

  /** Stops keeping `address`'s card. */
  forget(address: string): void {
    const own = this.#cards.get(address);
    if (own === undefined) return;
    if (own.flushTimer !== undefined) this.#o.clock.clearTimeout(own.flushTimer);
    if (own.heartbeat !== undefined) this.#o.clock.clearTimeout(own.heartbeat);
    this.#cards.delete(address);
  }

  #known(address: string): OwnCard | undefined {
    const own = this.#cards.get(address);
    if (own === undefined)
      this.#o.logger.debug('agent registry: stats of an agent this registry did not publish', { address });
    return own;
  }

  #markDirty(address: string, own: OwnCard): void {
    own.dirty = true;
    if (own.flushTimer !== undefined) return;
    const wait = Math.max(0, own.lastFlush + this.#o.flushEveryMs - this.#o.clock.now());
    own.flushTimer = this.#o.clock.setTimeout(() => {
      own.flushTimer = undefined;
      void this.flush(address);
    }, wait);
  }

  #scheduleHeartbeat(address: string, own: OwnCard): void {
    if (this.#o.heartbeatMs === 0) return;
    own.heartbeat = this.#o.clock.setTimeout(() => {
      void this.#beat(address, own).finally(() => {
        if (this.#cards.get(address) === own) this.#scheduleHeartbeat(address, own);
      });
    }, this.#o.heartbeatMs);
  }

  /** Rewrites the card (with pending stats, if any). */
  async #beat(address: string, own: OwnCard): Promise<void> {
    if (this.#cards.get(address) !== own) return;
    if (own.dirty) return this.flush(address);
    try {
      await this.#o.update(address, {});
    } catch (err) {
      // Someone removed it (or the store lost it): a live agent keeps its card.
      if (isCode(err, RegistryErrorCode.UnknownAgent) && this.#cards.get(address) === own) {
        const card = { ...own.card, updatedAt: this.#o.clock.now() };
        await this.#o.store.put(own.key, JSON.stringify(card)).then(
          (revision) => Object.assign(own, { card, revision }),
          () => {},
        );
      } else this.#o.logger.warn('agent registry: heartbeat failed', { address, error: String(err) });
    }
  }
}
