// What the closed and open models share: the run parts a scheduler drives its VUs with.

import type { Clock } from '../../runtime/index.js';
import type { ExecutorSpec } from '../executors/spec.js';
import type { Recorder } from '../metrics/recorder.js';
import type { VuSlot } from '../vu/vu-actor.js';

/** The parts of a node's run a scheduler uses. */
export interface SchedulerHost {
  readonly spec: ExecutorSpec;
  /** Epoch ms of t = 0. */
  readonly startAt: number;
  readonly slotCount: number;
  readonly clock: Clock;
  readonly recorder: Recorder;
  /** High-resolution epoch ms. */
  now(): number;
  /** The node's slots now, ascending. */
  slots(): readonly number[];
  owns(slot: number): boolean;
  /** True between t = 0 and the end of the duration (and before a stop). */
  accepting(): boolean;
  /** True once the run is over (ended, stopped or abandoned). */
  finished(): boolean;
  /** Spawns `slot`'s VU actor (sets `slot.ref`). */
  spawn(slot: VuSlot): void;
  /** Stops `slot`'s VU actor (it is idle). */
  dispose(slot: VuSlot): void;
  /** An iteration is in flight (the open model counts it at dispatch; the VU ends it). */
  iterationBegan(): void;
}

/** Drives one run's VUs on a node: the closed model (VU loops) or the open one (a schedule of iterations). */
export interface Scheduler {
  /** Before t = 0: spawns the VUs that will be needed first. */
  prepare(): void;
  /** At t = 0. */
  start(): void;
  /** At the end of the duration: no iteration starts from now on. */
  end(): void;
  /** The node's slots changed. */
  reassigned(): void;
  /** The run is over: idle VUs stop now, busy ones once their iteration ends. */
  finish(): void;
  /** VUs running now (closed: looping; open: allocated). */
  vus(): number;
  keepLooping(slot: VuSlot): boolean;
  loopEnded(slot: VuSlot): void;
  release(slot: VuSlot): void;
}
