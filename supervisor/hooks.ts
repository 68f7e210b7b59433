// What a supervisor does with its children once they run: the runtime reports failures and exits through these
// hooks, and the supervisor applies its strategy (which children restart), counts each restart against its
// intensity, delays it by the child's backoff, and stops children in reverse start order. Kept apart from
// `supervisor.ts`, which defines the two kinds of supervisor and answers their messages.

import type {
  ActorContext,
  ChildExit,
  ChildFailure,
  ChildHandle,
  Children,
  Clock,
  Protocol,
  SupervisorHooks,
} from '../runtime/index.js';
import { Backoff, type BackoffOptions } from './backoff.js';
import type { ResolvedChildSpec } from './child-spec.js';
import { SupervisorError, SupervisorErrorCode } from './errors.js';
import { type IntensityOptions, RestartIntensity } from './intensity.js';
import { oneForOne, type SupervisorStrategy } from './strategy.js';

/** @internal A supervisor's state: its specs in start order and its restart bookkeeping. */
export interface SupervisorState {
  specs: Map<string, ResolvedChildSpec>;
  intensity: RestartIntensity;
  backoffs: Map<string, Backoff>;
  seq: number;
}

/** @internal A supervisor's options, resolved once when it is defined. */
export interface SupervisorConfig {
  type: string;
  strategy: SupervisorStrategy;
  children: ResolvedChildSpec[];
  intensity: IntensityOptions;
  backoff: BackoffOptions | undefined;
}

/** @internal The context a supervisor's handlers and hooks run with. */
export type SupervisorContext = ActorContext<Protocol, SupervisorState>;

type Ctx = SupervisorContext;
type Config = SupervisorConfig;

function delayFor(state: SupervisorState, config: Config, name: string, now: number): number {
  if (config.backoff === undefined) return 0;
  let backoff = state.backoffs.get(name);
  if (backoff === undefined) {
    backoff = new Backoff(config.backoff);
    state.backoffs.set(name, backoff);
  }
  return backoff.next(now);
}

function countRestart(state: SupervisorState, ctx: Ctx, cause: unknown, name: string, now: number): void {
  if (state.intensity.record(now)) return;
  const { maxRestarts, withinMs } = state.intensity.options;
  throw new SupervisorError(
    SupervisorErrorCode.IntensityExceeded,
    `${ctx.self.address}: more than ${maxRestarts} restarts within ${withinMs} ms (last: ${name}: ${
      cause instanceof Error ? cause.message : String(cause)
    })`,
    { cause },
  );
}

/** Stops one child gracefully, terminating it if it takes longer than its shutdown timeout. */
export function shutDown(child: ChildHandle, timeoutMs: number, clock: Clock): Promise<void> {
  return new Promise<void>((resolve) => {
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clock.clearTimeout(timer);
      resolve();
    };
    const timer = clock.setTimeout(() => {
      void child.terminate().then(finish, finish);
    }, timeoutMs);
    void child.stop().then(finish, finish);
  });
}

export function hooks(config: Config): SupervisorHooks<Ctx> {
  return {
    childFailed(failure: ChildFailure, ctx: Ctx, children: Children): void {
      const state = ctx.state;
      const name = failure.child.name;
      // Escalation: this supervisor fails with the child's error, for its own supervisor to handle.
      if (failure.directive === 'escalate') throw failure.error;
      const spec = state.specs.get(name);
      if (spec === undefined || spec.restart === 'temporary') {
        if (spec !== undefined) state.specs.delete(name);
        void failure.child.stop();
        return;
      }
      const now = ctx.clock.now();
      countRestart(state, ctx, failure.error, name, now);
      const delay = delayFor(state, config, name, now);
      // One-for-one restarts the failed child alone: no list of names to make and go through.
      if (config.strategy === oneForOne) {
        children.get(name)?.restart(delay, failure.error);
        return;
      }
      for (const target of config.strategy.select(name, [...state.specs.keys()])) {
        const child = children.get(target);
        const targetSpec = state.specs.get(target);
        if (child === undefined || targetSpec === undefined) continue;
        if (target !== name && targetSpec.restart === 'temporary') {
          state.specs.delete(target);
          void child.stop();
          continue;
        }
        child.restart(delay, failure.error);
      }
    },

    childExited(exit: ChildExit, ctx: Ctx): void {
      const state = ctx.state;
      const spec = state.specs.get(exit.name);
      if (spec === undefined) return;
      if (spec.restart === 'temporary') {
        state.specs.delete(exit.name);
        return;
      }
      // A permanent child that stopped itself comes back; stops from outside and decided stops are final.
      if (exit.reason !== 'normal' || spec.restart !== 'permanent') return;
      countRestart(state, ctx, new Error(`${exit.address} stopped`), exit.name, ctx.clock.now());
      ctx.spawn(spec.actor, spec.spawnOptions);
    },

    restartChild(name: string, ctx: Ctx, children: Children): boolean {
      const spec = ctx.state.specs.get(name);
      if (spec === undefined) return false;
      const child = children.get(name);
      if (child !== undefined) child.restart(0, new Error(`${name} restarted on request`));
      else ctx.spawn(spec.actor, spec.spawnOptions);
      return true;
    },

    async stopChildren(ctx: Ctx, children: Children): Promise<void> {
      const state = ctx.state;
      const known = [...state.specs.keys()].reverse();
      for (const name of known) {
        const child = children.get(name);
        if (child !== undefined) await shutDown(child, state.specs.get(name)!.shutdownTimeoutMs, ctx.clock);
      }
    },
  };
}

export function newState(config: Config): SupervisorState {
  return {
    specs: new Map(config.children.map((spec) => [spec.name, spec])),
    intensity: new RestartIntensity(config.intensity),
    backoffs: new Map(),
    seq: 0,
  };
}
