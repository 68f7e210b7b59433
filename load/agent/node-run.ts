// One run on one node: its module, targets, recorder and VUs, from start through the end (by itself, by a stop,
// or by the dead-man switch when the coordinator goes silent) to the final snapshot.

import { setMaxListeners } from 'node:events';
import type { ActorRef, ActorSystem, Clock } from '../../runtime/index.js';
import { LoadError, LoadErrorCode } from '../errors.js';
import { executorDurationMs, isOpenModel } from '../executors/profile.js';
import type { LoadMetricsHook } from '../metrics/hook.js';
import { createRecorder, type NodeRecorder } from '../metrics/node-recorder.js';
import { importLoadTest } from '../module.js';
import type { OpenedTarget } from '../targets/target.js';
import type { LoadTest } from '../test.js';
import type { VuContext } from '../vu/context.js';
import { type VuHost, type VuProtocol, type VuSlot, vuActor } from '../vu/vu-actor.js';
import type { VuShared } from '../vu/vu-context.js';
import { ClosedModel } from './closed-model.js';
import { OpenModel } from './open-model.js';
import type { NodeSnapshot, RunPlan } from './protocol.js';
import { SampleFile } from './samples.js';
import type { Scheduler, SchedulerHost } from './scheduler.js';

/** How the run reaches its node: spawning and stopping VU actors as children of the agent. */
export interface VuSpawner {
  spawn(slot: VuSlot, definition: ReturnType<typeof vuActor>, name: string): ActorRef<VuProtocol>;
  stop(ref: ActorRef<VuProtocol>): void;
}

/** What {@link NodeRun.open} needs. */
export interface NodeRunOptions {
  plan: RunPlan;
  node: string;
  system: ActorSystem;
  spawner: VuSpawner;
  /** High-resolution epoch ms. */
  now: () => number;
  cacheDir?: string;
  metricsHook?: LoadMetricsHook;
  samplesDir?: string;
  /** Tells the agent the run is over (for cleanup). */
  onDone?: () => void;
}

/** Most time a stop waits for aborted iterations to settle before it answers. */
const STOP_SETTLE_MS = 700;
/** Slack after the end (and the graceful stop) before the run gives up on VUs that ignore their signal. */
const ABORT_SETTLE_MS = 1000;

let runSeq = 0;

/** @internal One run on this node. */
export class NodeRun implements VuHost, SchedulerHost {
  readonly plan: RunPlan;
  readonly node: string;
  readonly recorder: NodeRecorder;
  readonly shared: VuShared;
  readonly scenario: (vu: VuContext) => Promise<void>;
  readonly clock: Clock;
  readonly now: () => number;
  readonly #test: LoadTest;
  readonly #targets: Array<OpenedTarget<unknown>>;
  readonly #controller: AbortController;
  readonly #scheduler: Scheduler;
  readonly #spawner: VuSpawner;
  readonly #samples: SampleFile | undefined;
  readonly #onDone: (() => void) | undefined;
  readonly #seq = ++runSeq;
  readonly #cpuStart = process.cpuUsage();
  #spawned = 0;
  #slots: number[] = [];
  #owned: boolean[] = [];
  #phase: 'waiting' | 'running' | 'ending' | 'done' = 'waiting';
  #inFlight = 0;
  #idle: (() => void) | undefined;
  #timers: unknown[] = [];
  #lastHeard: number;
  #cpuMicros = 0;
  #finishing: Promise<void> | undefined;
  #stopping = false;
  #deadManTimer: unknown;

  private constructor(
    options: NodeRunOptions,
    test: LoadTest,
    targets: Record<string, unknown>,
    opened: Array<OpenedTarget<unknown>>,
    controller: AbortController,
    recorder: NodeRecorder,
    samples: SampleFile | undefined,
  ) {
    this.plan = options.plan;
    this.node = options.node;
    this.clock = options.system.clock;
    this.now = options.now;
    this.recorder = recorder;
    this.scenario = test.scenario as (vu: VuContext) => Promise<void>;
    this.#test = test;
    this.#targets = opened;
    this.#controller = controller;
    this.#spawner = options.spawner;
    this.#samples = samples;
    this.#onDone = options.onDone;
    this.shared = {
      node: options.node,
      data: cloneData(options.plan.data),
      signal: controller.signal,
      targets: Object.freeze(targets),
      recorder,
      clock: this.clock,
      now: this.now,
    };
    this.#setSlots(options.plan.slots);
    const spec = options.plan.executor;
    this.#scheduler = isOpenModel(spec) ? new OpenModel(this, spec) : new ClosedModel(this);
    this.#lastHeard = this.clock.now();
  }

  /** Loads the module and opens the targets; the run then waits for {@link NodeRun.begin}. */
  static async open(options: NodeRunOptions): Promise<NodeRun> {
    const test = await importLoadTest(options.plan.module, options.cacheDir);
    const samples =
      options.samplesDir === undefined
        ? undefined
        : new SampleFile(options.samplesDir, options.plan.runId, options.node);
    const recorder = createRecorder({
      ...(options.metricsHook !== undefined && { hook: options.metricsHook }),
      ...(samples !== undefined && { samples: samples.add }),
      now: () => options.system.clock.now(),
    });
    const controller = new AbortController();
    // Every VU waiting in `vu.sleep` (or a scenario passing `vu.signal` on) listens to the run's signal: thousands
    // of listeners are expected, not a leak, so no MaxListenersExceededWarning past ten.
    setMaxListeners(0, controller.signal);
    const clients: Record<string, unknown> = {};
    const opened: Array<OpenedTarget<unknown>> = [];
    try {
      for (const [name, factory] of Object.entries(test.targets)) {
        const target = await factory.open({
          name,
          recorder,
          signal: controller.signal,
          system: options.system,
          allowHosts: test.allowHosts ?? [],
        });
        opened.push(target);
        clients[name] = target.client;
      }
    } catch (error) {
      controller.abort();
      await Promise.allSettled(opened.map((t) => t.close()));
      throw error;
    }
    return new NodeRun(options, test, clients, opened, controller, recorder, samples);
  }

  get done(): boolean {
    return this.#phase === 'done';
  }

  /** Spawns the first VUs now and schedules t = 0, the end, and the dead-man check. */
  begin(): void {
    this.#scheduler.prepare();
    const clock = this.clock;
    const wall = clock.now();
    const startIn = Math.max(0, this.plan.startAt - wall);
    const endIn = Math.max(0, this.plan.startAt + executorDurationMs(this.plan.executor) - wall);
    this.#timers.push(
      clock.setTimeout(() => {
        if (this.#phase !== 'waiting') return;
        this.#phase = 'running';
        this.#scheduler.start();
      }, startIn),
      clock.setTimeout(() => this.#end(), endIn),
    );
    this.#watchDeadMan();
  }

  /** The coordinator was heard from (a snapshot or assign ask). */
  heard(): void {
    this.#lastHeard = this.clock.now();
  }

  /** Replaces the node's slots; takes effect at once. */
  assign(slots: number[]): void {
    this.heard();
    this.#setSlots(slots);
    this.#scheduler.reassigned();
  }

  snapshot(): NodeSnapshot {
    return this.recorder.snapshot(this.plan.runId, this.node, {
      vus: this.#phase === 'done' ? 0 : this.#scheduler.vus(),
      slots: this.#slots,
      done: this.#phase === 'done',
      cpuMicros: this.#phase === 'done' ? this.#cpuMicros : cpuSince(this.#cpuStart),
    });
  }

  /** Stops now: in-flight iterations are aborted; resolves with the final snapshot within about a second. */
  async stop(): Promise<NodeSnapshot> {
    await this.#finish(true);
    return this.snapshot();
  }

  // VuHost and SchedulerHost

  get spec(): RunPlan['executor'] {
    return this.plan.executor;
  }
  get startAt(): number {
    return this.plan.startAt;
  }
  get slotCount(): number {
    return this.plan.slotCount;
  }
  slots(): readonly number[] {
    return this.#slots;
  }
  owns(slot: number): boolean {
    return this.#owned[slot] === true;
  }
  accepting(): boolean {
    return this.#phase === 'running';
  }
  finished(): boolean {
    return this.#phase === 'done';
  }
  spawn(slot: VuSlot): void {
    const n = ++this.#spawned;
    slot.ref = this.#spawner.spawn(slot, vuActor(this, slot), `r${this.#seq}-vu${slot.id}-${n}`);
  }
  dispose(slot: VuSlot): void {
    if (slot.ref !== undefined) this.#spawner.stop(slot.ref);
  }
  keepLooping(slot: VuSlot): boolean {
    return this.#scheduler.keepLooping(slot);
  }
  loopEnded(slot: VuSlot): void {
    this.#scheduler.loopEnded(slot);
  }
  release(slot: VuSlot): void {
    this.#scheduler.release(slot);
  }
  iterationBegan(): void {
    this.#inFlight++;
  }
  iterationEnded(): void {
    this.#inFlight--;
    if (this.#inFlight === 0) this.#idle?.();
  }

  /** The duration is over: no new iteration; in-flight ones get gracefulStopMs, then are aborted. */
  #end(): void {
    if (this.#phase === 'done' || this.#phase === 'ending') return;
    if (this.#phase === 'running') this.#scheduler.end();
    this.#phase = 'ending';
    void this.#finish(false);
  }

  #finish(abortNow: boolean): Promise<void> {
    if (abortNow) this.#stopping = true;
    if (this.#finishing !== undefined) {
      // A stop during the graceful wait aborts what still runs.
      if (abortNow) this.#controller.abort(new LoadError(LoadErrorCode.Stopped, 'the load run stopped'));
      return this.#finishing;
    }
    if (this.#phase === 'running') this.#phase = 'ending';
    if (this.#phase === 'waiting') this.#phase = 'ending';
    this.#finishing = this.#wind(abortNow);
    return this.#finishing;
  }

  async #wind(abortNow: boolean): Promise<void> {
    if (!abortNow) {
      await this.#settle(this.#test.gracefulStopMs ?? 1000);
    }
    this.#controller.abort(new LoadError(LoadErrorCode.Stopped, 'the load run stopped'));
    await this.#settle(this.#stopping ? STOP_SETTLE_MS : ABORT_SETTLE_MS);
    this.#phase = 'done';
    this.#cpuMicros = cpuSince(this.#cpuStart);
    for (const t of this.#timers) this.clock.clearTimeout(t);
    this.#timers = [];
    if (this.#deadManTimer !== undefined) this.clock.clearTimeout(this.#deadManTimer);
    this.#scheduler.finish();
    await Promise.allSettled([
      ...this.#targets.map((t) => t.close()),
      this.#samples?.flush() ?? Promise.resolve(),
    ]);
    this.#onDone?.();
  }

  /** Resolves when no iteration is in flight, or after `ms` (or as soon as a stop aborts, for a graceful wait). */
  #settle(ms: number): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const signal = this.#controller.signal;
      const done = (): void => {
        this.clock.clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.#idle = undefined;
        resolve();
      };
      const onAbort = (): void => done();
      const timer = this.clock.setTimeout(done, ms);
      this.#idle = done;
      if (!signal.aborted) signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  #watchDeadMan(): void {
    const deadMan = this.plan.deadManMs;
    const check = (): void => {
      if (this.#phase === 'done' || this.#finishing !== undefined) return;
      if (this.clock.now() - this.#lastHeard >= deadMan) {
        this.recorder.count('dead_man_stops');
        void this.#finish(true);
        return;
      }
      this.#deadManTimer = this.clock.setTimeout(check, Math.max(50, deadMan / 5));
    };
    // The coordinator's first snapshot ask comes after t = 0: the switch counts from then, not from the start ask.
    const first = Math.max(0, this.plan.startAt - this.clock.now());
    this.#deadManTimer = this.clock.setTimeout(() => {
      this.heard();
      check();
    }, first);
  }

  #setSlots(slots: number[]): void {
    this.#slots = [...new Set(slots)].sort((a, b) => a - b);
    this.#owned = [];
    for (const s of this.#slots) this.#owned[s] = true;
  }
}

function cpuSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return used.user + used.system;
}

function cloneData(data: unknown): unknown {
  try {
    return structuredClone(data);
  } catch {
    return data;
  }
}
