// A team as an actor definition: it spawns its members as supervised children, runs its pattern for each `run`
// (off the mailbox, so member failures reach it while a run is under way), and answers with the result and the
// transcript. The team keeps no journal of its own: its member runs have runIds derived from the team run's,
// so a run asked again after a crash re-asks the same member runs, which journaled agents answer from their
// journals, and the pattern takes the same decisions again without paying for a model call twice.

import { randomUUID } from 'node:crypto';
import {
  type ActorContext,
  type ActorDefinition,
  type AnyActorRef,
  defineActor,
  InvalidOptionsError,
} from '../../runtime/index.js';
import { type ResolvedTeamOptions, resolveTeamOptions, type TeamOptions } from './options.js';
import type { TeamProtocol, TeamStatus } from './protocol.js';
import { MemberRestarts } from './restarts.js';
import { stopRuns, type TeamPattern, TeamRun } from './run.js';
import type { TeamState } from './state.js';
import { memberHooks } from './supervision.js';

/** A team's actor definition: spawn it (`system.spawn(team, { name })`), or make it a member of another team. */
export type TeamDefinition = ActorDefinition<TeamProtocol, TeamState> & {
  readonly team: { readonly name: string; readonly members: readonly string[] };
};

export interface DefineTeamOptions extends TeamOptions {
  /** What a run does with the members (see the patterns: `sequentialTeam`, `debateTeam`, ...). */
  pattern: TeamPattern;
}

type Ctx = ActorContext<TeamProtocol, TeamState>;

const RUN_ID = /^[-_.:=a-zA-Z0-9]{1,200}$/;
const ENDED_KEPT = 1000;

/**
 * Defines a team with a pattern of your own (the ready-made ones call this).
 *
 * @example
 * const pair = defineTeam({
 *   name: 'pair',
 *   members: { writer, editor },
 *   pattern: async (run) => {
 *     run.rounds = 1;
 *     const draft = await run.ask('writer', run.input, { round: 1 });
 *     return { output: await run.ask('editor', String(draft), { round: 1 }), reason: 'done' };
 *   },
 * });
 * const result = await system.spawn(pair).ask({ type: 'run', input: 'a haiku', runId: 'h1' });
 */
export function defineTeam(options: DefineTeamOptions): TeamDefinition {
  if (typeof options?.pattern !== 'function') throw new InvalidOptionsError('pattern', 'expected a function');
  return defineTeamWith(resolveTeamOptions(options), options.pattern);
}

/** @internal Used by the patterns, which resolve the options first. */
export function defineTeamWith(team: ResolvedTeamOptions, pattern: TeamPattern): TeamDefinition {
  const spawnMissing = (ctx: Ctx): void => {
    for (const [name, member] of team.members) {
      if (typeof member === 'string') {
        if (!ctx.state.refs.has(name)) ctx.state.refs.set(name, ctx.refFor(member));
      } else if (ctx.children.get(name) === undefined) {
        ctx.state.refs.set(
          name,
          ctx.spawn(member as ActorDefinition<never, unknown>, { name }) as AnyActorRef,
        );
      }
    }
  };

  const definition = defineActor<TeamProtocol, TeamState>({
    type: team.name,
    ...(team.supervision === undefined ? {} : { supervision: team.supervision }),
    init: (ctx) => {
      ctx.state = {
        refs: new Map(),
        runs: new Map(),
        ended: new Map(),
        restarts: new MemberRestarts(team.intensity, team.backoff),
      };
      spawnMissing(ctx);
      return ctx.state;
    },
    onStop: (ctx) => stopRuns(ctx.state?.runs.values() ?? []),
    supervises: memberHooks(),
    handlers: {
      run: (msg, ctx) => {
        const replier = ctx.deferReply();
        if (typeof msg.input !== 'string')
          return replier?.fail(new InvalidOptionsError('input', 'expected a string'));
        if (msg.tenant !== undefined && (typeof msg.tenant !== 'string' || msg.tenant === ''))
          return replier?.fail(new InvalidOptionsError('tenant', 'expected a non-empty string'));
        const runId = msg.runId ?? randomUUID();
        if (typeof runId !== 'string' || !RUN_ID.test(runId))
          return replier?.fail(
            new InvalidOptionsError('runId', 'expected 1-200 characters of [-_.:=a-zA-Z0-9]'),
          );
        const state = ctx.state;
        const ended = state.ended.get(runId);
        if (ended !== undefined) return replier?.reply(ended);
        const live = state.runs.get(runId);
        if (live !== undefined) return live.join(replier);
        spawnMissing(ctx); // a member a decider stopped comes back for the next run
        const run = new TeamRun(team, (member) => state.refs.get(member), {
          runId,
          input: msg.input,
          tenant: msg.tenant,
        });
        run.join(replier);
        state.runs.set(runId, run);
        // The pattern runs off the mailbox: member failures (the supervision hooks) and status are served
        // meanwhile. Only this run's own object and the maps below are touched when it ends.
        void run.execute(pattern).then((end) => {
          if (state.runs.get(runId) === run) state.runs.delete(runId);
          // Only answers are kept: a failed run asked again runs anew, its members' finished runs answering
          // from their journals (or their memory of recent runs), so only what failed is paid for again.
          if (!end.ok) return;
          state.ended.set(runId, end.result);
          if (state.ended.size > ENDED_KEPT) state.ended.delete(state.ended.keys().next().value as string);
        });
      },
      status: (_msg, ctx): TeamStatus => ({
        team: team.name,
        members: [...team.members.keys()].map((name) => {
          const child = ctx.children.get(name);
          const ref = ctx.state.refs.get(name);
          return {
            name,
            address: child?.ref.address ?? ref?.address ?? '',
            status: typeof team.members.get(name) === 'string' ? 'remote' : (child?.status ?? 'stopped'),
            restarts: child?.restarts ?? 0,
          };
        }),
        runs: [...ctx.state.runs.values()].map((r) => ({ runId: r.runId, turns: r.turns })),
      }),
    },
  });
  return Object.freeze({
    ...definition,
    team: Object.freeze({ name: team.name, members: Object.freeze([...team.members.keys()]) }),
  }) as TeamDefinition;
}
