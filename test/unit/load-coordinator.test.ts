// Unit tests of the load coordinator against fake agents on a ManualClock: the plans it sends, a node lost
// after three silent snapshots (its slots move), Ctrl-C, a refused start, and the merged report.

import { afterEach, describe, expect, it } from 'vitest';
import { Histogram } from '../../bench/index.js';
import {
  type CoordinatorOptions,
  type LoadFleet,
  type LoadReport,
  type LoadTest,
  type NodeSnapshot,
  type RunPlan,
  runCoordinator,
} from '../../load/index.js';
import { type ActorSystem, ManualClock } from '../../runtime/index.js';

type Message =
  | { type: 'start'; plan: RunPlan }
  | { type: 'assign'; runId: string; slots: number[] }
  | { type: 'snapshot'; runId: string }
  | { type: 'stop'; runId: string; reason: 'done' | 'interrupt' };

/** A fake load node: records what it was asked, answers cumulative snapshots, can go silent or refuse. */
class FakeAgent {
  readonly asked: Message[] = [];
  silent = false;
  refuse: string | undefined;
  slots: number[] = [];
  #seq = 0;
  #requests = 0;
  constructor(readonly id: string) {}

  async ask(message: Message): Promise<unknown> {
    this.asked.push(message);
    if (this.silent) throw Object.assign(new Error('no reply'), { code: 'ASK_TIMEOUT' });
    switch (message.type) {
      case 'start':
        if (this.refuse) throw Object.assign(new Error(this.refuse), { code: 'LOAD_OVER_CAP' });
        this.slots = message.plan.slots;
        return { node: this.id };
      case 'assign':
        this.slots = message.slots;
        return { node: this.id };
      default:
        this.#requests += 10 * this.slots.length;
        return this.#snapshot(message.runId, message.type === 'stop');
    }
  }

  #snapshot(runId: string, done: boolean): NodeSnapshot {
    const h = new Histogram();
    for (let i = 0; i < this.#requests; i++) h.record(1000 + i);
    return {
      runId,
      node: this.id,
      seq: ++this.#seq,
      at: 0,
      histograms: { request: h.toJSON() },
      counters: { requests: this.#requests },
      vus: this.slots.length,
      slots: this.slots,
      done,
      cpuMicros: 100,
    };
  }
}

const test: LoadTest = {
  name: 'fake',
  targets: {},
  scenario: async () => {},
  executor: { kind: 'constant-vus', vus: 4, durationMs: 3000 },
  thresholds: ['requests > 0'],
  gracefulStopMs: 0,
};

let clock: ManualClock;
let agents: Map<string, FakeAgent>;
let members: string[];
afterEach(() => {
  agents.clear();
});

function setup(ids: string[]): Omit<CoordinatorOptions, 'test'> {
  clock = new ManualClock(1_000_000);
  agents = new Map(ids.map((id) => [id, new FakeAgent(id)]));
  members = [...ids];
  const fleet: LoadFleet = {
    nodes: () => members,
    agent: (id) => agents.get(id) as never,
  };
  return {
    system: { nodeId: 'coordinator', clock } as unknown as ActorSystem,
    fleet,
    nodes: ids,
    module: { path: '/x.mjs', source: '', sha256: 'x' },
    executor: test.executor,
    clock,
    runId: 'run-1',
    endSlackMs: 0,
  };
}

/** Moves the manual clock on in 100 ms steps, letting the coordinator's asks settle in between. */
async function drive(run: Promise<LoadReport>, each?: (elapsed: number) => void): Promise<LoadReport> {
  let done = false;
  const settle = () => {
    done = true;
  };
  run.then(settle, settle);
  for (let elapsed = 0; !done && elapsed < 60_000; elapsed += 100) {
    each?.(elapsed);
    clock.advance(100);
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  }
  return run;
}

describe('the load coordinator', () => {
  it('sends every node its round-robin slots with one t = 0, polls, stops them and merges their figures', async () => {
    const report = await drive(runCoordinator({ ...setup(['a', 'b']), test }));
    const starts = [...agents.values()].map((a) => a.asked[0]);
    expect(starts.map((s) => s?.type)).toEqual(['start', 'start']);
    const plans = starts.map((s) => (s as { plan: RunPlan }).plan);
    expect(plans.map((p) => p.slots)).toEqual([
      [0, 2],
      [1, 3],
    ]);
    expect(new Set(plans.map((p) => p.startAt)).size).toBe(1);
    expect(plans[0]).toMatchObject({
      runId: 'run-1',
      slotCount: 4,
      coordinator: 'coordinator',
      deadManMs: 5000,
    });
    for (const a of agents.values()) expect(a.asked.at(-1)).toMatchObject({ type: 'stop', reason: 'done' });
    const total = report.nodes.reduce((s, n) => s + n.requests, 0);
    expect(report.counters.requests).toBe(total);
    expect(report.metrics.request?.count).toBe(total);
    expect(report.ok).toBe(true);
    expect(report.interrupted).toBe(false);
    expect(report.durationMs).toBe(3000);
    expect(report.timeline.length).toBeGreaterThanOrEqual(3);
  });

  it('marks a node lost after three silent snapshots and moves its slots to the survivor; its figures stay', async () => {
    const notes: string[] = [];
    const report = await drive(
      runCoordinator({ ...setup(['a', 'b']), test, onNote: (n) => notes.push(n) }),
      (elapsed) => {
        if (elapsed === 1200) agents.get('b')!.silent = true;
      },
    );
    const a = agents.get('a')!;
    expect(a.asked.filter((m) => m.type === 'assign')).toEqual([
      { type: 'assign', runId: 'run-1', slots: [0, 1, 2, 3] },
    ]);
    expect(report.nodes).toEqual([
      expect.objectContaining({ id: 'a', slots: [0, 1, 2, 3], initialSlots: [0, 2], lost: false }),
      expect.objectContaining({ id: 'b', slots: [1, 3], lost: true }),
    ]);
    expect(report.nodes[1]!.requests).toBeGreaterThan(0);
    expect(notes.join('\n')).toContain('lost node b');
    // A lost node is not asked to stop.
    expect(agents.get('b')!.asked.some((m) => m.type === 'stop')).toBe(false);
  });

  it('loses a node that leaves the membership at once', async () => {
    const report = await drive(runCoordinator({ ...setup(['a', 'b']), test }), (elapsed) => {
      if (elapsed === 1000) members = ['a'];
    });
    expect(report.nodes.find((n) => n.id === 'b')?.lost).toBe(true);
  });

  it('stops every node with reason interrupt when aborted, and reports interrupted', async () => {
    const controller = new AbortController();
    const report = await drive(
      runCoordinator({ ...setup(['a']), test, signal: controller.signal }),
      (elapsed) => {
        if (elapsed === 1500) controller.abort();
      },
    );
    expect(agents.get('a')!.asked.at(-1)).toMatchObject({ type: 'stop', reason: 'interrupt' });
    expect(report.interrupted).toBe(true);
    expect(report.ok).toBe(false);
    expect(report.durationMs).toBeLessThan(3000);
  });

  it('fails the run when a node refuses its plan, stopping the nodes that started', async () => {
    const options = setup(['a', 'b']);
    agents.get('b')!.refuse = 'over the cap of this node';
    await expect(drive(runCoordinator({ ...options, test }))).rejects.toMatchObject({
      code: 'LOAD_OVER_CAP',
      message: expect.stringContaining('node b refused the run'),
    });
    expect(agents.get('a')!.asked.at(-1)).toMatchObject({ type: 'stop', reason: 'interrupt' });
  });
});
