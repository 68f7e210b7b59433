// One router call across its groups: pick a deployment, reserve the budget, make the attempt, and on failure
// retry (backoff, Retry-After), cool down, open circuits, or move to the next fallback group.

import { type Clock, type Logger, TroupeError } from '../runtime/index.js';
import type { BudgetKeys, BudgetLedger, Reservation } from './budget.js';
import type { Deployment } from './deployment.js';
import { isRetryableModelError, ModelError, ModelErrorCode } from './errors.js';
import { actualCost, type CallCost } from './estimate.js';
import type { CallOptions } from './provider.js';
import { backoffMs, type ResolvedRetry, sleep } from './retry.js';
import { ModelUnavailableError, RouterErrorCode, type UnavailableReason } from './router-errors.js';
import type { HealthTarget, SharedHealth } from './shared-health.js';
import { pick, type RoutingStrategy } from './strategies.js';
import type { Usage } from './usage.js';

export interface GroupConfigLike {
  fallbacks?: readonly string[] | undefined;
  contextFallbacks?: readonly string[] | undefined;
  contentFallbacks?: readonly string[] | undefined;
}

export interface Group {
  readonly name: string;
  readonly config: GroupConfigLike;
  readonly strategy: RoutingStrategy;
  readonly deployments: readonly Deployment[];
}

/** What a call runs on: the router's parts. */
export interface RouterCore {
  readonly groups: ReadonlyMap<string, Group>;
  readonly retry: ResolvedRetry;
  readonly cooldownMs: number;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly budget: BudgetLedger | undefined;
  readonly shared: SharedHealth | undefined;
  readonly attemptTimeoutMs: number | undefined;
  target(d: Deployment): HealthTarget;
  transition(d: Deployment, t: { to: string; until: number } | undefined): void;
}

/** How one attempt is made, estimated and read. */
export interface AttemptSpec<T> {
  estimate(d: Deployment): CallCost;
  run(d: Deployment, options: CallOptions): Promise<T>;
}

export interface CallSettings {
  signal: AbortSignal | undefined;
  /** Epoch ms (on the router's clock) past which no attempt starts; undefined: none. */
  deadline: number | undefined;
  /** The per-attempt timeout handed to the provider (a stream: per chunk). */
  timeoutMs: number | undefined;
  headers: Record<string, string> | undefined;
  budget: BudgetKeys | undefined;
  traceId: string | undefined;
}

/** The state of one call, read by telemetry when it ends. */
export interface CallState {
  retries: number;
  fallback: string | undefined;
  deployment: Deployment | undefined;
}

/** A successful attempt, still open: `succeed` or `fail` ends it (a stream ends it when it finishes). */
export class AttemptHandle<T> {
  #open = true;
  constructor(
    private readonly core: RouterCore,
    readonly value: T,
    readonly deployment: Deployment,
    private readonly probe: boolean,
    private readonly reservation: Reservation | undefined,
    private readonly estimate: CallCost,
    private readonly startedAt: number,
  ) {}

  async succeed(usage: Usage | undefined): Promise<CallCost> {
    const d = this.deployment;
    const cost = actualCost(d.pricing, usage);
    if (!this.#open) return cost;
    this.#open = false;
    d.inflight--;
    d.observeLatency(performance.now() - this.startedAt);
    this.core.transition(d, d.breaker.success(this.probe));
    if (this.reservation !== undefined)
      await this.reservation
        .settle(usage === undefined ? this.estimate : cost)
        .catch((err: unknown) =>
          this.core.logger.warn('model budget: settle failed', { deployment: d.id, err }),
        );
    return cost;
  }

  /** The call broke after it started answering (a stream cut midway): billed as estimated. */
  async fail(err: unknown): Promise<void> {
    if (!this.#open) return;
    this.#open = false;
    const d = this.deployment;
    d.inflight--;
    if (ModelError.is(err, ModelErrorCode.Aborted)) d.breaker.release(this.probe);
    else this.core.transition(d, d.breaker.failure(this.core.clock.now(), this.probe));
    await this.reservation?.settle(this.estimate).catch(() => {});
  }
}

const aborted = () => new ModelError(ModelErrorCode.Aborted, 'model call aborted');

function fallbackKind(err: unknown): keyof GroupConfigLike | undefined {
  if (TroupeError.is(err, ModelErrorCode.ContextLength)) return 'contextFallbacks';
  if (TroupeError.is(err, ModelErrorCode.ContentFiltered)) return 'contentFallbacks';
  if (TroupeError.is(err, RouterErrorCode.Unavailable) || isRetryableModelError(err)) return 'fallbacks';
  return undefined;
}

/** Runs a call on `group`, then on its fallbacks in order, until an attempt succeeds. */
export async function execute<T>(
  core: RouterCore,
  group: string,
  spec: AttemptSpec<T>,
  settings: CallSettings,
  state: CallState,
): Promise<AttemptHandle<T>> {
  const visited = new Set<string>();
  const origin = core.groups.get(group) as Group;
  let current = origin;
  for (;;) {
    visited.add(current.name);
    try {
      const handle = await tryGroup(core, current, spec, settings, state);
      if (current !== origin) state.fallback = current.name;
      return handle;
    } catch (err) {
      const kind = fallbackKind(err);
      if (kind === undefined || settings.signal?.aborted) throw err;
      const candidates = [...(current.config[kind] ?? []), ...(origin.config[kind] ?? [])];
      const next = candidates.find((g) => !visited.has(g) && core.groups.has(g));
      if (next === undefined) throw err;
      core.logger.info('model fallback', {
        from: current.name,
        to: next,
        kind,
        code: TroupeError.is(err) ? err.code : undefined,
        traceId: settings.traceId,
      });
      current = core.groups.get(next) as Group;
    }
  }
}

async function tryGroup<T>(
  core: RouterCore,
  group: Group,
  spec: AttemptSpec<T>,
  settings: CallSettings,
  state: CallState,
): Promise<AttemptHandle<T>> {
  for (let attempt = 1; ; attempt++) {
    const { deployment: d, probe } = await choose(core, group, spec, settings);
    state.deployment = d;
    const estimate = spec.estimate(d);
    let reservation: Reservation | undefined;
    if (core.budget !== undefined && settings.budget !== undefined && core.budget.applies(settings.budget)) {
      try {
        reservation = await core.budget.reserve(settings.budget, estimate);
      } catch (err) {
        d.inflight--;
        d.breaker.release(probe);
        throw err;
      }
    }
    const now = core.clock.now();
    d.pacer.record(now, estimate.inputTokens + estimate.outputTokens);
    const startedAt = performance.now();
    try {
      const value = await spec.run(d, callOptions(core, settings, now));
      return new AttemptHandle(core, value, d, probe, reservation, estimate, startedAt);
    } catch (err) {
      d.inflight--;
      await reservation?.release().catch(() => {});
      const wait = afterFailure(core, d, probe, err, attempt, settings);
      if (wait === undefined) throw err;
      state.retries++;
      core.logger.warn('model call retry', {
        group: group.name,
        deployment: d.id,
        attempt,
        code: TroupeError.is(err) ? err.code : undefined,
        waitMs: Math.round(wait),
        traceId: settings.traceId,
      });
      await sleep(wait, core.clock, settings.signal, aborted);
    }
  }
}

/** Books a failed attempt on its deployment; the wait before the next attempt, or undefined to give up here. */
function afterFailure(
  core: RouterCore,
  d: Deployment,
  probe: boolean,
  err: unknown,
  attempt: number,
  settings: CallSettings,
): number | undefined {
  const now = core.clock.now();
  if (settings.signal?.aborted || !isRetryableModelError(err)) {
    d.breaker.release(probe);
    return undefined;
  }
  const retryAfterMs = err instanceof ModelError ? err.retryAfterMs : undefined;
  if (TroupeError.is(err, ModelErrorCode.RateLimited)) {
    // Busy, not unwell: cool this deployment down until the server's Retry-After (fleet-wide), no breaker count.
    d.breaker.release(probe);
    d.breaker.rateLimited(now + (retryAfterMs ?? backoffMs(attempt, core.retry)));
    core.shared?.publish(core.target(d));
  } else {
    core.transition(d, d.breaker.failure(now, probe));
  }
  if (attempt >= core.retry.attempts) return undefined;
  // Retry-After binds this deployment only: another one of the group (choose() skips the cooling one) need not wait.
  const wait = backoffMs(attempt, core.retry);
  if (settings.deadline !== undefined && now + wait > settings.deadline) return undefined;
  return wait;
}

/** A deployment that can take the call now (counted in flight), waiting (paced, cooling down) up to `maxMs`; else MODEL_UNAVAILABLE. */
async function choose<T>(
  core: RouterCore,
  group: Group,
  spec: AttemptSpec<T>,
  settings: CallSettings,
): Promise<{ deployment: Deployment; probe: boolean }> {
  for (;;) {
    if (settings.signal?.aborted) throw aborted();
    const now = core.clock.now();
    if (settings.deadline !== undefined && now >= settings.deadline)
      throw new ModelError(ModelErrorCode.Timeout, 'model call deadline passed', { retryable: false });
    let ready: Deployment[] | undefined;
    let probes: Deployment[] | undefined;
    let earliest = Number.POSITIVE_INFINITY;
    let reason: UnavailableReason = 'circuit-open';
    for (const d of group.deployments) {
      const a = d.breaker.admit(now);
      if (a.kind === 'ok') {
        const paced = d.pacer.limited ? d.pacer.readyAt(now, tokensOf(spec, d)) : now;
        if (paced <= now) {
          ready ??= [];
          ready.push(d);
        } else if (paced < earliest) {
          earliest = paced;
          reason = 'rate-limited';
        }
      } else if (a.kind === 'probe') {
        probes ??= [];
        probes.push(d);
      } else if (a.until < earliest) {
        earliest = a.until;
        reason = a.reason;
      }
    }
    if (ready !== undefined) {
      // Counted in flight at once: concurrent calls choosing in the same tick see it (least-busy).
      const d = pick(group.strategy, ready);
      d.inflight++;
      return { deployment: d, probe: false };
    }
    for (const d of probes ?? []) {
      // The slot is taken here, before the fleet-wide claim, so concurrent calls on this node do not all probe.
      core.transition(d, d.breaker.startProbe(now));
      if (core.shared === undefined || (await core.shared.claimProbe(core.target(d), now, core.cooldownMs))) {
        d.inflight++;
        return { deployment: d, probe: true };
      }
      d.breaker.release(true);
      earliest = Math.min(earliest, d.breaker.probeElsewhereUntil);
    }
    const wait = Math.max(0, earliest - now);
    // An open circuit fails fast (to the fallback, at once); a rate limit or pacing is waited out when short.
    if (
      reason === 'circuit-open' ||
      wait > core.retry.maxMs ||
      (settings.deadline !== undefined && now + wait > settings.deadline)
    )
      throw new ModelUnavailableError(group.name, reason, wait);
    await sleep(wait, core.clock, settings.signal, aborted);
  }
}

function tokensOf<T>(spec: AttemptSpec<T>, d: Deployment): number {
  const e = spec.estimate(d);
  return e.inputTokens + e.outputTokens;
}

function callOptions(core: RouterCore, settings: CallSettings, now: number): CallOptions {
  const options: CallOptions = {};
  if (settings.signal !== undefined) options.signal = settings.signal;
  if (settings.headers !== undefined) options.headers = settings.headers;
  let timeout = settings.timeoutMs ?? core.attemptTimeoutMs;
  if (settings.deadline !== undefined) {
    const left = Math.max(1, settings.deadline - now);
    timeout = timeout === undefined ? left : Math.min(timeout, left);
  }
  if (timeout !== undefined) options.timeoutMs = timeout;
  return options;
}
