// Breakers shared by two routers (two systems) through NATS KV on one real nats-server: a circuit opened on A
// is avoided by B without B calling it, one probe per cooldown across both, closing seen by both, and a NATS
// restart during which each router goes on alone and after which sharing resumes.

import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type ModelRouter, modelRouter } from '../../models/index.js';
import type { KeyValueStore } from '../../runtime/index.js';
import { type LlmServer, type ServerProcess, startLlmServer, startNats } from '../../testing/index.js';
import { natsKeyValue } from '../../transport/index.js';
import { ask, capturedLogger, on, sleep } from '../helpers/models.js';

let nats: ServerProcess;
let server: LlmServer;
beforeAll(async () => {
  nats = await startNats();
});
afterAll(() => nats.stop());
beforeEach(async () => {
  server = await startLlmServer();
});
afterEach(() => server.close());

const toMain = () => server.requests.filter((r) => r.model === 'main').length;

function routerOn(
  store: KeyValueStore,
  id: string,
  cooldownMs = 1000,
): { router: ModelRouter; lines: Record<string, unknown>[] } {
  const { logger, lines } = capturedLogger();
  const router = modelRouter({
    id,
    groups: {
      main: { deployments: [on(server, 'main')], fallbacks: ['backup'] },
      backup: { deployments: [on(server, 'backup')] },
    },
    retries: { attempts: 3, baseMs: 5, maxMs: 500, jitter: 0 },
    breaker: { failures: 3, windowMs: 10_000, cooldownMs, halfOpenProbes: 1 },
    shared: store,
    logger,
  });
  return { router, lines };
}

async function pair(opTimeoutMs?: number, servers = nats.url) {
  const bucket = `brk${randomBytes(3).toString('hex')}`;
  const storeA = await natsKeyValue({
    servers,
    bucket,
    ...(opTimeoutMs === undefined ? {} : { opTimeoutMs }),
  });
  const storeB = await natsKeyValue({
    servers,
    bucket,
    ...(opTimeoutMs === undefined ? {} : { opTimeoutMs }),
  });
  return {
    storeA,
    storeB,
    close: async () => {
      await storeA.close();
      await storeB.close();
    },
  };
}

describe('breakers shared through NATS KV', () => {
  it('a circuit opened on A is avoided by B: B goes to the fallback without calling it', async () => {
    const { storeA, storeB, close } = await pair();
    try {
      const a = routerOn(storeA, 'A', 5000);
      const b = routerOn(storeB, 'B', 5000);
      server.fault('main', 'overloaded');
      expect((await a.router.chat('main', ask('1'))).model).toBe('backup');
      expect(toMain()).toBe(3);
      await expect.poll(() => b.router.health().main?.state).toBe('open');
      for (let i = 0; i < 10; i++) expect((await b.router.chat('main', ask(`b${i}`))).model).toBe('backup');
      expect(toMain()).toBe(3);
      expect(b.lines.some((l) => l.msg === 'model breaker changed on another node' && l.by === 'A')).toBe(
        true,
      );
      await a.router.close();
      await b.router.close();
    } finally {
      await close();
    }
  });

  it('after the cooldown only one of the two routers probes; its success closes the circuit on both', async () => {
    const { storeA, storeB, close } = await pair();
    try {
      const a = routerOn(storeA, 'A', 800);
      const b = routerOn(storeB, 'B', 800);
      server.fault('main', 'server-error');
      await a.router.chat('main', ask('open it'));
      await expect.poll(() => b.router.health().main?.state).toBe('open');
      server.clearFaults();
      server.latency('main', 100);
      await sleep(850);
      const before = toMain();
      // Both fleets race for the probe: one wins it, every other call goes to the fallback.
      const answers = await Promise.all(
        Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? a : b).router.chat('main', ask(`p${i}`))),
      );
      expect(toMain() - before).toBe(1);
      expect(answers.filter((r) => r.model === 'main')).toHaveLength(1);
      await expect
        .poll(() => [a.router.health().main?.state, b.router.health().main?.state])
        .toEqual(['closed', 'closed']);
      expect((await b.router.chat('main', ask('again'))).model).toBe('main');
    } finally {
      await close();
    }
  });

  it('goes on with its own view while NATS restarts, then shares again', async () => {
    const own = await startNats();
    const { storeA, storeB, close } = await pair(300, own.url);
    try {
      const a = routerOn(storeA, 'A', 20_000);
      const b = routerOn(storeB, 'B', 20_000);
      const restarting = own.restart(1500);
      await sleep(200);
      // NATS is down: calls still work, and an outage of the model still opens A's breaker locally.
      server.fault('main', 'overloaded');
      expect((await a.router.chat('main', ask('1'))).model).toBe('backup');
      expect(a.router.health().main?.state).toBe('open');
      // The open state could not be written: one warning says so (the write times out after 300 ms).
      await expect
        .poll(() => a.lines.filter((l) => String(l.msg).includes('shared store unavailable')).length)
        .toBe(1);
      expect(b.router.health().main?.state).toBe('closed');
      await restarting;
      // NATS is back: A writes its state again, B (watching again) adopts it without calling main.
      await expect.poll(() => b.router.health().main?.state, { timeout: 10_000 }).toBe('open');
      await expect
        .poll(() => a.lines.some((l) => String(l.msg).includes('shared store available again')))
        .toBe(true);
      const calls = toMain();
      expect((await b.router.chat('main', ask('b'))).model).toBe('backup');
      // A router started now reads it too.
      const c = routerOn(storeB, 'C', 20_000);
      await expect.poll(() => c.router.health().main?.state, { timeout: 10_000 }).toBe('open');
      expect((await c.router.chat('main', ask('c'))).model).toBe('backup');
      expect(toMain()).toBe(calls);
    } finally {
      await close();
      await own.stop();
    }
  }, 30_000);
});
