// A virtual user as an actor: one iteration per message, supervised (a scenario that throws restarts the VU with
// fresh state, its loop going on), so placement, supervision and inspection are troupe's own.

import { type ActorDefinition, type ActorRef, defineActor } from '../../runtime/index.js';
import { LoadError, LoadErrorCode } from '../errors.js';
import type { Recorder } from '../metrics/recorder.js';
import type { VuContext } from './context.js';
import { VuContextImpl, type VuShared } from './vu-context.js';

/** The messages of a VU: `iterate` (closed model, the VU's own loop) and `run` (open model, one scheduled iteration). */
export type VuProtocol = {
  iterate: Record<never, never>;
  /** Iteration `k` of the fleet, due at epoch ms `due` (its latency counts from then). */
  run: { k: number; due: number };
};

/** A VU as its node tracks it; lives across the VU actor's restarts. */
export interface VuSlot {
  /** The VU's number across the fleet. */
  readonly id: number;
  ref: ActorRef<VuProtocol> | undefined;
  /** The context of the live instance (a restart makes a new one). */
  context: VuContextImpl | undefined;
  /** Times `init` ran: more than once means restarts. */
  inits: number;
  /** Iterations started by this VU (the closed model numbers them per VU). */
  iterations: number;
  /** Closed model: an `iterate` message is on its way or running. */
  looping: boolean;
  /** Open model: running an iteration. */
  busy: boolean;
  /** No longer wanted (its slot moved, the pool shrank, or the run ended): stop it once idle. */
  retired: boolean;
}

/** What a VU needs from its node's run. */
export interface VuHost {
  readonly shared: VuShared;
  readonly recorder: Recorder;
  readonly scenario: (vu: VuContext) => Promise<void>;
  /** Closed model: whether `slot` should start another iteration now. */
  keepLooping(slot: VuSlot): boolean;
  /** Closed model: `slot`'s loop ended (it decided not to go on). */
  loopEnded(slot: VuSlot): void;
  /** Open model: `slot` finished its iteration and is free. */
  release(slot: VuSlot): void;
  /** An iteration began / ended (for the graceful stop). */
  iterationBegan(): void;
  iterationEnded(): void;
}

/** @internal A fresh slot record. */
export function newVuSlot(id: number): VuSlot {
  return {
    id,
    ref: undefined,
    context: undefined,
    inits: 0,
    iterations: 0,
    looping: false,
    busy: false,
    retired: false,
  };
}

/** The closed model's one message, shared by every VU's every iteration (a message is never mutated). */
const ITERATE: VuProtocol['iterate'] & { type: 'iterate' } = Object.freeze({ type: 'iterate' });

/** The definition of VU `slot`'s actor (one per VU: it closes over its slot and host). */
export function vuActor(host: VuHost, slot: VuSlot): ActorDefinition<VuProtocol, undefined> {
  return defineActor<VuProtocol, undefined>({
    type: 'load-vu',
    init: () => {
      if (slot.inits++ > 0) host.recorder.count('vu_restarts');
      slot.context = new VuContextImpl(slot.id, host.shared);
      return undefined;
    },
    handlers: {
      iterate: async (_message, ctx) => {
        if (!host.keepLooping(slot)) {
          slot.looping = false;
          host.loopEnded(slot);
          return;
        }
        // The next iteration is queued before this one runs, so a crash (a restart) does not end the loop. VUs whose
        // iterations never wait on I/O still let timers run: the runtime hands the event loop a turn between bursts.
        ctx.self.tell(ITERATE);
        await runIteration(host, slot, slot.iterations++, undefined);
      },
      run: async (message) => {
        try {
          await runIteration(host, slot, message.k, message.due);
        } finally {
          host.release(slot);
        }
      },
    },
    // One attempt per iteration (a failed iteration is counted, never retried); restart at once, without limit.
    supervision: { maxAttempts: 1 },
  });
}

/** A target's request failure, already recorded under `errors` and `errors.<kind>` (see targets/failure.ts). */
function isRecordedFailure(error: unknown): boolean {
  return (
    error instanceof LoadError &&
    (error.code === LoadErrorCode.TargetFailed || error.code === LoadErrorCode.Timeout) &&
    typeof (error.data as { kind?: unknown } | undefined)?.kind === 'string'
  );
}

/**
 * Runs one iteration and records it: `iterations`, `iteration` latency (from `due` when scheduled, so queueing
 * counts), and for a throw `errors.iteration` (and `errors` unless a target recorded it already), rethrown so the VU restarts. An iteration cut short by
 * the run's stop counts as `interrupted_iterations` only.
 */
async function runIteration(host: VuHost, slot: VuSlot, n: number, due: number | undefined): Promise<void> {
  const context = slot.context as VuContextImpl;
  const { recorder, shared } = host;
  context.iteration = n;
  const start = due ?? shared.now();
  // A scheduled (open model) iteration was counted in flight when it was dispatched.
  if (due === undefined) host.iterationBegan();
  try {
    await host.scenario(context as unknown as VuContext);
  } catch (error) {
    if (shared.signal.aborted) {
      recorder.count('interrupted_iterations');
      return;
    }
    recorder.count('iterations');
    recorder.latency('iteration', shared.now() - start);
    // A failed request the scenario let through was counted under `errors` when it failed: once is enough, or
    // the error rate (errors per request) could pass 100 %.
    if (!isRecordedFailure(error)) recorder.count('errors');
    recorder.count('errors.iteration');
    throw error;
  } finally {
    host.iterationEnded();
  }
  recorder.count('iterations');
  recorder.latency('iteration', shared.now() - start);
}
