// The actor of one durable graph run: its handlers start (or fork) the run, resume it, answer its status, result
// and history, and cancel it; the steps themselves run under its `$step` messages (step-runner.ts).

import { type ActorDefinition, defineActor, type Replier, TroupeError } from '../../runtime/index.js';
import type { CompiledGraph } from '../graph/compiled.js';
import { WorkflowError, WorkflowErrorCode } from '../graph/errors.js';
import { type GraphRunOptions, resolveGraphRunOptions } from './options.js';
import { type GraphRunProtocol, type RunCell, type RunContext, runIdOf } from './protocol.js';
import type { RunRecord } from './records.js';
import { RunLog } from './run-log.js';
import { settle, statusOf } from './run-status.js';
import { StepRunner } from './step-runner.js';
import type { RunStatusName } from './view.js';

type Bag = Record<string, unknown>;

/** @internal The actor definition behind {@link defineGraphRun}. */
export function graphRunActor<S>(
  name: string,
  graph: CompiledGraph<S>,
  options: GraphRunOptions<S>,
): ActorDefinition<GraphRunProtocol<S>, RunCell> {
  const resolved = resolveGraphRunOptions(options);
  const { logger } = resolved;
  const compiled = graph as unknown as CompiledGraph<unknown>;
  const runs = new RunLog(name, compiled, resolved.log);
  const steps = new StepRunner<S>(runs, resolved);

  const guard = async <T>(ctx: RunContext<S>, work: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await work();
    } catch (err) {
      ctx.fail(TroupeError.is(err) ? err : new WorkflowError(WorkflowErrorCode.Invalid, String(err)));
      return undefined;
    }
  };

  const notFound = (runId: string) =>
    new WorkflowError(WorkflowErrorCode.RunNotFound, `no run ${runId} of graph ${name}`, { data: { runId } });

  /** The start record of a fork: the state and cursor at `fork.step` of run `fork.from`, plus `update`. */
  const forkStart = async (
    fork: NonNullable<GraphRunProtocol<S>['start']['fork']>,
    at: number,
  ): Promise<Extract<RunRecord, { k: 'start' }>> => {
    const { from, step, update } = fork;
    const source = await runs.read(from, true);
    const i = source?.checkpoints.findIndex((c) => c.step === step) ?? -1;
    if (source === undefined || i < 0 || source.states === undefined)
      throw new WorkflowError(
        WorkflowErrorCode.RunNotFound,
        `run ${from} has no checkpoint at step ${step}`,
        {
          data: { runId: from, step },
        },
      );
    const state = structuredClone(source.states[i]) as Bag;
    if (update !== undefined) compiled.apply(state, update, 'fork update');
    const cursor = source.cursors?.[i];
    return {
      k: 'start',
      graph: name,
      input: null,
      at,
      cursor: cursor ?? compiled.begin(state),
      state,
      from: { runId: from, step },
    };
  };

  return defineActor<GraphRunProtocol<S>, RunCell>({
    type: name,
    init: () => ({ view: undefined, waiters: [] }),
    onStop: (ctx) => {
      const err = new WorkflowError(
        WorkflowErrorCode.Aborted,
        `run ${runIdOf(ctx)} left this node; ask again for its result`,
      );
      for (const w of ctx.state?.waiters.splice(0) ?? []) w.fail(err);
    },
    handlers: {
      start: (msg, ctx) =>
        guard(ctx, async () => {
          const runId = runIdOf(ctx);
          const existing = await runs.load(ctx);
          if (existing !== undefined) return statusOf<S>(name, runId, existing);
          let start: Extract<RunRecord, { k: 'start' }>;
          if (msg.fork !== undefined) start = await forkStart(msg.fork, ctx.clock.now());
          else {
            const state = compiled.initial(msg.input as Bag | undefined);
            start = {
              k: 'start',
              graph: name,
              input: msg.input ?? {},
              at: ctx.clock.now(),
              cursor: compiled.begin(state),
            };
          }
          const view = await runs.start(runId, start);
          ctx.state.view = view;
          logger.info('graph run started', {
            graph: name,
            runId,
            ...(start.from ? { from: start.from.runId } : {}),
          });
          if (view.status === 'running') await steps.schedule(ctx, view.cursor.step + 1);
          else await runs.write(ctx, view, { k: 'end', step: 0, at: ctx.clock.now() });
          return statusOf<S>(name, runId, view);
        }),
      $step: (msg, ctx) => steps.onStep(ctx, msg.step),
      resume: (msg, ctx) =>
        guard(ctx, async () => {
          const runId = runIdOf(ctx);
          const view = await runs.load(ctx);
          if (view === undefined) throw notFound(runId);
          if (view.status !== 'interrupted')
            throw new WorkflowError(
              WorkflowErrorCode.RunState,
              `run ${runId} is ${view.status}, not interrupted`,
              {
                data: { runId, status: view.status },
              },
            );
          const node = msg.node ?? (view.interrupts.keys().next().value as string);
          if (!view.interrupts.has(node))
            throw new WorkflowError(
              WorkflowErrorCode.RunState,
              `node "${node}" of run ${runId} is not waiting`,
              {
                data: { runId, node },
              },
            );
          await runs.write(ctx, view, {
            k: 'resume',
            step: view.cursor.step + 1,
            node,
            value: msg.value ?? null,
          });
          // The fold may have set it running (no interrupt left); TypeScript keeps the narrowing from above.
          if ((view.status as RunStatusName) === 'running') await steps.schedule(ctx, view.cursor.step + 1);
          return statusOf<S>(name, runId, view);
        }),
      status: (_msg, ctx) =>
        guard(ctx, async () => {
          const view = await runs.load(ctx);
          if (view === undefined) throw notFound(runIdOf(ctx));
          return statusOf<S>(name, runIdOf(ctx), view);
        }),
      result: async (_msg, ctx) => {
        const replier = ctx.deferReply();
        try {
          const view = await runs.load(ctx);
          if (view === undefined) return replier?.fail(notFound(runIdOf(ctx)));
          if (replier !== undefined) ctx.state.waiters.push(replier as Replier<unknown>);
          settle(ctx, name, view);
        } catch (err) {
          replier?.fail(err);
        }
      },
      history: (msg, ctx) =>
        guard(ctx, async () => {
          const runId = runIdOf(ctx);
          const view = await runs.read(runId, msg.states === true);
          if (view === undefined) throw notFound(runId);
          return {
            checkpoints: view.checkpoints.map((c, i) =>
              msg.states === true ? { ...c, state: view.states?.[i] as S } : { ...c },
            ),
          };
        }),
      cancel: (_msg, ctx) =>
        guard(ctx, async () => {
          const runId = runIdOf(ctx);
          const view = await runs.load(ctx);
          if (view === undefined) throw notFound(runId);
          if (view.status === 'running' || view.status === 'interrupted') {
            await runs.write(ctx, view, { k: 'cancel', step: view.cursor.step, at: ctx.clock.now() });
            settle(ctx, name, view);
          }
          return statusOf<S>(name, runId, view);
        }),
    },
  });
}
