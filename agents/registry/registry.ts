// The agent registry: capability cards in a KeyValueStore (NATS KV across a fleet, memory embedded), written by
// the agents that own them and read, ranked and watched by anyone. Stats are updated by compare-and-set, from a
// cached revision first (one round trip when nobody else wrote), and refreshed at most once per `flushEveryMs`.

import {
  type Clock,
  InvalidOptionsError,
  type KeyValueStore,
  KvErrorCode,
  type Logger,
  systemClock,
  TroupeError,
} from '../../runtime/index.js';
import { assertOptionsObject, defaultLogger } from '../../runtime/internal.js';
import {
  type AgentCard,
  type AgentCardInput,
  type AgentStats,
  cardKey,
  checkStats,
  DEFAULT_CARD_PREFIX,
  parseCard,
  parseCardKey,
  toCard,
} from './card.js';
import { RegistryError, RegistryErrorCode } from './errors.js';
import { CardKeeper } from './keeper.js';
import { blendedCost, DEFAULT_SCORE_WEIGHTS, type ScoreWeights, scoreCards } from './score.js';
import { DEFAULT_STATS_WINDOW } from './stats-window.js';

export interface AgentRegistryOptions {
  /** Where the cards live: `natsKeyValue()` for a fleet, `memoryKeyValue()` for one process. Not closed by `close()`. */
  store: KeyValueStore;
  clock?: Clock;
  /** A card not written for this long is stale: `find` skips it. @defaultValue 30000 */
  staleAfterMs?: number;
  /** How often the cards this registry published are rewritten, so live idle agents never go stale; 0: never.
   * @defaultValue staleAfterMs / 3 */
  heartbeatMs?: number;
  /** `record`/`setLoad` write a card at most this often. @defaultValue 1000 */
  flushEveryMs?: number;
  /** Runs a card's p50 and success rate are computed over. @defaultValue 100 */
  windowSize?: number;
  /** Key prefix of the cards. @defaultValue `agents.cards` */
  prefix?: string;
  /** Weights of `find`'s score (see {@link scoreCards}). */
  weights?: Partial<ScoreWeights>;
  logger?: Logger;
}

/** What `find` looks for. */
export interface FindQuery {
  /** Only agents with this capability (or all of these). */
  capability?: string | readonly string[];
  /** Only agents whose 1k input + 1k output tokens cost at most this ({@link blendedCost}). */
  maxCost?: number;
  /** At most this many, best first. */
  limit?: number;
}

/** A card with its score among the candidates of one `find` (lower is better). */
export type RankedCard = AgentCard & { score: number };

/** A change `watch` reports: a card written, or one removed. */
export type RegistryChange =
  | { type: 'put'; card: AgentCard }
  | { type: 'delete'; name: string; address: string };

/** One run's measurement, for `record`. */
export interface RunSample {
  latencyMs: number;
  ok: boolean;
}

type StatsChange = Partial<AgentStats> | ((card: AgentCard) => Partial<AgentStats>);

const MAX_CAS_ATTEMPTS = 64;

const isCode = (err: unknown, code: string) => TroupeError.is(err) && err.code === code;

export class AgentRegistry {
  readonly staleAfterMs: number;
  readonly #store: KeyValueStore;
  readonly #clock: Clock;
  readonly #prefix: string;
  readonly #weights: ScoreWeights;
  readonly #logger: Logger;
  readonly #own: CardKeeper;
  /** Card keys of addresses this registry did not publish, found by scanning. */
  readonly #keys = new Map<string, string>();
  #closed = false;

  constructor(options: AgentRegistryOptions) {
    assertOptionsObject(options, 'options');
    if (typeof options.store?.get !== 'function')
      throw new InvalidOptionsError('store', 'expected a KeyValueStore');
    this.#store = options.store;
    this.#clock = options.clock ?? systemClock;
    this.staleAfterMs = positive(options.staleAfterMs, 'staleAfterMs', 30_000);
    this.#prefix = options.prefix ?? DEFAULT_CARD_PREFIX;
    this.#weights = { ...DEFAULT_SCORE_WEIGHTS, ...options.weights };
    this.#logger = options.logger ?? defaultLogger();
    this.#own = new CardKeeper({
      store: this.#store,
      clock: this.#clock,
      logger: this.#logger,
      heartbeatMs:
        options.heartbeatMs === 0 ? 0 : positive(options.heartbeatMs, 'heartbeatMs', this.staleAfterMs / 3),
      flushEveryMs: positive(options.flushEveryMs, 'flushEveryMs', 1000),
      windowSize: windowSize(options.windowSize),
      update: (address, stats) => this.update(address, stats),
    });
  }

  /** Writes (or replaces) the card of `input.address`; this registry then keeps it fresh until `remove`/`close`. */
  async publish(input: AgentCardInput): Promise<AgentCard> {
    this.#open();
    const card = toCard(input, this.#clock.now());
    const key = cardKey(card.name, card.address, this.#prefix);
    const previous = this.#own.get(card.address);
    const revision = await this.#store.put(key, JSON.stringify(card));
    if (previous !== undefined && previous.key !== key) await this.#store.delete(previous.key);
    this.#own.adopt(key, card, revision);
    this.#keys.delete(card.address);
    return card;
  }

  /**
   * Changes the stats of `address`'s card (any card, not only this registry's) by compare-and-set: `stats`, or
   * a function of the current card giving them (e.g. `(c) => ({ load: c.load + 1 })`), retried on a lost race.
   * Resolves with the card written. Rejects with REGISTRY_UNKNOWN_AGENT, REGISTRY_INVALID_CARD, KV_UNAVAILABLE.
   */
  async update(address: string, stats: StatsChange): Promise<AgentCard> {
    this.#open();
    const own = this.#own.get(address);
    const key = own?.key ?? (await this.#keyOf(address));
    // Our own last write is usually the latest: try its revision before reading.
    let known: { card: AgentCard; revision: number } | undefined = own;
    for (let attempt = 1; attempt <= MAX_CAS_ATTEMPTS; attempt++) {
      if (known === undefined) {
        const entry = await this.#store.get(key);
        const card = entry === undefined ? undefined : parseCard(entry.value);
        if (entry === undefined || card === undefined) {
          this.#keys.delete(address);
          throw new RegistryError(RegistryErrorCode.UnknownAgent, `no agent card for ${address}`);
        }
        known = { card, revision: entry.revision };
      }
      const changes = typeof stats === 'function' ? stats(known.card) : stats;
      checkStats(changes);
      const next: AgentCard = {
        ...known.card,
        ...(changes.p50LatencyMs === undefined ? {} : { p50LatencyMs: changes.p50LatencyMs }),
        ...(changes.successRate === undefined ? {} : { successRate: changes.successRate }),
        ...(changes.load === undefined ? {} : { load: changes.load }),
        updatedAt: this.#clock.now(),
      };
      try {
        const revision = await this.#store.update(key, JSON.stringify(next), known.revision);
        this.#own.wrote(address, key, next, revision);
        return next;
      } catch (err) {
        if (!isCode(err, KvErrorCode.RevisionMismatch)) throw err;
        known = undefined;
      }
    }
    throw new RegistryError(
      RegistryErrorCode.Contended,
      `the card of ${address} kept changing: ${MAX_CAS_ATTEMPTS} compare-and-set attempts lost`,
    );
  }

  /**
   * Records one run of `address` (an agent this process hosts): its card's p50 latency and success rate over the
   * last `windowSize` runs are written at most once per `flushEveryMs`. Never throws; a failed write is logged
   * and tried again with the next flush.
   */
  record(address: string, sample: RunSample): void {
    if (!this.#closed) this.#own.record(address, sample.latencyMs, sample.ok);
  }

  /** Sets the runs `address` has in flight (its card's `load`), written like `record`'s stats. */
  setLoad(address: string, runsInFlight: number): void {
    if (!this.#closed) this.#own.setLoad(address, runsInFlight);
  }

  /** Writes pending stats now (of `address`, or of every card this registry publishes). */
  async flush(address?: string): Promise<void> {
    const addresses = address === undefined ? this.#own.addresses() : [address];
    await Promise.all(addresses.map((a) => this.#own.flush(a)));
  }

  /** Deletes the card of `address` and stops refreshing it. */
  async remove(address: string): Promise<void> {
    this.#open();
    const own = this.#own.get(address);
    const key = own?.key ?? (await this.#keyOf(address));
    this.#own.forget(address);
    this.#keys.delete(address);
    await this.#store.delete(key);
  }

  /** The card of `address`, or undefined. */
  async get(address: string): Promise<AgentCard | undefined> {
    this.#open();
    for (let attempt = 1; ; attempt++) {
      let key: string;
      try {
        key = this.#own.get(address)?.key ?? (await this.#keyOf(address));
      } catch (err) {
        if (isCode(err, RegistryErrorCode.UnknownAgent)) return undefined;
        throw err;
      }
      const entry = await this.#store.get(key);
      if (entry !== undefined) return parseCard(entry.value);
      // A cached key of someone else's card: it may have been republished under another name.
      if (attempt > 1 || this.#keys.get(address) !== key) return undefined;
      this.#keys.delete(address);
    }
  }

  /** Every card in the store (stale ones too unless `fresh`), by name then address. */
  async list(options: { fresh?: boolean } = {}): Promise<AgentCard[]> {
    this.#open();
    const cards: AgentCard[] = [];
    for (const { key, value } of await cardEntries(this.#store, `${this.#prefix}.`)) {
      const card = parseCard(value);
      if (card === undefined) continue;
      this.#keys.set(card.address, key);
      if (!(options.fresh === true && this.isStale(card))) cards.push(card);
    }
    return cards.sort((a, b) => cmp(a.name, b.name) || cmp(a.address, b.address));
  }

  /**
   * Fresh agents with the capability (and within `maxCost`), best first by {@link scoreCards}; ties go to the
   * most recently updated card, then by address.
   */
  async find(query: FindQuery = {}): Promise<RankedCard[]> {
    const wanted =
      query.capability === undefined
        ? []
        : typeof query.capability === 'string'
          ? [query.capability]
          : [...query.capability];
    if (query.maxCost !== undefined && !(query.maxCost >= 0))
      throw new InvalidOptionsError('maxCost', 'expected a number >= 0');
    if (query.limit !== undefined && !(Number.isInteger(query.limit) && query.limit > 0))
      throw new InvalidOptionsError('limit', 'expected a positive integer');
    const candidates = (await this.list({ fresh: true })).filter(
      (card) =>
        wanted.every((c) => card.capabilities.includes(c)) &&
        (query.maxCost === undefined || blendedCost(card) <= query.maxCost),
    );
    const scores = scoreCards(candidates, this.#weights);
    const ranked = candidates
      .map((card, i) => ({ ...card, score: scores[i] as number }))
      .sort((a, b) => a.score - b.score || b.updatedAt - a.updatedAt || cmp(a.address, b.address));
    return query.limit === undefined ? ranked : ranked.slice(0, query.limit);
  }

  /** Whether `card` was not written within `staleAfterMs` (by this registry's clock). */
  isStale(card: AgentCard): boolean {
    return this.#clock.now() - card.updatedAt > this.staleAfterMs;
  }

  /**
   * Calls `onChange` for each card there now and for every later write or removal (through the store's watch;
   * on NATS it survives outages and replays the current cards). Returns the function that stops watching.
   */
  watch(onChange: (change: RegistryChange) => void): () => void {
    this.#open();
    if (this.#store.watch === undefined)
      throw new RegistryError(RegistryErrorCode.Unsupported, 'the registry store cannot watch');
    return this.#store.watch(`${this.#prefix}.`, (key, entry) => {
      if (entry === undefined) {
        const id = parseCardKey(key, this.#prefix);
        if (id !== undefined) onChange({ type: 'delete', ...id });
        return;
      }
      const card = parseCard(entry.value);
      if (card !== undefined) onChange({ type: 'put', card });
    });
  }

  /** Stops refreshing this registry's cards after writing pending stats (the cards stay, and go stale). */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush().catch(() => {});
    this.#closed = true;
    for (const address of this.#own.addresses()) this.#own.forget(address);
  }

  #open(): void {
    if (this.#closed) throw new RegistryError(RegistryErrorCode.Closed, 'the agent registry is closed');
  }

  /** The key of `address`'s card, found by scanning the cards (cached). */
  async #keyOf(address: string): Promise<string> {
    const cached = this.#keys.get(address);
    if (cached !== undefined) return cached;
    for (const key of await cardKeys(this.#store, `${this.#prefix}.`)) {
      const id = parseCardKey(key, this.#prefix);
      if (id?.address === address) {
        this.#keys.set(address, key);
        return key;
      }
    }
    throw new RegistryError(RegistryErrorCode.UnknownAgent, `no agent card for ${address}`);
  }
}

async function cardKeys(store: KeyValueStore, prefix: string): Promise<string[]> {
  if (store.keys !== undefined) return store.keys(prefix);
  return (await cardEntries(store, prefix)).map((e) => e.key);
}

/** Every entry under `prefix`: keys then values when the store lists keys; else a watch's replay of them. */
async function cardEntries(store: KeyValueStore, prefix: string): Promise<{ key: string; value: string }[]> {
  if (store.keys !== undefined) {
    const keys = await store.keys(prefix);
    const entries = await Promise.all(keys.map((key) => store.get(key)));
    return keys.flatMap((key, i) => {
      const entry = entries[i];
      return entry === undefined ? [] : [{ key, value: entry.value }];
    });
  }
  if (store.watch === undefined)
    throw new RegistryError(
      RegistryErrorCode.Unsupported,
      'the registry store can neither list keys nor watch',
    );
  // A store without keys() replays its current values synchronously on watch (the memory store does).
  const found = new Map<string, string>();
  const stop = store.watch(prefix, (key, entry) => {
    if (entry === undefined) found.delete(key);
    else found.set(key, entry.value);
  });
  stop();
  return [...found].map(([key, value]) => ({ key, value }));
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function windowSize(value: number | undefined): number {
  if (value === undefined) return DEFAULT_STATS_WINDOW;
  if (!(Number.isInteger(value) && value > 0))
    throw new InvalidOptionsError('windowSize', 'expected a positive integer');
  return value;
}

function positive(value: number | undefined, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!(typeof value === 'number' && value > 0))
    throw new InvalidOptionsError(field, 'expected a positive number');
  return value;
}

/**
 * The agent registry on `store`.
 *
 * @example
 * const registry = agentRegistry({ store: await natsKeyValue({ transport: system.transport }) });
 * await registry.publish({ name: 'planner', address: 'n1/planner', description: 'plans', capabilities: ['plan'],
 *   model: 'smart', costPer1kTokens: { input: 0.003, output: 0.015 } });
 * const [best] = await registry.find({ capability: 'plan', maxCost: 0.02 });
 */
export function agentRegistry(options: AgentRegistryOptions): AgentRegistry {
  return new AgentRegistry(options);
}
