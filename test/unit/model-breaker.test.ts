// The pure parts of the model router: the breaker's states, backoff with Retry-After, rpm/tpm pacing, the
// request estimate, and the strategies' picks.

import { describe, expect, it } from 'vitest';
import { CircuitBreaker, resolveBreaker } from '../../models/breaker.js';
import { Deployment } from '../../models/deployment.js';
import { estimateCall } from '../../models/estimate.js';
import type { ModelProvider } from '../../models/index.js';
import { Pacer } from '../../models/pacer.js';
import { backoffMs, resolveRetry } from '../../models/retry.js';
import { pick } from '../../models/strategies.js';

describe('CircuitBreaker', () => {
  const options = resolveBreaker({ failures: 3, windowMs: 1000, cooldownMs: 500, halfOpenProbes: 1 });

  it('opens after N failures within the window only', () => {
    const b = new CircuitBreaker(options);
    b.failure(0, false);
    b.failure(600, false);
    expect(b.failure(1200, false)).toBeUndefined(); // the first fell out of the window
    expect(b.failure(1300, false)).toEqual({ to: 'open', until: 1800 });
    expect(b.admit(1799)).toEqual({ kind: 'blocked', until: 1800, reason: 'circuit-open' });
  });

  it('lets one probe through after the cooldown: success closes, failure reopens', () => {
    const b = new CircuitBreaker(options);
    b.open(0);
    expect(b.admit(500)).toEqual({ kind: 'probe' });
    expect(b.startProbe(500)).toEqual({ to: 'half-open', until: 1000 });
    expect(b.admit(501).kind).toBe('blocked');
    expect(b.failure(600, true)).toEqual({ to: 'open', until: 1100 });
    expect(b.admit(1100)).toEqual({ kind: 'probe' });
    b.startProbe(1100);
    expect(b.success(true)).toEqual({ to: 'closed', until: 0 });
    expect(b.admit(1101)).toEqual({ kind: 'ok' });
  });

  it('cools down on a rate limit without opening', () => {
    const b = new CircuitBreaker(options);
    b.rateLimited(300);
    expect(b.admit(100)).toEqual({ kind: 'blocked', until: 300, reason: 'rate-limited' });
    expect(b.admit(300)).toEqual({ kind: 'ok' });
    expect(b.state).toBe('closed');
  });
});

describe('backoff', () => {
  it('grows exponentially up to maxMs, jittered, and never undercuts Retry-After', () => {
    const r = resolveRetry({ attempts: 5, baseMs: 100, maxMs: 1000, jitter: 0.5 });
    expect(backoffMs(1, r, undefined, () => 0)).toBe(50);
    expect(backoffMs(1, r, undefined, () => 1)).toBe(100);
    expect(backoffMs(3, r, undefined, () => 1)).toBe(400);
    expect(backoffMs(10, r, undefined, () => 1)).toBe(1000);
    expect(backoffMs(1, r, 700, () => 1)).toBe(700);
    expect(() => resolveRetry({ attempts: 0 })).toThrow(/attempts/);
  });
});

describe('Pacer', () => {
  it('holds calls over the rpm until the oldest leaves the minute', () => {
    const p = new Pacer(2, undefined);
    p.record(0, 10);
    p.record(100, 10);
    expect(p.readyAt(200, 10)).toBe(60_000);
    expect(p.readyAt(60_000, 10)).toBe(60_000);
  });

  it('holds calls over the tpm until enough tokens left the window', () => {
    const p = new Pacer(undefined, 100);
    p.record(0, 60);
    p.record(10, 30);
    expect(p.readyAt(20, 10)).toBe(20);
    expect(p.readyAt(20, 50)).toBe(60_000);
    expect(p.readyAt(20, 95)).toBe(60_010);
  });
});

describe('estimate and strategies', () => {
  it('estimates input as characters / 4 per message plus maxTokens, priced per 1k', () => {
    const e = estimateCall(
      {
        messages: [
          { role: 'system', content: 'abcde' },
          { role: 'user', content: 'abcd' },
        ],
        maxTokens: 10,
      },
      { inputPricePer1k: 2, outputPricePer1k: 4 },
    );
    expect(e).toEqual({ inputTokens: 3, outputTokens: 10, cost: (3 * 2 + 10 * 4) / 1000 });
  });

  it('picks by weight, by calls in flight, by latency', () => {
    const provider = { system: 'x', baseURL: 'http://x', model: 'm' } as ModelProvider;
    const breaker = resolveBreaker(undefined);
    const a = new Deployment('g', { id: 'a', provider, weight: 1 }, breaker);
    const b = new Deployment('g', { id: 'b', provider, weight: 3 }, breaker);
    expect(pick('weighted', [a, b], () => 0.2)).toBe(a);
    expect(pick('weighted', [a, b], () => 0.3)).toBe(b);
    a.inflight = 2;
    expect(pick('least-busy', [a, b])).toBe(b);
    a.observeLatency(50);
    expect(pick('lowest-latency', [a, b])).toBe(b); // b is unmeasured: tried first
    b.observeLatency(80);
    expect(pick('lowest-latency', [a, b])).toBe(a);
  });
});
