// Budgets of tokens and cost per agent, team and tenant per time window, kept in a KeyValueStore so a fleet
// shares them. Each call reserves its estimate before it is made (compare-and-set: concurrent calls cannot
// both take the last of a budget) and settles its real usage after, refunding or charging the difference.

import {
  type Clock,
  InvalidOptionsError,
  KeyValueError,
  type KeyValueStore,
  KvErrorCode,
  kvToken,
  systemClock,
  TroupeError,
} from '../runtime/index.js';
import type { CallCost } from './estimate.js';
import { BudgetExceededError, type BudgetScope } from './router-errors.js';

export type BudgetWindow = 'minute' | 'hour' | 'day' | number;

export interface BudgetLimit {
  scope: BudgetScope;
  /** The agent, team or tenant id; `*` applies the limit to each id of the scope separately. */
  id: string;
  /** A fixed window aligned to the epoch (UTC), or a length in ms. */
  window: BudgetWindow;
  maxTokens?: number;
  maxCost?: number;
}

export interface BudgetLedgerOptions {
  store: KeyValueStore;
  limits: readonly BudgetLimit[];
  clock?: Clock;
  /** How long a reservation keeps retrying its compare-and-set under contention. @defaultValue 5000 */
  contentionTimeoutMs?: number;
}

/** Whose budget a call spends: any of the three. */
export interface BudgetKeys {
  agent?: string | undefined;
  team?: string | undefined;
  tenant?: string | undefined;
}

/** What one scope has spent (and reserved) in its current window. */
export interface BudgetUsage {
  tokens: number;
  cost: number;
  windowStart: number;
  windowEnd: number;
}

/** A reservation made before a call; exactly one of `settle` or `release` ends it. */
export interface Reservation {
  /** Replaces the estimate with the real cost. */
  settle(actual: CallCost): Promise<void>;
  /** Gives the estimate back (the call was not billed). */
  release(): Promise<void>;
}

const WINDOWS: Record<string, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };
const PREFIX = 'troupe-model.budget.';

interface Held {
  key: string;
  tokens: number;
  cost: number;
}

interface Totals {
  t: number;
  c: number;
}

const parse = (value: string | undefined): Totals => {
  if (value === undefined) return { t: 0, c: 0 };
  const v = JSON.parse(value) as Partial<Totals>;
  return { t: v.t ?? 0, c: v.c ?? 0 };
};

export class BudgetLedger {
  readonly #store: KeyValueStore;
  readonly #limits: readonly BudgetLimit[];
  readonly #clock: Clock;
  readonly #contentionMs: number;
  /** One compare-and-set per key at a time from this process: the fleet's contention, not ours, is retried. */
  readonly #queues = new Map<string, Promise<unknown>>();

  constructor(options: BudgetLedgerOptions) {
    if (typeof options?.store?.get !== 'function')
      throw new InvalidOptionsError('store', 'expected a KeyValueStore');
    if (!Array.isArray(options.limits)) throw new InvalidOptionsError('limits', 'expected an array');
    options.limits.forEach((l, i) => {
      if (!['agent', 'team', 'tenant'].includes(l.scope))
        throw new InvalidOptionsError(`limits[${i}].scope`, 'expected agent, team or tenant');
      if (typeof l.id !== 'string' || l.id === '')
        throw new InvalidOptionsError(`limits[${i}].id`, 'expected an id');
      if (!(windowMs(l.window) > 0))
        throw new InvalidOptionsError(`limits[${i}].window`, 'expected minute, hour, day or ms > 0');
      if (l.maxTokens === undefined && l.maxCost === undefined)
        throw new InvalidOptionsError(`limits[${i}]`, 'give maxTokens, maxCost or both');
    });
    this.#store = options.store;
    this.#limits = options.limits;
    this.#clock = options.clock ?? systemClock;
    this.#contentionMs = options.contentionTimeoutMs ?? 5000;
  }

  /** Whether any limit applies to `keys` (no: calls skip the ledger entirely). */
  applies(keys: BudgetKeys | undefined): boolean {
    if (keys === undefined) return false;
    return this.#limits.some((l) => {
      const id = keys[l.scope];
      return id !== undefined && (l.id === '*' || l.id === id);
    });
  }

  /**
   * Reserves `estimate` in every window of every limit that applies to `keys`, or none of them: throws
   * `BUDGET_EXCEEDED` when one would go over (and gives back what it took from the others).
   */
  async reserve(keys: BudgetKeys, estimate: CallCost): Promise<Reservation> {
    const now = this.#clock.now();
    const held: Held[] = [];
    const tokens = estimate.inputTokens + estimate.outputTokens;
    try {
      for (const limit of this.#limits) {
        const id = keys[limit.scope];
        if (id === undefined || (limit.id !== '*' && limit.id !== id)) continue;
        const { key, end } = this.#window(limit, id, now);
        await this.#add(key, tokens, estimate.cost, (used) => {
          if (limit.maxTokens !== undefined && used.t + tokens > limit.maxTokens)
            return { measure: 'tokens', limit: limit.maxTokens, used: used.t, requested: tokens };
          if (limit.maxCost !== undefined && used.c + estimate.cost > limit.maxCost + 1e-9)
            return { measure: 'cost', limit: limit.maxCost, used: used.c, requested: estimate.cost };
          return undefined;
        }).catch((err: unknown) => {
          if (err instanceof Over)
            throw new BudgetExceededError({ scope: limit.scope, id, ...err.info, resetsAt: end });
          throw err;
        });
        held.push({ key, tokens, cost: estimate.cost });
      }
    } catch (err) {
      await this.#giveBack(held, 0, 0);
      throw err;
    }
    let done = false;
    return {
      settle: async (actual) => {
        if (done) return;
        done = true;
        await this.#giveBack(held, actual.inputTokens + actual.outputTokens, actual.cost);
      },
      release: async () => {
        if (done) return;
        done = true;
        await this.#giveBack(held, 0, 0);
      },
    };
  }

  /** What `scope` `id` has spent and reserved in its current window, under the first limit naming it. */
  async usage(scope: BudgetScope, id: string): Promise<BudgetUsage | undefined> {
    const limit = this.#limits.find((l) => l.scope === scope && (l.id === id || l.id === '*'));
    if (limit === undefined) return undefined;
    const { key, start, end } = this.#window(limit, id, this.#clock.now());
    const totals = parse((await this.#store.get(key))?.value);
    return { tokens: totals.t, cost: totals.c, windowStart: start, windowEnd: end };
  }

  #window(limit: BudgetLimit, id: string, now: number): { key: string; start: number; end: number } {
    const length = windowMs(limit.window);
    const start = Math.floor(now / length) * length;
    return { key: `${PREFIX}${limit.scope}.${kvToken(id)}.${length}.${start}`, start, end: start + length };
  }

  /** Replaces each held estimate with the real amounts (0, 0: a refund). Best effort: logged by the caller. */
  async #giveBack(held: Held[], tokens: number, cost: number): Promise<void> {
    await Promise.all(held.map((h) => this.#add(h.key, tokens - h.tokens, cost - h.cost, () => undefined)));
  }

  /** Adds to a key's totals by compare-and-set, unless `check` refuses the totals it would add to. */
  #add(
    key: string,
    tokens: number,
    cost: number,
    check: (used: Totals) => OverInfo | undefined,
  ): Promise<void> {
    const previous = this.#queues.get(key) ?? Promise.resolve();
    const run = previous.then(
      () => this.#cas(key, tokens, cost, check),
      () => this.#cas(key, tokens, cost, check),
    );
    this.#queues.set(key, run);
    void run
      .finally(() => {
        if (this.#queues.get(key) === run) this.#queues.delete(key);
      })
      .catch(() => {});
    return run;
  }

  async #cas(
    key: string,
    tokens: number,
    cost: number,
    check: (used: Totals) => OverInfo | undefined,
  ): Promise<void> {
    const until = Date.now() + this.#contentionMs;
    for (let attempt = 0; ; attempt++) {
      const entry = await this.#store.get(key);
      const used = parse(entry?.value);
      const over = check(used);
      if (over !== undefined) throw new Over(over);
      const next = JSON.stringify({ t: used.t + tokens, c: used.c + cost });
      try {
        if (entry === undefined) await this.#store.create(key, next);
        else await this.#store.update(key, next, entry.revision);
        return;
      } catch (err) {
        const lost =
          TroupeError.is(err, KvErrorCode.RevisionMismatch) || TroupeError.is(err, KvErrorCode.Exists);
        if (!lost) throw err;
        if (Date.now() >= until)
          throw new KeyValueError(KvErrorCode.Unavailable, `budget ledger: ${key} too contended`, {
            cause: err,
          });
        // Another node wrote first: back off a random few ms so the contenders spread out.
        await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 ** attempt)));
      }
    }
  }
}

interface OverInfo {
  measure: 'tokens' | 'cost';
  limit: number;
  used: number;
  requested: number;
}

class Over extends Error {
  constructor(readonly info: OverInfo) {
    super('over budget');
  }
}

function windowMs(window: BudgetWindow): number {
  return typeof window === 'number' ? window : (WINDOWS[window] ?? Number.NaN);
}

/**
 * A ledger of token and cost budgets per agent, team and tenant, shared through `store` (natsKeyValue() for a
 * fleet, memoryKeyValue() for one process). Give it to `modelRouter({ budget })`; calls name whose budget
 * they spend with `{ budget: { agent, team, tenant } }`.
 */
export function budgetLedger(options: BudgetLedgerOptions): BudgetLedger {
  return new BudgetLedger(options);
}
