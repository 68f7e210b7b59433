// The load agent in process: a plain-code custom target that counts calls, driven through the agent's protocol.
// The open model runs exactly rate × duration iterations (across two nodes too), the closed model runs its VUs,
// a throwing scenario gets its VU restarted and the loop goes on, `stop` aborts in-flight iterations at once,
// `assign` adds slots, and the dead-man switch ends a run whose coordinator is silent.

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Histogram } from '../../bench/index.js';
import {
  type LoadAgentProtocol,
  type NodeSnapshot,
  type RunPlan,
  startLoadAgent,
} from '../../load/agent/index.js';
import { LoadErrorCode } from '../../load/errors.js';
import type { ExecutorSpec } from '../../load/executors/index.js';
import { mergeSnapshots } from '../../load/metrics/index.js';
import { readModuleRef } from '../../load/module.js';
import { type ActorRef, type ActorSystem, createSystem } from '../../runtime/index.js';

/** The module under test: a counting target and a scenario whose behaviour the run's data picks. */
const MODULE = `
const counts = (globalThis.__loadAgentTest ??= { calls: 0, byVu: {}, opened: 0, closed: 0, afterCrash: 0, crashed: false });
const counter = {
  kind: 'counter',
  describe: () => 'an in-process counter',
  async open(ctx) {
    counts.opened++;
    return {
      client: {
        async call(delayMs) {
          const start = performance.now();
          if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
          counts.calls++;
          ctx.recorder.request(ctx.name, performance.now() - start, { bytesIn: 10 });
        },
      },
      async close() { counts.closed++; },
    };
  },
};
export default {
  name: 'agent-test',
  targets: { counter },
  executor: { kind: 'constant-vus', vus: 1, durationMs: 1000 },
  gracefulStopMs: 2000,
  async scenario(vu) {
    const mode = vu.data.mode;
    counts.byVu[vu.id] = (counts.byVu[vu.id] ?? 0) + 1;
    if (mode === 'hang') { await vu.sleep(60_000); return; }
    if (mode === 'crash') {
      vu.state.n = (vu.state.n ?? 0) + 1;
      if (vu.state.n === 3) { counts.crashed = true; throw new Error('boom'); }
      if (counts.crashed) counts.afterCrash++;
    }
    await vu.targets.counter.call(vu.data.delayMs ?? 0);
    vu.check('ok', true);
    if (mode !== 'open' && (vu.data.thinkMs ?? 0) > 0) await vu.sleep(vu.data.thinkMs);
  },
};
`;

interface Counts {
  calls: number;
  byVu: Record<number, number>;
  opened: number;
  closed: number;
  afterCrash: number;
  crashed: boolean;
}
const counts = (): Counts => (globalThis as unknown as { __loadAgentTest: Counts }).__loadAgentTest;

let dir: string;
let modulePath: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'load-agent-'));
  modulePath = join(dir, 'agent-test.mjs');
  await writeFile(modulePath, MODULE);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const systems: ActorSystem[] = [];
afterEach(async () => {
  await Promise.all(systems.splice(0).map((s) => s.close()));
  // The module is imported once per process and keeps this object: reset it in place.
  const c = (globalThis as { __loadAgentTest?: Counts }).__loadAgentTest;
  if (c !== undefined)
    Object.assign(c, { calls: 0, byVu: {}, opened: 0, closed: 0, afterCrash: 0, crashed: false });
});

async function node(nodeId: string, options: Parameters<typeof startLoadAgent>[1] = {}) {
  const system = await createSystem({ nodeId });
  systems.push(system);
  return { system, agent: startLoadAgent(system, { cacheDir: dir, ...options }) };
}

let runNo = 0;
async function plan(executor: ExecutorSpec, data: unknown, over: Partial<RunPlan> = {}): Promise<RunPlan> {
  return {
    runId: `run-${++runNo}`,
    module: await readModuleRef(modulePath),
    executor,
    slots: [0],
    slotCount: 1,
    startAt: Date.now() + 200,
    data,
    coordinator: 'test/coordinator',
    deadManMs: 5000,
    ...over,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Asks for snapshots (the heartbeat) until the node's part is done; returns the final one from `stop`. */
async function runToEnd(
  agent: ActorRef<LoadAgentProtocol>,
  runId: string,
  maxMs = 10_000,
): Promise<NodeSnapshot> {
  const deadline = Date.now() + maxMs;
  for (;;) {
    const snap = await agent.ask({ type: 'snapshot', runId }, { timeout: 1000 });
    if (snap.done) break;
    if (Date.now() > deadline) throw new Error(`run ${runId} not done after ${maxMs} ms`);
    await sleep(100);
  }
  return agent.ask({ type: 'stop', runId, reason: 'done' }, { timeout: 2000 });
}

describe('load agent: open model', () => {
  it('runs exactly rate × duration iterations, each once', async () => {
    const { agent, system } = await node('n1');
    const p = await plan(
      { kind: 'constant-arrival-rate', rate: 200, durationMs: 1000, preAllocatedVus: 4, maxVus: 20 },
      { mode: 'open', delayMs: 2 },
    );
    expect(await agent.ask({ type: 'start', plan: p })).toEqual({ node: 'n1' });
    const final = await runToEnd(agent, p.runId);
    expect(final.done).toBe(true);
    expect(final.counters.iterations).toBe(200);
    expect(final.counters.requests).toBe(200);
    expect(final.counters.dropped_iterations ?? 0).toBe(0);
    // The last one is due 1/rate before the end, and even one dispatched at the end gets the graceful stop.
    expect(final.counters.interrupted_iterations ?? 0).toBe(0);
    expect(counts().calls).toBe(200);
    await sleep(100);
    expect(system.deadLetters.byReason()).toEqual({});
    expect(system.inspect().filter((a) => a.type === 'load-vu')).toEqual([]);
    expect(final.histograms.iteration?.count).toBe(200);
    expect(final.cpuMicros).toBeGreaterThan(0);
    expect(counts().opened).toBe(1);
    expect(counts().closed).toBe(1);
  });

  it('splits the iterations of one schedule over two nodes by slot, and their snapshots merge', async () => {
    const a = await node('na');
    const b = await node('nb');
    const executor: ExecutorSpec = {
      kind: 'ramping-arrival-rate',
      startRate: 50,
      stages: [{ durationMs: 1000, target: 250 }],
      preAllocatedVus: 6,
    };
    const base = await plan(executor, { mode: 'open' }, { slotCount: 2 });
    await a.agent.ask({ type: 'start', plan: { ...base, slots: [0] } });
    await b.agent.ask({ type: 'start', plan: { ...base, slots: [1] } });
    const [fa, fb] = await Promise.all([runToEnd(a.agent, base.runId), runToEnd(b.agent, base.runId)]);
    // N(1 s) = (50 + 250) / 2 = 150 iterations, even ones on slot 0, odd ones on slot 1.
    expect(fa.counters.iterations).toBe(75);
    expect(fb.counters.iterations).toBe(75);
    const merged = mergeSnapshots([fa, fb]);
    expect(merged.counters.iterations).toBe(150);
    expect(merged.histograms.get('request')?.count).toBe(150);
  });

  it('drops iterations when the pool is at its most VUs', async () => {
    const { agent } = await node('n1');
    const p = await plan(
      { kind: 'constant-arrival-rate', rate: 100, durationMs: 500, preAllocatedVus: 1, maxVus: 2 },
      { mode: 'open', delayMs: 100 },
    );
    await agent.ask({ type: 'start', plan: p });
    const final = await runToEnd(agent, p.runId);
    expect(final.counters.dropped_iterations).toBeGreaterThan(0);
    expect((final.counters.iterations ?? 0) + (final.counters.dropped_iterations ?? 0)).toBe(50);
  });
});

describe('load agent: closed model', () => {
  it('runs one looping VU per slot, and its VUs end without dead letters', async () => {
    const { agent, system } = await node('n1');
    const p = await plan(
      { kind: 'constant-vus', vus: 3, durationMs: 600 },
      { mode: 'closed', thinkMs: 10 },
      { slots: [0, 1, 2], slotCount: 3 },
    );
    await agent.ask({ type: 'start', plan: p });
    await sleep(400);
    const mid = await agent.ask({ type: 'snapshot', runId: p.runId });
    expect(mid.vus).toBe(3);
    const final = await runToEnd(agent, p.runId);
    expect(Object.keys(counts().byVu).sort()).toEqual(['0', '1', '2']);
    expect(final.counters.iterations).toBeGreaterThan(3 * 5);
    expect(final.counters['checks.pass']).toBe(final.counters.iterations);
    expect(final.vus).toBe(0);
    await sleep(100);
    expect(system.deadLetters.byReason()).toEqual({});
    expect(system.inspect().filter((a) => a.type === 'load-vu')).toEqual([]);
  });

  it('a scenario without I/O does not starve the timers: the run still ends on time', async () => {
    const { agent } = await node('n1');
    const p = await plan(
      { kind: 'constant-vus', vus: 2, durationMs: 300 },
      { mode: 'closed' },
      { slots: [0, 1], slotCount: 2 },
    );
    await agent.ask({ type: 'start', plan: p });
    const final = await runToEnd(agent, p.runId, 5000);
    expect(final.counters.iterations).toBeGreaterThan(1000);
    expect(final.counters.iterations).toBe(counts().calls);
  });

  it('restarts a VU whose scenario throws, and its loop goes on with fresh state', async () => {
    const { agent } = await node('n1');
    const p = await plan({ kind: 'constant-vus', vus: 1, durationMs: 600 }, { mode: 'crash', thinkMs: 5 });
    await agent.ask({ type: 'start', plan: p });
    const final = await runToEnd(agent, p.runId);
    expect(final.counters.vu_restarts).toBeGreaterThan(0);
    expect(final.counters['errors.iteration']).toBeGreaterThan(0);
    // Fresh state after each restart: it crashes again every third iteration, and runs on in between.
    expect(final.counters['errors.iteration']).toBeGreaterThan(1);
    // A scenario's own throw is an error once (not a target's failed request, which its target counted).
    expect(final.counters.errors).toBe(final.counters['errors.iteration']);
    expect(counts().afterCrash).toBeGreaterThan(0);
  });

  it('assign adds slots at once: more VUs run', async () => {
    const { agent } = await node('n1');
    const p = await plan(
      { kind: 'constant-vus', vus: 4, durationMs: 3000 },
      { mode: 'closed', thinkMs: 10 },
      { slots: [0, 1], slotCount: 4 },
    );
    await agent.ask({ type: 'start', plan: p });
    await sleep(400);
    expect((await agent.ask({ type: 'snapshot', runId: p.runId })).vus).toBe(2);
    expect(await agent.ask({ type: 'assign', runId: p.runId, slots: [0, 1, 2, 3] })).toEqual({ node: 'n1' });
    await sleep(300);
    const after = await agent.ask({ type: 'snapshot', runId: p.runId });
    expect(after.vus).toBe(4);
    expect(after.slots).toEqual([0, 1, 2, 3]);
    await agent.ask({ type: 'stop', runId: p.runId, reason: 'interrupt' });
    expect(Object.keys(counts().byVu).sort()).toEqual(['0', '1', '2', '3']);
  });
});

describe('load agent: stopping', () => {
  it('stop aborts in-flight iterations and answers within a second', async () => {
    const { agent, system } = await node('n1');
    const p = await plan(
      { kind: 'constant-vus', vus: 5, durationMs: 30_000 },
      { mode: 'hang' },
      {
        slots: [0, 1, 2, 3, 4],
        slotCount: 5,
      },
    );
    await agent.ask({ type: 'start', plan: p });
    await sleep(400);
    const asked = Date.now();
    const final = await agent.ask({ type: 'stop', runId: p.runId, reason: 'interrupt' }, { timeout: 5000 });
    expect(Date.now() - asked).toBeLessThan(1000);
    expect(final.done).toBe(true);
    expect(final.counters.interrupted_iterations).toBe(5);
    expect(final.counters.errors ?? 0).toBe(0);
    expect(counts().closed).toBe(1);
    await sleep(100);
    expect(system.inspect().filter((a) => a.type === 'load-vu')).toEqual([]);
  });

  it('the dead-man switch stops a run whose coordinator is silent', async () => {
    const { agent } = await node('n1');
    const p = await plan(
      { kind: 'constant-vus', vus: 1, durationMs: 30_000 },
      { mode: 'closed', thinkMs: 10 },
      {
        deadManMs: 300,
        startAt: Date.now() + 50,
      },
    );
    await agent.ask({ type: 'start', plan: p });
    await sleep(1500);
    const snap = await agent.ask({ type: 'snapshot', runId: p.runId });
    expect(snap.done).toBe(true);
    expect(snap.counters.dead_man_stops).toBe(1);
    const calls = counts().calls;
    await sleep(200);
    expect(counts().calls).toBe(calls);
  });
});

describe('load agent: refusals and samples', () => {
  it('refuses a share above its caps, a source that does not match its hash, and unknown runs', async () => {
    const { agent } = await node('n1', { caps: { maxVus: 2, maxRatePerSec: 100 } });
    const closed = await plan(
      { kind: 'constant-vus', vus: 3, durationMs: 500 },
      {},
      { slots: [0, 1, 2], slotCount: 3 },
    );
    await expect(agent.ask({ type: 'start', plan: closed })).rejects.toMatchObject({
      code: LoadErrorCode.OverCap,
    });
    const open = await plan(
      { kind: 'constant-arrival-rate', rate: 300, durationMs: 500, preAllocatedVus: 1 },
      {},
      {
        slots: [0, 1],
        slotCount: 4,
      },
    );
    // Its share is half of 300/s: above 100/s.
    await expect(agent.ask({ type: 'start', plan: open })).rejects.toMatchObject({
      code: LoadErrorCode.OverCap,
    });
    const tampered = await plan({ kind: 'constant-vus', vus: 1, durationMs: 500 }, {});
    tampered.module = {
      ...tampered.module,
      path: join(dir, 'elsewhere.mjs'),
      source: `${tampered.module.source}\n// x`,
    };
    await expect(agent.ask({ type: 'start', plan: tampered })).rejects.toMatchObject({
      code: LoadErrorCode.Module,
    });
    await expect(agent.ask({ type: 'snapshot', runId: 'nope' })).rejects.toMatchObject({
      code: LoadErrorCode.UnknownRun,
    });
    // The agent is still there after refusals.
    const ok = await plan({ kind: 'constant-vus', vus: 1, durationMs: 200 }, { mode: 'closed', thinkMs: 5 });
    await agent.ask({ type: 'start', plan: ok });
    expect((await runToEnd(agent, ok.runId)).counters.iterations).toBeGreaterThan(0);
  });

  it('imports a shipped module from its cache copy when the path is not there', async () => {
    const { agent } = await node('n1');
    const p = await plan({ kind: 'constant-vus', vus: 1, durationMs: 200 }, { mode: 'closed', thinkMs: 5 });
    p.module = { ...p.module, path: '/nonexistent/agent-test.mjs' };
    await agent.ask({ type: 'start', plan: p });
    expect((await runToEnd(agent, p.runId)).counters.iterations).toBeGreaterThan(0);
    const cached = await readFile(join(dir, '.troupe', 'load', `${p.module.sha256}.mjs`), 'utf8');
    expect(cached).toBe(p.module.source);
  });

  it('writes every request sample as recorded, so one histogram of them equals the snapshot', async () => {
    const samplesDir = join(dir, 'samples');
    const { agent } = await node('n1', { samplesDir });
    const p = await plan(
      { kind: 'constant-arrival-rate', rate: 300, durationMs: 500, preAllocatedVus: 5 },
      { mode: 'open', delayMs: 1 },
    );
    await agent.ask({ type: 'start', plan: p });
    const final = await runToEnd(agent, p.runId);
    const lines = (await readFile(join(samplesDir, `${p.runId}-n1.txt`), 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(150);
    const rebuilt = new Histogram();
    for (const line of lines) rebuilt.record(Number(line));
    const shipped = Histogram.fromJSON(final.histograms.request!);
    expect(rebuilt.percentiles()).toEqual(shipped.percentiles());
  });
});
