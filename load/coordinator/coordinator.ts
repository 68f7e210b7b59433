// The coordinator of a run: deals the slots, starts every node's agent at one instant, polls their cumulative
// snapshots (the heartbeat), moves a lost node's slots to the survivors, stops everyone at the end or on
// Ctrl-C, and merges the figures into the report.

import { randomBytes } from 'node:crypto';
import type { ActorSystem, Clock } from '../../runtime/index.js';
import type { ModuleRef, NodeSnapshot, RunPlan } from '../agent/protocol.js';
import { LoadError, LoadErrorCode } from '../errors.js';
import {
  DEFAULT_LOAD_CAPS,
  executorDurationMs,
  type LoadCaps,
  validateExecutor,
} from '../executors/index.js';
import type { ExecutorSpec } from '../executors/spec.js';
import { type MergedFigures, mergeSnapshots } from '../metrics/merge.js';
import { buildLoadReport, type LoadReport } from '../report/report.js';
import { TimelineBuilder, type TimelineSample } from '../report/timeline.js';
import type { LoadTest } from '../test.js';
import { evaluateThresholds } from '../thresholds.js';
import type { LoadFleet } from './fleet.js';
import type { LoadProgress } from './progress.js';
import { dealSlots, redealSlots, slotCountOf } from './slots.js';

/** Options of {@link runCoordinator}. */
export interface CoordinatorOptions {
  system: ActorSystem;
  fleet: LoadFleet;
  /** The nodes to run on (from waitForLoadNodes). */
  nodes: string[];
  test: LoadTest;
  module: ModuleRef;
  /** The executor after overrides. */
  executor: ExecutorSpec;
  /** @defaultValue DEFAULT_LOAD_CAPS */
  caps?: LoadCaps;
  /** @defaultValue a new random id */
  runId?: string;
  /** Aborting it interrupts the run (Ctrl-C): every node stops at once and the report says interrupted. */
  signal?: AbortSignal;
  /** Called once a second with the live figures. */
  onProgress?: (progress: LoadProgress) => void;
  /** Lines worth telling the user (a node lost, a teardown that failed). */
  onNote?: (text: string) => void;
  /** @defaultValue the system's clock */
  clock?: Clock;
  /** Time between sending the plans and the common t = 0. @defaultValue 300 */
  leadMs?: number;
  /** How often every node is asked for a snapshot. @defaultValue 500 */
  tickMs?: number;
  /** @defaultValue 1000 */
  snapshotTimeoutMs?: number;
  /** Failed snapshot asks in a row after which a node is lost. @defaultValue 3 */
  lostAfter?: number;
  /** A node stops by itself after this long without hearing from the coordinator. @defaultValue 5000 */
  deadManMs?: number;
  /** @defaultValue 15000 */
  startTimeoutMs?: number;
  /** Wait past duration + graceful stop for the nodes' own end, before asking them to stop. @defaultValue 1500 */
  endSlackMs?: number;
}

/** What the coordinator keeps of each node. */
interface NodeState {
  id: string;
  slots: number[];
  initialSlots: number[];
  last: NodeSnapshot | undefined;
  failures: number;
  lost: boolean;
  started: boolean;
}

/** Runs one load run to its end (or interrupt) and returns its report. */
export function runCoordinator(options: CoordinatorOptions): Promise<LoadReport> {
  return new LoadCoordinator(options).run();
}

class LoadCoordinator {
  readonly #o: CoordinatorOptions;
  readonly #clock: Clock;
  readonly #runId: string;
  readonly #nodes = new Map<string, NodeState>();
  readonly #timeline = new TimelineBuilder();
  #startAt = 0;

  constructor(options: CoordinatorOptions) {
    if (options.nodes.length === 0) throw new LoadError(LoadErrorCode.NoNodes, 'no load node to run on');
    this.#o = options;
    this.#clock = options.clock ?? options.system.clock;
    this.#runId = options.runId ?? `load-${randomBytes(4).toString('hex')}`;
  }

  async run(): Promise<LoadReport> {
    const { test, executor } = this.#o;
    validateExecutor(executor, this.#o.caps ?? DEFAULT_LOAD_CAPS);
    let data: unknown;
    try {
      data = await test.setup?.();
    } catch (err) {
      throw new LoadError(LoadErrorCode.Invalid, `setup() failed: ${(err as Error).message ?? err}`, {
        cause: err,
      });
    }
    const durationMs = executorDurationMs(executor);
    let interrupted = false;
    let reason: 'done' | 'interrupt' = 'interrupt';
    let ended = 0;
    try {
      await this.#start(data);
      interrupted = await this.#watch(durationMs);
      if (!interrupted) reason = 'done';
    } finally {
      // Whatever happened, no node keeps running: stop every started one (after a failed start too).
      ended = this.#clock.now();
      await this.#stopAll(reason);
      if (test.teardown)
        await Promise.resolve()
          .then(() => test.teardown?.(data))
          .catch((err: unknown) => this.#o.onNote?.(`teardown() failed: ${(err as Error).message ?? err}`));
    }
    const merged = this.#merged();
    const runMs = interrupted ? Math.min(durationMs, Math.max(0, ended - this.#startAt)) : durationMs;
    this.#timeline.finish(Math.min(ended - this.#startAt, durationMs), this.#sample(merged));
    return buildLoadReport({
      name: test.name,
      runId: this.#runId,
      executor,
      targets: Object.fromEntries(Object.entries(test.targets).map(([k, t]) => [k, t.describe()])),
      startedAt: this.#startAt,
      durationMs: runMs,
      nodes: [...this.#nodes.values()].map((n) => ({
        id: n.id,
        slots: n.slots,
        initialSlots: n.initialSlots,
        lost: n.lost,
        cpuMicros: n.last?.cpuMicros ?? 0,
        requests: n.last?.counters.requests ?? 0,
      })),
      merged,
      thresholds: evaluateThresholds(test.thresholds ?? [], merged, runMs),
      interrupted,
      timeline: this.#timeline.points,
    });
  }

  /** Sends every node its plan with one common t = 0; a node that refuses fails the run. */
  async #start(data: unknown): Promise<void> {
    const { nodes, executor } = this.#o;
    const slotCount = slotCountOf(executor, nodes.length);
    const dealt = dealSlots(slotCount, nodes);
    this.#startAt = this.#clock.now() + (this.#o.leadMs ?? 300);
    for (const id of nodes) {
      const slots = dealt.get(id) ?? [];
      this.#nodes.set(id, {
        id,
        slots,
        initialSlots: [...slots],
        last: undefined,
        failures: 0,
        lost: false,
        started: false,
      });
    }
    const base: Omit<RunPlan, 'slots'> = {
      runId: this.#runId,
      module: this.#o.module,
      executor,
      slotCount,
      startAt: this.#startAt,
      data,
      coordinator: this.#o.system.nodeId,
      deadManMs: this.#o.deadManMs ?? 5000,
    };
    const results = await Promise.allSettled(
      nodes.map(async (id) => {
        const node = this.#nodes.get(id)!;
        await this.#ask(
          id,
          { type: 'start', plan: { ...base, slots: node.slots } },
          this.#o.startTimeoutMs ?? 15_000,
        );
        node.started = true;
      }),
    );
    const failed = results.findIndex((r) => r.status === 'rejected');
    if (failed >= 0) {
      const err = (results[failed] as PromiseRejectedResult).reason as Error & { code?: string };
      // The node's own refusal keeps its code; anything else (no answer) says the node was not reached.
      const own = (err.code as LoadErrorCode | undefined)?.startsWith('LOAD_');
      throw new LoadError(
        own ? (err.code as LoadErrorCode) : LoadErrorCode.NodeUnreachable,
        own
          ? `node ${nodes[failed]} refused the run: ${err.message}`
          : `node ${nodes[failed]} did not take the run (is it up, and does it accept this coordinator's credentials and signature?): ${err.message}`,
        { cause: err },
      );
    }
  }

  /** Polls the nodes until the run is over; resolves true when interrupted. */
  async #watch(durationMs: number): Promise<boolean> {
    const tick = this.#o.tickMs ?? 500;
    const gracefulMs = this.#o.test.gracefulStopMs ?? 1000;
    const endAt = this.#startAt + durationMs + gracefulMs + (this.#o.endSlackMs ?? 1500);
    for (;;) {
      if (await this.#sleep(tick)) return true;
      await this.#pollAll();
      const live = this.#live();
      const now = this.#clock.now();
      const merged = this.#merged();
      const point = this.#timeline.observe(now - this.#startAt, this.#sample(merged));
      if (point !== undefined)
        this.#o.onProgress?.({
          elapsedMs: now - this.#startAt,
          durationMs,
          vus: point.vus,
          requests: merged.counters.requests ?? 0,
          rps: point.rps,
          p99: point.p99,
          errors: merged.counters.errors ?? 0,
          dropped: merged.counters.dropped_iterations ?? 0,
          nodes: live.length,
          lostNodes: this.#nodes.size - live.length,
        });
      if (this.#o.signal?.aborted) return true;
      if (live.length === 0) {
        this.#o.onNote?.('every load node was lost: ending the run');
        return false;
      }
      const allDone = live.every((n) => n.last?.done === true);
      if (now >= endAt || (now >= this.#startAt + durationMs && allDone)) return false;
    }
  }

  /** Asks every live node for its snapshot; marks the silent or departed ones lost and moves their slots. */
  async #pollAll(): Promise<void> {
    const members = new Set(this.#o.fleet.nodes());
    const live = this.#live();
    await Promise.all(
      live.map(async (n) => {
        try {
          const snap = await this.#ask(
            n.id,
            { type: 'snapshot', runId: this.#runId },
            this.#o.snapshotTimeoutMs ?? 1000,
          );
          this.#keep(n, snap);
          n.failures = 0;
        } catch {
          n.failures++;
        }
      }),
    );
    const lost = live.filter((n) => n.failures >= (this.#o.lostAfter ?? 3) || !members.has(n.id));
    if (lost.length > 0) await this.#lose(lost);
  }

  async #lose(lost: NodeState[]): Promise<void> {
    for (const n of lost) n.lost = true;
    const survivors = new Map(this.#live().map((n) => [n.id, n.slots]));
    const moved = redealSlots(
      lost.flatMap((n) => n.slots),
      survivors,
    );
    this.#o.onNote?.(
      `lost node ${lost.map((n) => n.id).join(', ')}: ${lost.reduce((s, n) => s + n.slots.length, 0)} slot(s) move to ${[...moved.keys()].join(', ') || 'nobody'}`,
    );
    await Promise.all(
      [...moved].map(async ([id, slots]) => {
        this.#nodes.get(id)!.slots = slots;
        await this.#ask(
          id,
          { type: 'assign', runId: this.#runId, slots },
          this.#o.snapshotTimeoutMs ?? 1000,
        ).catch((err: unknown) =>
          this.#o.onNote?.(`could not move slots to ${id}: ${(err as Error).message}`),
        );
      }),
    );
  }

  /** Stops every started node that is not lost; each reply is its final snapshot. */
  async #stopAll(reason: 'done' | 'interrupt'): Promise<void> {
    const timeout = reason === 'interrupt' ? 1500 : 5000;
    await Promise.all(
      [...this.#nodes.values()]
        .filter((n) => !n.lost && (n.started || reason === 'interrupt'))
        .map(async (n) => {
          try {
            this.#keep(n, await this.#ask(n.id, { type: 'stop', runId: this.#runId, reason }, timeout));
          } catch (err) {
            if (n.started) this.#o.onNote?.(`node ${n.id} did not answer stop: ${(err as Error).message}`);
          }
        }),
    );
  }

  #keep(n: NodeState, snap: NodeSnapshot): void {
    if (n.last === undefined || snap.seq >= n.last.seq) n.last = snap;
  }

  #live(): NodeState[] {
    return [...this.#nodes.values()].filter((n) => !n.lost);
  }

  #merged(): MergedFigures {
    return mergeSnapshots([...this.#nodes.values()].flatMap((n) => (n.last === undefined ? [] : [n.last])));
  }

  #sample(merged: MergedFigures): TimelineSample {
    return {
      requests: merged.counters.requests ?? 0,
      errors: merged.counters.errors ?? 0,
      vus: this.#live().reduce((s, n) => s + (n.last?.vus ?? 0), 0),
      latency: merged.histograms.get('request')?.toJSON(),
    };
  }

  // biome-ignore lint/suspicious/noExplicitAny: one typed helper for the four asks of the protocol
  #ask(node: string, message: any, timeout: number): Promise<any> {
    return this.#o.fleet.agent(node).ask(message as never, { timeout }) as Promise<unknown>;
  }

  /** Sleeps `ms`; resolves true at once when the run is interrupted. */
  #sleep(ms: number): Promise<boolean> {
    const signal = this.#o.signal;
    if (signal?.aborted) return Promise.resolve(true);
    return new Promise((resolve) => {
      const onAbort = () => {
        this.#clock.clearTimeout(timer);
        resolve(true);
      };
      const timer = this.#clock.setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve(false);
      }, ms);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
