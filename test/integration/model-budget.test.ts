// Budgets reserved before each call and settled after: 100 concurrent calls never overspend, in one process
// and across two routers on two NATS connections sharing the ledger; refunds, cost limits, typed errors, and
// a NATS restart that fails calls with a code and then recovers.

import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  BudgetExceededError,
  budgetLedger,
  estimateCall,
  type ModelRouter,
  modelRouter,
} from '../../models/index.js';
import { type KeyValueStore, ManualClock, memoryKeyValue, type TroupeError } from '../../runtime/index.js';
import { type LlmServer, type ServerProcess, startLlmServer, startNats } from '../../testing/index.js';
import { natsKeyValue } from '../../transport/index.js';
import { ask, failureCode, on } from '../helpers/models.js';

let server: LlmServer;
let nats: ServerProcess;
beforeAll(async () => {
  nats = await startNats();
});
afterAll(() => nats.stop());
beforeEach(async () => {
  server = await startLlmServer({ latencyMs: 30 });
});
afterEach(() => server.close());

const request = ask('what is the budget for this call?', 20);
const estimate = estimateCall(request, {});
const perCall = estimate.inputTokens + estimate.outputTokens;

/** The model bills exactly the estimate, so the allowed count is exact. */
function billExactly(): void {
  server.script(
    'm',
    { text: 'ok', usage: { inputTokens: estimate.inputTokens, outputTokens: estimate.outputTokens } },
    { repeat: true },
  );
}

function routerOn(store: KeyValueStore, maxTokens: number): ModelRouter {
  return modelRouter({
    groups: { g: { deployments: [on(server, 'm')] } },
    budget: budgetLedger({ store, limits: [{ scope: 'agent', id: 'a1', window: 'hour', maxTokens }] }),
  });
}

async function fire(routers: ModelRouter[], n: number): Promise<{ ok: number; codes: string[] }> {
  const outcomes = await Promise.allSettled(
    Array.from({ length: n }, (_, i) =>
      (routers[i % routers.length] as ModelRouter).chat('g', request, { budget: { agent: 'a1' } }),
    ),
  );
  const codes = outcomes.flatMap((o) => (o.status === 'rejected' ? [(o.reason as TroupeError).code] : []));
  return { ok: outcomes.filter((o) => o.status === 'fulfilled').length, codes };
}

describe('budgets under concurrency', () => {
  it('100 concurrent calls against a budget of 10: exactly 10 made, the rest BUDGET_EXCEEDED (memory store)', async () => {
    billExactly();
    const { ok, codes } = await fire([routerOn(memoryKeyValue(), 10 * perCall)], 100);
    expect(ok).toBe(10);
    expect(codes).toHaveLength(90);
    expect(new Set(codes)).toEqual(new Set(['BUDGET_EXCEEDED']));
    const billed = server.billed.total;
    expect(billed.calls).toBe(10);
    expect(billed.inputTokens + billed.outputTokens).toBeLessThanOrEqual(10 * perCall);
  });

  it('two routers on two NATS connections sharing the ledger never overspend it together', async () => {
    billExactly();
    const bucket = `budget${randomBytes(3).toString('hex')}`;
    const storeA = await natsKeyValue({ servers: nats.url, bucket });
    const storeB = await natsKeyValue({ servers: nats.url, bucket });
    try {
      const { ok, codes } = await fire([routerOn(storeA, 10 * perCall), routerOn(storeB, 10 * perCall)], 100);
      expect(ok).toBe(10);
      expect(new Set(codes)).toEqual(new Set(['BUDGET_EXCEEDED']));
      expect(server.billed.total.calls).toBe(10);
      const total = server.billed.total;
      expect(total.inputTokens + total.outputTokens).toBeLessThanOrEqual(10 * perCall);
    } finally {
      await storeA.close();
      await storeB.close();
    }
  }, 30_000);
});

describe('reservations and settlement', () => {
  it('refunds the difference between the estimate and the real usage', async () => {
    server.script('m', { text: 'ok', usage: { inputTokens: 3, outputTokens: 2 } }, { repeat: true });
    const ledger = budgetLedger({
      store: memoryKeyValue(),
      limits: [{ scope: 'team', id: 't', window: 'day', maxTokens: 10_000 }],
    });
    const router = modelRouter({ groups: { g: { deployments: [on(server, 'm')] } }, budget: ledger });
    await router.chat('g', request, { budget: { team: 't', agent: 'someone' } });
    expect((await ledger.usage('team', 't'))?.tokens).toBe(5);
  });

  it('gives the reservation back when the call fails unbilled', async () => {
    server.fault('m', 'auth');
    const ledger = budgetLedger({
      store: memoryKeyValue(),
      limits: [{ scope: 'agent', id: '*', window: 60_000, maxTokens: 1000 }],
    });
    const router = modelRouter({ groups: { g: { deployments: [on(server, 'm')] } }, budget: ledger });
    expect(await failureCode(router.chat('g', request, { budget: { agent: 'x' } }))).toBe('MODEL_AUTH');
    expect((await ledger.usage('agent', 'x'))?.tokens).toBe(0);
  });

  it('limits cost with the deployment prices, per tenant, and says who is over and by how much', async () => {
    billExactly();
    const ledger = budgetLedger({
      store: memoryKeyValue(),
      limits: [{ scope: 'tenant', id: 'acme', window: 'minute', maxCost: 0.05 }],
    });
    const router = modelRouter({
      groups: { g: { deployments: [on(server, 'm', { inputPricePer1k: 0.5, outputPricePer1k: 1 })] } },
      budget: ledger,
    });
    const cost = (estimate.inputTokens * 0.5 + estimate.outputTokens * 1) / 1000;
    const allowed = Math.floor(0.05 / cost);
    for (let i = 0; i < allowed; i++) await router.chat('g', request, { budget: { tenant: 'acme' } });
    const err = await router.chat('g', request, { budget: { tenant: 'acme' } }).catch((e: unknown) => e);
    expect(BudgetExceededError.is(err)).toBe(true);
    expect(err).toMatchObject({
      code: 'BUDGET_EXCEEDED',
      scope: 'tenant',
      id: 'acme',
      measure: 'cost',
      limit: 0.05,
    });
    expect((err as BudgetExceededError).used).toBeCloseTo(allowed * cost);
    expect(server.billed.total.calls).toBe(allowed);
  });

  it('starts a new window when the clock moves past the old one', async () => {
    billExactly();
    const clock = new ManualClock(1_000_000);
    const ledger = budgetLedger({
      store: memoryKeyValue(),
      clock,
      limits: [{ scope: 'agent', id: 'a', window: 'minute', maxTokens: perCall }],
    });
    const router = modelRouter({ groups: { g: { deployments: [on(server, 'm')] } }, budget: ledger });
    await router.chat('g', request, { budget: { agent: 'a' } });
    expect(await failureCode(router.chat('g', request, { budget: { agent: 'a' } }))).toBe('BUDGET_EXCEEDED');
    clock.advance(60_000);
    await router.chat('g', request, { budget: { agent: 'a' } });
    expect(server.billed.total.calls).toBe(2);
  });
});

describe('a NATS restart while budgets are in use', () => {
  it('fails calls with KV_UNAVAILABLE while NATS is down (no call made), then enforces the budget again', async () => {
    billExactly();
    const own = await startNats();
    const store = await natsKeyValue({ servers: own.url, bucket: 'b', opTimeoutMs: 500 });
    try {
      const router = routerOn(store, 3 * perCall);
      await router.chat('g', request, { budget: { agent: 'a1' } });
      const restarting = own.restart(1500);
      await new Promise((r) => setTimeout(r, 200));
      expect(await failureCode(router.chat('g', request, { budget: { agent: 'a1' } }))).toBe(
        'KV_UNAVAILABLE',
      );
      expect(server.billed.total.calls).toBe(1);
      await restarting;
      await expect
        .poll(
          () =>
            router.chat('g', request, { budget: { agent: 'a1' } }).then(
              () => 'ok',
              (e: TroupeError) => e.code,
            ),
          { timeout: 10_000, interval: 300 },
        )
        .toBe('ok');
      await router.chat('g', request, { budget: { agent: 'a1' } });
      expect(await failureCode(router.chat('g', request, { budget: { agent: 'a1' } }))).toBe(
        'BUDGET_EXCEEDED',
      );
      expect(server.billed.total.calls).toBe(3);
    } finally {
      await store.close();
      await own.stop();
    }
  }, 30_000);
});
