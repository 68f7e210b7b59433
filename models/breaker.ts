// One deployment's health: a circuit breaker (closed → open after N failures within a window → half-open
// probes after the cooldown → closed on a probe's success) and a cooldown for rate limits (until Retry-After).
// Pure state on an injected time; the fleet-wide copy lives in shared-health.ts.

import { InvalidOptionsError } from '../runtime/index.js';

export interface BreakerOptions {
  /** Failures within `windowMs` that open the circuit. @defaultValue 3 */
  failures?: number;
  /** @defaultValue 30000 */
  windowMs?: number;
  /** How long an open circuit refuses calls before it lets a probe through. @defaultValue 5000 */
  cooldownMs?: number;
  /** Calls let through at once while half-open. @defaultValue 1 */
  halfOpenProbes?: number;
}

export type ResolvedBreaker = Required<BreakerOptions>;

export function resolveBreaker(options: BreakerOptions | undefined): ResolvedBreaker {
  const b = { failures: 3, windowMs: 30_000, cooldownMs: 5000, halfOpenProbes: 1, ...options };
  for (const key of ['failures', 'halfOpenProbes'] as const)
    if (!Number.isInteger(b[key]) || b[key] < 1)
      throw new InvalidOptionsError(`breaker.${key}`, 'expected an integer >= 1');
  for (const key of ['windowMs', 'cooldownMs'] as const)
    if (!(b[key] > 0)) throw new InvalidOptionsError(`breaker.${key}`, 'expected a positive number');
  return b;
}

export type CircuitState = 'closed' | 'open' | 'half-open';

/** What `admit` decided: take the call, take it as a probe, or not before `until`. */
export type Admission =
  | { kind: 'ok' }
  | { kind: 'probe' }
  | { kind: 'blocked'; until: number; reason: 'circuit-open' | 'cooling-down' | 'rate-limited' };

const OK: Admission = { kind: 'ok' };
const PROBE: Admission = { kind: 'probe' };

/** A state change worth telling the fleet and the logs. */
export type BreakerTransition = { to: CircuitState; until: number } | undefined;

export class CircuitBreaker {
  state: CircuitState = 'closed';
  /** Open: when probes may start. Half-open: when a probe claimed elsewhere is presumed lost. */
  until = 0;
  /** Rate-limit cooldown (a 429's Retry-After): no call before this. */
  cooldownUntil = 0;
  /** Half-open probes this node has in flight. */
  probes = 0;
  /** A probe this node may not take while another node's is under way (shared state). */
  probeElsewhereUntil = 0;
  readonly #failures: number[] = [];
  readonly #options: ResolvedBreaker;

  constructor(options: ResolvedBreaker) {
    this.#options = options;
  }

  admit(now: number): Admission {
    if (this.state === 'closed') {
      if (now < this.cooldownUntil)
        return { kind: 'blocked', until: this.cooldownUntil, reason: 'rate-limited' };
      return OK;
    }
    if (this.state === 'open' && now < this.until)
      return { kind: 'blocked', until: this.until, reason: 'circuit-open' };
    if (now < this.probeElsewhereUntil)
      return { kind: 'blocked', until: this.probeElsewhereUntil, reason: 'circuit-open' };
    if (this.probes >= this.#options.halfOpenProbes)
      return { kind: 'blocked', until: now + this.#options.cooldownMs, reason: 'circuit-open' };
    return PROBE;
  }

  /** A probe was granted (locally, or by winning the fleet-wide claim). */
  startProbe(now: number): BreakerTransition {
    this.probes++;
    if (this.state === 'half-open') return undefined;
    this.state = 'half-open';
    this.until = now + this.#options.cooldownMs;
    return { to: 'half-open', until: this.until };
  }

  success(probe: boolean): BreakerTransition {
    if (probe) this.probes = Math.max(0, this.probes - 1);
    this.#failures.length = 0;
    if (this.state === 'closed') return undefined;
    this.state = 'closed';
    this.probes = 0;
    this.probeElsewhereUntil = 0;
    return { to: 'closed', until: 0 };
  }

  /** A failure that says the deployment is unwell (5xx, overload, timeout, unreachable, broken stream). */
  failure(now: number, probe: boolean): BreakerTransition {
    if (probe) this.probes = Math.max(0, this.probes - 1);
    if (this.state !== 'closed') return this.open(now);
    const from = now - this.#options.windowMs;
    while (this.#failures.length > 0 && (this.#failures[0] ?? 0) <= from) this.#failures.shift();
    this.#failures.push(now);
    return this.#failures.length >= this.#options.failures ? this.open(now) : undefined;
  }

  /** A call that ended without telling anything about health (aborted, bad request): frees its probe. */
  release(probe: boolean): void {
    if (probe) this.probes = Math.max(0, this.probes - 1);
  }

  open(now: number, until = now + this.#options.cooldownMs): BreakerTransition {
    this.#failures.length = 0;
    this.state = 'open';
    this.until = until;
    return { to: 'open', until };
  }

  /** A 429: no call to this deployment before `until` (it is not unwell, only busy). */
  rateLimited(until: number): void {
    if (until > this.cooldownUntil) this.cooldownUntil = until;
  }
}
