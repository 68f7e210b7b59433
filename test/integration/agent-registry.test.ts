// The agent registry on a real nats-server: cards published through one connection are seen through another,
// find ranks by its score and filters, stale cards are skipped, compare-and-set updates hold under contention,
// throttled stats, and an outage that rejects with a code and then recovers.

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AgentCard,
  type AgentCardInput,
  type AgentRegistry,
  agentRegistry,
  cardKey,
  type RegistryChange,
  RegistryErrorCode,
  StatsWindow,
  scoreCards,
} from '../../agents/index.js';
import {
  type KeyValueStore,
  KvErrorCode,
  ManualClock,
  memoryKeyValue,
  silentLogger,
  TroupeError,
} from '../../runtime/index.js';
import { type ServerProcess, startNats } from '../../testing/index.js';
import { natsKeyValue } from '../../transport/index.js';

let nats: ServerProcess;
beforeAll(async () => {
  nats = await startNats();
});
afterAll(() => nats.stop());

const bucket = () => `reg${randomBytes(3).toString('hex')}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function code(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return TroupeError.is(err) ? err.code : String(err);
  }
}

function card(name: string, address: string, extra: Partial<AgentCardInput> = {}): AgentCardInput {
  return {
    name,
    address,
    description: `${name} agent`,
    capabilities: ['plan'],
    model: 'main',
    costPer1kTokens: { input: 0.001, output: 0.002 },
    ...extra,
  };
}

/** Two stores on one bucket through two connections, and a registry on each. */
async function pair(options: { clock?: ManualClock; heartbeatMs?: number } = {}) {
  const name = bucket();
  const storeA = await natsKeyValue({ servers: nats.url, bucket: name });
  const storeB = await natsKeyValue({ servers: nats.url, bucket: name });
  const opts = {
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.heartbeatMs === undefined ? {} : { heartbeatMs: options.heartbeatMs }),
  };
  const a = agentRegistry({ store: storeA, ...opts });
  const b = agentRegistry({ store: storeB, ...opts });
  return {
    a,
    b,
    storeA,
    storeB,
    async [Symbol.asyncDispose]() {
      await a.close();
      await b.close();
      await storeA.close();
      await storeB.close();
    },
  };
}

describe('agent registry on NATS KV', () => {
  it("two registries on two connections see each other's cards, and watch them", async () => {
    await using p = await pair();
    const seen: RegistryChange[] = [];
    const stop = p.b.watch((change) => seen.push(change));
    try {
      const published = await p.a.publish(card('planner', 'n1/planner', { node: 'n1' }));
      await p.b.publish(card('coder', 'n2/team/coder', { capabilities: ['code', 'plan'] }));
      expect(published).toMatchObject({ node: 'n1', p50LatencyMs: 0, successRate: 1, load: 0 });
      const fromA = await p.a.list();
      const fromB = await p.b.list();
      expect(fromA.map((c) => c.address)).toEqual(['n2/team/coder', 'n1/planner']);
      expect(fromB).toEqual(fromA);
      expect(fromB[0]?.node).toBe('n2');
      expect(await p.b.get('n1/planner')).toEqual(published);
      // B changes A's card (stats only) and A removes B's.
      await p.b.update('n1/planner', { load: 3 });
      expect((await p.a.get('n1/planner'))?.load).toBe(3);
      await p.a.remove('n2/team/coder');
      expect((await p.b.list()).map((c) => c.address)).toEqual(['n1/planner']);
      await expect
        .poll(() => seen.map((c) => (c.type === 'put' ? `put ${c.card.address}` : `del ${c.address}`)))
        .toEqual(['put n1/planner', 'put n2/team/coder', 'put n1/planner', 'del n2/team/coder']);
      expect(seen[3]).toEqual({ type: 'delete', name: 'coder', address: 'n2/team/coder' });
    } finally {
      stop();
    }
  });

  it('find ranks cheaper, faster, less loaded and more reliable first, filtered by capability and maxCost', async () => {
    await using p = await pair();
    await p.a.publish(card('cheap', 'n1/cheap', { costPer1kTokens: { input: 0.0005, output: 0.0015 } }));
    await p.a.publish(card('pricey', 'n1/pricey', { costPer1kTokens: { input: 0.01, output: 0.03 } }));
    await p.b.publish(card('slow', 'n2/slow', { p50LatencyMs: 4000, load: 2 }));
    await p.b.publish(card('busy', 'n2/busy', { load: 5 }));
    await p.b.publish(card('flaky', 'n2/flaky', { successRate: 0.4 }));
    await p.b.publish(card('base', 'n2/base', { p50LatencyMs: 400, load: 1 }));
    await p.b.publish(card('coder', 'n2/coder', { capabilities: ['code'] }));

    // cost/0.04 + p50/4000 + load/5 + 2·(1 − success): cheap .05, base .375, pricey 1, busy 1.075,
    // flaky 1.275, slow 1.475
    const ranked = await p.a.find({ capability: 'plan' });
    expect(ranked.map((c) => c.name)).toEqual(['cheap', 'base', 'pricey', 'busy', 'flaky', 'slow']);
    expect(ranked.map((c) => Math.round(c.score * 1000))).toEqual([50, 375, 1000, 1075, 1275, 1475]);
    // The scores are the documented formula over the candidates.
    const expected = scoreCards(ranked);
    expect(ranked.map((c) => c.score)).toEqual(expected);
    expect(ranked[0]!.score).toBeLessThan(ranked[1]!.score);

    expect((await p.b.find({ capability: 'code' })).map((c) => c.name)).toEqual(['coder']);
    expect((await p.b.find({ capability: ['code', 'plan'] })).map((c) => c.name)).toEqual([]);
    expect((await p.b.find({ capability: 'plan', maxCost: 0.003 })).map((c) => c.name)).not.toContain(
      'pricey',
    );
    expect((await p.b.find({ capability: 'plan', maxCost: 0.0025 })).map((c) => c.name)).toEqual(['cheap']);
    expect((await p.b.find({ capability: 'plan', limit: 2 })).map((c) => c.name)).toEqual(['cheap', 'base']);
    expect(await p.b.find({ capability: 'nobody' })).toEqual([]);
    // Load changes the order: the cheap one gets busy.
    await p.a.update('n1/cheap', { load: 50, p50LatencyMs: 5000 });
    expect((await p.b.find({ capability: 'plan', limit: 1 }))[0]?.name).toBe('base');
  });

  it('skips stale cards: an agent whose registry stopped refreshing it drops out of find', async () => {
    const clock = new ManualClock(Date.now());
    await using p = await pair({ clock, heartbeatMs: 0 });
    const alive = agentRegistry({ store: p.storeA, clock, staleAfterMs: 30_000, heartbeatMs: 10_000 });
    try {
      await p.a.publish(card('gone', 'n1/gone'));
      await alive.publish(card('alive', 'n2/alive', { costPer1kTokens: { input: 1, output: 1 } }));
      expect((await p.b.find({ capability: 'plan' })).map((c) => c.name)).toEqual(['gone', 'alive']);
      // 40 s pass: the live registry's heartbeat rewrote its card; the other card was not touched.
      for (let i = 0; i < 4; i++) {
        clock.advance(10_000);
        await expect.poll(async () => (await alive.get('n2/alive'))?.updatedAt).toBe(clock.now());
      }
      expect((await p.b.find({ capability: 'plan' })).map((c) => c.name)).toEqual(['alive']);
      const listed = await p.b.list();
      expect(listed.map((c) => c.name)).toEqual(['alive', 'gone']);
      expect(listed.map((c) => p.b.isStale(c))).toEqual([false, true]);
      expect((await p.b.list({ fresh: true })).map((c) => c.name)).toEqual(['alive']);
      // An update brings it back.
      await p.b.update('n1/gone', {});
      expect((await p.b.find({ capability: 'plan' })).map((c) => c.name)).toContain('gone');
    } finally {
      await alive.close();
    }
  });

  it('compare-and-set updates hold under contention: 20 concurrent updates each write once', async () => {
    await using p = await pair();
    await p.a.publish(card('hot', 'n1/hot'));
    const key = cardKey('hot', 'n1/hot');
    const before = (await p.storeA.get(key))!.revision;
    // 20 concurrent absolute updates from two connections: each lands exactly once, and the card is the last one.
    const writes = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? p.a : p.b).update('n1/hot', { load: i + 1 })),
    );
    expect(writes.map((w) => w.load)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    const after = await p.storeB.get(key);
    const last = JSON.parse(after!.value) as AgentCard;
    expect(after!.revision - before).toBe(20);
    expect(last.load).toBeGreaterThanOrEqual(1);
    expect(last.load).toBeLessThanOrEqual(20);
    expect((await p.a.get('n1/hot'))?.load).toBe(last.load);
    // 20 concurrent read-modify-writes: none is lost.
    await p.a.update('n1/hot', { load: 0 });
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 ? p.a : p.b).update('n1/hot', (c) => ({ load: c.load + 1 })),
      ),
    );
    expect((await p.b.get('n1/hot'))?.load).toBe(20);
  });

  it('records runs into a window and writes the card at most once per flushEveryMs', async () => {
    const store = await natsKeyValue({ servers: nats.url, bucket: bucket() });
    const registry = agentRegistry({ store, flushEveryMs: 1000, windowSize: 4 });
    const puts: AgentCard[] = [];
    const stop = registry.watch((c) => {
      if (c.type === 'put') puts.push(c.card);
    });
    try {
      await registry.publish(card('worker', 'n1/worker'));
      await expect.poll(() => puts.length).toBe(1);
      for (const [latencyMs, ok] of [
        [100, true],
        [300, false],
        [200, true],
        [50, true],
        [400, true],
      ] as const)
        registry.record('n1/worker', { latencyMs, ok });
      registry.setLoad('n1/worker', 2);
      // The first flush goes out at once (nothing written in the last second), in one write.
      await expect.poll(() => puts.length).toBe(2);
      // window of 4: 300 (failed), 200, 50, 400 → p50 (lower middle) 200, 3 of 4 ok
      expect(puts[1]).toMatchObject({ p50LatencyMs: 200, successRate: 0.75, load: 2 });
      registry.record('n1/worker', { latencyMs: 10, ok: true });
      registry.setLoad('n1/worker', 1);
      await sleep(400);
      expect(puts.length).toBe(2);
      await expect.poll(() => puts.length, { timeout: 2000 }).toBe(3);
      // the failed 300 ms run fell out of the window: 400, 10, 200, 50
      expect(puts[2]).toMatchObject({ p50LatencyMs: 50, successRate: 1, load: 1 });
      // Records of an agent this registry does not publish are ignored (and never throw).
      registry.record('n9/other', { latencyMs: 1, ok: true });
    } finally {
      stop();
      await registry.close();
      await store.close();
    }
  });

  it('rejects with KV_UNAVAILABLE during a NATS outage, then works again', async () => {
    const server = await startNats();
    const store = await natsKeyValue({ servers: server.url, bucket: bucket(), opTimeoutMs: 500 });
    const registry = agentRegistry({ store, heartbeatMs: 200, logger: silentLogger });
    try {
      await registry.publish(card('p', 'n1/p'));
      const restarting = server.restart(1500);
      await sleep(200);
      const started = Date.now();
      expect(await code(registry.list())).toBe(KvErrorCode.Unavailable);
      expect(await code(registry.update('n1/p', { load: 1 }))).toBe(KvErrorCode.Unavailable);
      expect(await code(registry.find({ capability: 'plan' }))).toBe(KvErrorCode.Unavailable);
      expect(Date.now() - started).toBeLessThan(3000);
      await restarting;
      await expect
        .poll(
          () =>
            registry.list().then(
              (cards) => cards.map((c) => c.address).join(),
              () => 'down',
            ),
          { timeout: 10_000 },
        )
        .toBe('n1/p');
      expect((await registry.update('n1/p', { load: 2 })).load).toBe(2);
      expect((await registry.find({ capability: 'plan' }))[0]?.load).toBe(2);
    } finally {
      await registry.close();
      await store.close();
      await server.stop();
    }
  });
});

describe('agent registry contracts', () => {
  const stores: [string, () => Promise<KeyValueStore>][] = [
    ['memory', async () => memoryKeyValue()],
    ['nats', () => natsKeyValue({ servers: nats.url, bucket: bucket(), namespace: 'ns' })],
  ];

  it.each(stores)('validates cards and names unknown agents with codes (%s)', async (_name, make) => {
    const store = await make();
    const registry: AgentRegistry = agentRegistry({ store });
    try {
      expect(await code(registry.publish({ ...card('x', 'n1/x'), capabilities: 'plan' as never }))).toBe(
        RegistryErrorCode.InvalidCard,
      );
      expect(await code(registry.publish(card('x', '$v/agent/x')))).toBe(RegistryErrorCode.InvalidCard);
      expect((await registry.publish(card('x', '$v/agent/x', { node: 'n3' }))).node).toBe('n3');
      expect(await code(registry.update('n1/none', { load: 1 }))).toBe(RegistryErrorCode.UnknownAgent);
      expect(await code(registry.update('$v/agent/x', { successRate: 2 }))).toBe(
        RegistryErrorCode.InvalidCard,
      );
      expect(await code(registry.remove('n1/none'))).toBe(RegistryErrorCode.UnknownAgent);
      expect(await registry.get('n1/none')).toBeUndefined();
      // Something else under the prefix is not a card.
      await store.put('agents.cards.junk.junk', 'not json');
      expect((await registry.list()).map((c) => c.address)).toEqual(['$v/agent/x']);
      // Republishing under a new name moves the card.
      await registry.publish(card('y', '$v/agent/x', { node: 'n3' }));
      expect((await registry.list()).map((c) => c.name)).toEqual(['y']);
      await registry.remove('$v/agent/x');
      expect(await registry.list()).toEqual([]);
      await registry.close();
      expect(await code(registry.list())).toBe(RegistryErrorCode.Closed);
    } finally {
      await registry.close();
      await store.close();
    }
  });

  it("keeps a live agent's card: the heartbeat rewrites it, and puts it back when someone removed it", async () => {
    const clock = new ManualClock(1_000_000);
    const store = memoryKeyValue();
    const owner = agentRegistry({ store, clock, staleAfterMs: 3000, heartbeatMs: 1000 });
    const other = agentRegistry({ store, clock, staleAfterMs: 3000, heartbeatMs: 0 });
    try {
      await owner.publish(card('kept', 'n1/kept'));
      clock.advance(1000);
      await expect.poll(async () => (await other.get('n1/kept'))?.updatedAt).toBe(1_001_000);
      await other.remove('n1/kept');
      expect(await other.list()).toEqual([]);
      clock.advance(1000);
      await expect.poll(async () => (await other.get('n1/kept'))?.updatedAt).toBe(1_002_000);
      // Closed: no more heartbeats; the card goes stale.
      await owner.close();
      clock.advance(5000);
      expect((await other.get('n1/kept'))?.updatedAt).toBe(1_002_000);
      expect(await other.find({ capability: 'plan' })).toEqual([]);
      expect(() => agentRegistry({ store, windowSize: 0 })).toThrow(/windowSize/);
      expect(() => agentRegistry({ store, staleAfterMs: -1 })).toThrow(/staleAfterMs/);
    } finally {
      await owner.close();
      await other.close();
    }
  });

  it('StatsWindow keeps the last N runs: p50 and success rate', () => {
    const w = new StatsWindow(3);
    expect([w.count, w.p50, w.successRate]).toEqual([0, 0, 1]);
    w.record(30, true);
    w.record(10, false);
    expect([w.count, w.p50, w.successRate]).toEqual([2, 10, 0.5]);
    w.record(20, true);
    w.record(40, true); // drops 30
    expect([w.count, w.p50, w.successRate]).toEqual([3, 20, 2 / 3]);
    expect(() => new StatsWindow(0)).toThrow();
  });
});
