// The closed model on one node: VU j runs while j is one of the node's slots and j < the target VUs at t.

import { targetVusAt } from '../executors/profile.js';
import { newVuSlot, type VuSlot } from '../vu/vu-actor.js';
import type { Scheduler, SchedulerHost } from './scheduler.js';

/** How often the VU target is re-evaluated (ramps move in steps this long). */
export const CLOSED_TICK_MS = 100;

/** @internal Starts and stops VU loops as the target and the node's slots change. */
export class ClosedModel implements Scheduler {
  readonly #host: SchedulerHost;
  readonly #vus = new Map<number, VuSlot>();
  #target = 0;
  #timer: unknown;

  constructor(host: SchedulerHost) {
    this.#host = host;
  }

  prepare(): void {
    for (const j of this.#host.slots()) this.#slot(j);
  }

  start(): void {
    this.#tick();
  }

  end(): void {
    this.#target = 0;
    this.#cancel();
  }

  reassigned(): void {
    const host = this.#host;
    for (const slot of this.#vus.values()) {
      if (!host.owns(slot.id)) this.#retire(slot);
    }
    if (host.accepting()) this.#evaluate();
    else if (!host.finished()) this.prepare();
  }

  finish(): void {
    this.#target = 0;
    this.#cancel();
    for (const slot of [...this.#vus.values()]) this.#retire(slot);
  }

  vus(): number {
    let n = 0;
    for (const slot of this.#vus.values()) if (slot.looping) n++;
    return n;
  }

  keepLooping(slot: VuSlot): boolean {
    return !slot.retired && slot.id < this.#target && this.#host.accepting();
  }

  loopEnded(slot: VuSlot): void {
    if (slot.retired) this.#dispose(slot);
  }

  release(_slot: VuSlot): void {}

  #tick(): void {
    this.#timer = undefined;
    const host = this.#host;
    if (!host.accepting()) return;
    this.#evaluate();
    this.#timer = host.clock.setTimeout(() => this.#tick(), CLOSED_TICK_MS);
  }

  /** Sets the target for now and starts the loops of the VUs below it that are not looping. */
  #evaluate(): void {
    const host = this.#host;
    this.#target = targetVusAt(host.spec, host.now() - host.startAt);
    for (const j of host.slots()) {
      if (j >= this.#target) continue;
      const slot = this.#slot(j);
      if (slot.looping) continue;
      slot.looping = true;
      slot.ref?.tell({ type: 'iterate' });
    }
  }

  #slot(j: number): VuSlot {
    let slot = this.#vus.get(j);
    if (slot === undefined || slot.retired) {
      slot = newVuSlot(j);
      this.#vus.set(j, slot);
      this.#host.spawn(slot);
    }
    return slot;
  }

  #retire(slot: VuSlot): void {
    slot.retired = true;
    if (!slot.looping) this.#dispose(slot);
  }

  #dispose(slot: VuSlot): void {
    if (this.#vus.get(slot.id) === slot) this.#vus.delete(slot.id);
    this.#host.dispose(slot);
  }

  #cancel(): void {
    if (this.#timer !== undefined) this.#host.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
