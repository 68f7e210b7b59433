// How a team supervises the members it spawned: one-for-one (a failed member restarts alone, its mailbox kept,
// so the team's next ask with the same runId waits for the new instance), within a restart intensity, with an
// optional backoff; past the intensity the team fails in turn, for its own supervisor to handle.

import type { ActorContext, ChildHandle, Children, SupervisorHooks } from '../../runtime/index.js';
import { SupervisorError, SupervisorErrorCode } from '../../supervisor/index.js';
import type { TeamProtocol } from './protocol.js';
import { stopRuns } from './run.js';
import type { TeamState } from './state.js';

type Ctx = ActorContext<TeamProtocol, TeamState>;

/** How long a stopping member may take before it is terminated. */
const SHUTDOWN_TIMEOUT_MS = 5000;

export function memberHooks(): SupervisorHooks<Ctx> {
  return {
    childFailed(failure, ctx): void {
      // The member's own decider asked for escalation: the team fails with its error.
      if (failure.directive === 'escalate') fail(ctx, failure.error);
      const sup = ctx.state.restarts;
      const now = ctx.clock.now();
      if (!sup.intensity.record(now)) {
        const { maxRestarts, withinMs } = sup.intensity.options;
        fail(
          ctx,
          new SupervisorError(
            SupervisorErrorCode.IntensityExceeded,
            `${ctx.self.address}: more than ${maxRestarts} member restarts within ${withinMs} ms (last: ${failure.child.name})`,
            { cause: failure.error },
          ),
        );
      }
      failure.child.restart(sup.delay(failure.child.name, now), failure.error);
    },
    // A member stopped by its own decider stays stopped until the team's next run spawns it again.
    childExited(): void {},
    async stopChildren(ctx, children: Children): Promise<void> {
      for (const child of children.list().reverse()) await shutDown(child, ctx);
    },
  };
}

/** The team fails: its runs stop now (before its members do, so none retries a stopping member), then it throws. */
function fail(ctx: Ctx, error: unknown): never {
  stopRuns(ctx.state.runs.values(), error);
  throw error;
}

function shutDown(child: ChildHandle, ctx: Ctx): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = ctx.clock.setTimeout(
      () => void child.terminate().then(resolve, resolve),
      SHUTDOWN_TIMEOUT_MS,
    );
    void child.stop().then(
      () => {
        ctx.clock.clearTimeout(timer);
        resolve();
      },
      () => {
        ctx.clock.clearTimeout(timer);
        resolve();
      },
    );
  });
}
