// The breakers' fleet-wide copy in a KeyValueStore: an opened circuit or a rate-limit cooldown on one node is
// seen by every router watching the store, and only one node at a time wins the half-open probe (by
// compare-and-set). When the store is away, each router goes on with its own view.

import { type KeyValueStore, KvErrorCode, kvToken, type Logger, TroupeError } from '../runtime/index.js';
import type { CircuitBreaker } from './breaker.js';

/** The stored form of one deployment's health. */
interface SharedRecord {
  s: 'open' | 'half-open' | 'closed';
  /** Open: probes allowed from then; half-open: the probe's claim lasts until then. */
  until: number;
  /** Rate-limit cooldown until then. */
  cool?: number;
  /** The router that wrote it. */
  by: string;
}

const PREFIX = 'troupe-model.breaker.';
/** How often states that could not be written are tried again. */
const RETRY_MS = 500;

function parse(value: string): SharedRecord | undefined {
  try {
    const r = JSON.parse(value) as SharedRecord;
    return typeof r === 'object' && r !== null && typeof r.s === 'string' ? r : undefined;
  } catch {
    return undefined;
  }
}

export interface HealthTarget {
  readonly id: string;
  readonly breaker: CircuitBreaker;
  /** Called when another node's write changed this deployment's state. */
  onRemote(state: SharedRecord['s'], by: string): void;
}

export class SharedHealth {
  readonly #store: KeyValueStore;
  readonly #me: string;
  readonly #logger: Logger;
  readonly #byKey = new Map<string, HealthTarget>();
  #unwatch: (() => void) | undefined;
  #failingSince = 0;
  /** States that could not be written (store away): written again, as they are then, until they are. */
  readonly #unpublished = new Set<HealthTarget>();
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(store: KeyValueStore, me: string, logger: Logger, targets: Iterable<HealthTarget>) {
    this.#store = store;
    this.#me = me;
    this.#logger = logger;
    for (const t of targets) this.#byKey.set(PREFIX + kvToken(t.id), t);
    this.#unwatch = store.watch?.(PREFIX, (key, entry) => {
      const target = this.#byKey.get(key);
      const record = entry === undefined ? undefined : parse(entry.value);
      if (target !== undefined && record !== undefined && record.by !== this.#me) this.#apply(target, record);
    });
  }

  /** Tells the fleet this node's view of `target` (after a transition or a rate limit). Never throws. */
  publish(target: HealthTarget): void {
    this.#unpublished.delete(target);
    const b = target.breaker;
    const record: SharedRecord = { s: b.state, until: b.until, by: this.#me };
    if (b.cooldownUntil > 0) record.cool = b.cooldownUntil;
    this.#store.put(PREFIX + kvToken(target.id), JSON.stringify(record)).then(
      () => this.#recovered(),
      (err: unknown) => {
        this.#failed('publish', err);
        this.#unpublished.add(target);
        this.#scheduleRetry();
      },
    );
  }

  #scheduleRetry(): void {
    if (this.#retryTimer !== undefined || this.#closed) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      for (const target of [...this.#unpublished]) this.publish(target);
    }, RETRY_MS);
    this.#retryTimer.unref?.();
  }

  /**
   * Claims the half-open probe of `target` for this node: true when this node may send it. Another node's
   * live claim, or a lost compare-and-set, means no. An unreachable store means yes: the local breaker alone
   * then limits the probes.
   */
  async claimProbe(target: HealthTarget, now: number, claimMs: number): Promise<boolean> {
    const key = PREFIX + kvToken(target.id);
    try {
      const entry = await this.#store.get(key);
      const record = entry === undefined ? undefined : parse(entry.value);
      if (record !== undefined && record.by !== this.#me) {
        if (record.s === 'half-open' && record.until > now) {
          target.breaker.probeElsewhereUntil = record.until;
          return false;
        }
        if (record.s === 'open' && record.until > now) {
          this.#apply(target, record);
          return false;
        }
      }
      const claim: SharedRecord = { s: 'half-open', until: now + claimMs, by: this.#me };
      await this.#store.update(key, JSON.stringify(claim), entry?.revision ?? 0);
      this.#recovered();
      return true;
    } catch (err) {
      if (TroupeError.is(err, KvErrorCode.RevisionMismatch) || TroupeError.is(err, KvErrorCode.Exists)) {
        target.breaker.probeElsewhereUntil = now + claimMs;
        return false;
      }
      this.#failed('probe claim', err);
      return true;
    }
  }

  close(): void {
    this.#closed = true;
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer);
    this.#unpublished.clear();
    this.#unwatch?.();
    this.#unwatch = undefined;
  }

  #apply(target: HealthTarget, record: SharedRecord): void {
    const b = target.breaker;
    if (record.cool !== undefined) b.rateLimited(record.cool);
    const before = b.state;
    if (record.s === 'open') {
      if (b.state !== 'open' || record.until > b.until) b.open(0, record.until);
    } else if (record.s === 'half-open') {
      if (b.state === 'closed') b.open(0, record.until);
      b.probeElsewhereUntil = record.until;
    } else if (b.state !== 'closed') {
      b.success(false);
    }
    if (b.state !== before) target.onRemote(b.state, record.by);
  }

  #failed(what: string, err: unknown): void {
    // One warning per outage, not one per call.
    if (this.#failingSince !== 0) return;
    this.#failingSince = Date.now();
    this.#logger.warn("model breaker state: shared store unavailable, going on with this node's view", {
      operation: what,
      code: TroupeError.is(err) ? err.code : undefined,
      err,
    });
  }

  #recovered(): void {
    if (this.#failingSince === 0) return;
    this.#logger.info('model breaker state: shared store available again', {
      downMs: Date.now() - this.#failingSince,
    });
    this.#failingSince = 0;
  }
}
