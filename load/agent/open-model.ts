// The open model on one node: iteration k of the fleet is due at scheduledAt(k) and runs here when k mod slotCount
// is one of the node's slots, on a free VU of the node's pool (grown up to its share of maxVus, else dropped).

import { iterationsBy, scheduledAt } from '../executors/arrival.js';
import { executorDurationMs } from '../executors/profile.js';
import type { ConstantArrivalRateSpec, RampingArrivalRateSpec } from '../executors/spec.js';
import { newVuSlot, type VuSlot } from '../vu/vu-actor.js';
import type { Scheduler, SchedulerHost } from './scheduler.js';

/** @internal Dispatches the node's iterations on schedule to a pool of VUs. */
export class OpenModel implements Scheduler {
  readonly #host: SchedulerHost;
  readonly #spec: ConstantArrivalRateSpec | RampingArrivalRateSpec;
  /** Iterations of the whole run across the fleet: those due at or before the end. */
  readonly #total: number;
  readonly #pool: VuSlot[] = [];
  readonly #free: VuSlot[] = [];
  readonly #ids = new Set<number>();
  /** The next iteration of the fleet not yet looked at. */
  #next = 0;
  #timer: unknown;

  constructor(host: SchedulerHost, spec: ConstantArrivalRateSpec | RampingArrivalRateSpec) {
    this.#host = host;
    this.#spec = spec;
    this.#total = iterationsBy(spec, executorDurationMs(spec));
  }

  /** The node's share of a fleet-wide VU count: proportional to its slots, rounded up. */
  #share(fleet: number): number {
    const host = this.#host;
    return Math.ceil((fleet * host.slots().length) / host.slotCount);
  }

  #maxVus(): number {
    return this.#share(this.#spec.maxVus ?? this.#spec.preAllocatedVus);
  }

  prepare(): void {
    const want = this.#share(this.#spec.preAllocatedVus);
    while (this.#pool.length < want) this.#free.push(this.#allocate());
  }

  start(): void {
    this.#pump();
  }

  end(): void {
    // Everything due by the end is dispatched, even if the timer fired a hair early: the count stays exact.
    this.#dispatchUntil(this.#total);
    this.#cancel();
  }

  reassigned(): void {
    if (this.#host.finished()) return;
    this.prepare();
    // A smaller share: idle VUs above it stop now, busy ones when they finish.
    let excess = this.#pool.length - this.#maxVus();
    while (excess > 0 && this.#free.length > 0) {
      this.#retire(this.#free.pop() as VuSlot);
      excess--;
    }
    if (this.#host.accepting()) {
      this.#cancel();
      this.#pump();
    }
  }

  finish(): void {
    this.#cancel();
    for (const slot of [...this.#pool]) {
      slot.retired = true;
      if (!slot.busy) this.#remove(slot);
    }
    this.#free.length = 0;
  }

  vus(): number {
    return this.#pool.length;
  }

  keepLooping(): boolean {
    return false;
  }

  loopEnded(): void {}

  release(slot: VuSlot): void {
    slot.busy = false;
    if (slot.retired || this.#host.finished()) this.#remove(slot);
    else this.#free.push(slot);
  }

  /** Dispatches what is due and sleeps until the node's next iteration. */
  #pump(): void {
    this.#timer = undefined;
    const host = this.#host;
    if (!host.accepting()) return;
    const now = host.now();
    // Due at or before now: those strictly before now plus, at an exact hit, the one due now.
    const t = now - host.startAt;
    const due = iterationsBy(this.#spec, t);
    this.#dispatchUntil(Math.min(scheduledAt(this.#spec, due) <= t ? due + 1 : due, this.#total));
    let k = this.#next;
    while (k < this.#total && !host.owns(k % host.slotCount)) k++;
    if (k >= this.#total) return;
    const delay = host.startAt + scheduledAt(this.#spec, k) - now;
    this.#timer = host.clock.setTimeout(() => this.#pump(), Math.max(0, delay));
  }

  #dispatchUntil(limit: number): void {
    const host = this.#host;
    const slotCount = host.slotCount;
    for (let k = this.#next; k < limit; k++) {
      if (host.owns(k % slotCount)) this.#dispatch(k);
    }
    if (limit > this.#next) this.#next = limit;
  }

  #dispatch(k: number): void {
    let slot = this.#free.pop();
    if (slot === undefined) {
      if (this.#pool.length >= this.#maxVus()) {
        this.#host.recorder.count('dropped_iterations');
        return;
      }
      slot = this.#allocate();
    }
    slot.busy = true;
    // In flight from now, not from when the VU reads it: the graceful stop waits for an iteration dispatched at
    // the very end instead of aborting it before it starts.
    this.#host.iterationBegan();
    slot.ref?.tell({ type: 'run', k, due: this.#host.startAt + scheduledAt(this.#spec, k) });
  }

  /** A new VU of the pool, numbered so that ids stay apart across nodes (slot + slotCount × m). */
  #allocate(): VuSlot {
    const host = this.#host;
    let id = -1;
    for (let m = 0; id < 0; m++) {
      for (const s of host.slots()) {
        const candidate = s + host.slotCount * m;
        if (!this.#ids.has(candidate)) {
          id = candidate;
          break;
        }
      }
      if (host.slots().length === 0) id = this.#pool.length;
    }
    const slot = newVuSlot(id);
    this.#ids.add(id);
    this.#pool.push(slot);
    host.spawn(slot);
    return slot;
  }

  #retire(slot: VuSlot): void {
    slot.retired = true;
    if (!slot.busy) this.#remove(slot);
  }

  #remove(slot: VuSlot): void {
    const i = this.#pool.indexOf(slot);
    if (i >= 0) this.#pool.splice(i, 1);
    this.#ids.delete(slot.id);
    this.#host.dispose(slot);
  }

  #cancel(): void {
    if (this.#timer !== undefined) this.#host.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
