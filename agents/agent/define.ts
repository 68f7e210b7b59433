// defineAgent: an agent as an actor definition. Its handlers keep the runs in memory, load them from the
// journal when they are not (after a restart, a crash, a move to another node), and drive each run one
// `$step` message at a time.

import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import { type ActorDefinition, defineActor, InvalidOptionsError } from '../../runtime/index.js';
import { isDelegate } from './delegation.js';
import { AgentError, AgentErrorCode } from './errors.js';
import { record, scheduleStep, step } from './loop.js';
import { remember, textOfInput } from './memory.js';
import { outputSpec, parseOutput } from './output.js';
import type { AgentConfigChange, AgentProtocol } from './protocol.js';
import { Run } from './run.js';
import {
  type AgentCtx,
  type AgentState,
  type KitParts,
  type ResolvedAgent,
  streaming,
  tellStarted,
} from './runtime.js';
import { type AgentSpec, resolveAgent } from './spec.js';

export type AgentDefinition = ActorDefinition<AgentProtocol, AgentState> & { readonly agent: ResolvedAgent };

const RUN_ID = /^[-_.:=a-zA-Z0-9]{1,200}$/;
const DONE_KEPT = 1000;

/** @internal Used by the kit's `defineAgent`. */
export function defineAgentWith<O extends z.ZodType | undefined>(
  kit: KitParts,
  spec: AgentSpec<O>,
): AgentDefinition {
  const agent = resolveAgent(kit, spec, (name, schema) => outputSpec(name, schema), isDelegate);

  const retire = (ctx: AgentCtx, run: Run): void => {
    if (run.state !== 'finished' && run.state !== 'failed') return;
    ctx.state.runs.delete(run.runId);
    kit.cards?.ended(
      ctx.self.address,
      run.state === 'finished',
      ctx.clock.now() - run.startedAt,
      ctx.state.runs.size,
    );
    ctx.state.pendingConfig.delete(run.runId);
    if (run.journal !== undefined) return; // asked again, it is read back from the journal
    const done = ctx.state.done; // journal-less runs kept for idempotency, oldest dropped first
    done.set(run.runId, run);
    if (done.size > DONE_KEPT) done.delete(done.keys().next().value as string);
  };

  const load = async (ctx: AgentCtx, runId: string, starting = false): Promise<Run | undefined> => {
    const live = ctx.state.runs.get(runId) ?? ctx.state.done.get(runId);
    if (live !== undefined || kit.journal === undefined) return live;
    const journal = await kit.journal(runId, ctx.self.address);
    const entries = await journal.load();
    if (entries.length === 0) {
      if (starting) ctx.state.fresh.set(runId, journal); // a new run: its `run` handler goes on with this one
      return undefined;
    }
    const run = new Run(runId, agent.config, ctx.clock.now());
    for (const e of entries) run.apply(e);
    run.journal = journal;
    // Output repairs are not journaled: an invalid answer before the last step had one, derived again here.
    if (agent.output !== undefined)
      for (const s of run.steps) {
        if (s === run.last || (s.message.toolCalls?.length ?? 0) > 0) continue;
        const parsed = parseOutput(agent.output, s.message.content ?? '');
        if (!parsed.ok) s.repair = parsed.issues;
      }
    if (run.awaiting().length > 0) run.state = 'awaiting-approval';
    if (run.state === 'running' || run.state === 'awaiting-approval') ctx.state.runs.set(runId, run);
    kit.logger.info('agent run loaded from its journal', {
      'gen_ai.agent.name': agent.name,
      runId,
      steps: run.step,
      state: run.state,
    });
    return run;
  };

  const definition = defineActor<AgentProtocol, AgentState>({
    type: agent.name,
    ...(spec.supervision === undefined ? {} : { supervision: spec.supervision }),
    ...(spec.mailbox === undefined ? {} : { mailbox: spec.mailbox }),
    init: async (ctx) => {
      const state: AgentState = {
        fresh: new Map(),
        runs: new Map(),
        done: new Map(),
        subscribers: [],
        config: { ...agent.config },
        pendingConfig: new Map(),
      };
      ctx.state = state;
      kit.cards?.started(ctx.self.address, agent.card);
      if (agent.resumeOnStart && kit.openRuns !== undefined) {
        try {
          for (const runId of await kit.openRuns(ctx.self.address)) {
            const run = await load(ctx as AgentCtx, runId);
            if (run !== undefined) scheduleStep(run, ctx as AgentCtx);
          }
        } catch (err) {
          kit.logger.warn('agent could not list its open runs', { 'gen_ai.agent.name': agent.name, err });
        }
      }
      return state;
    },
    onStop: (ctx) => {
      kit.cards?.stopped(ctx.self.address);
      for (const run of ctx.state?.runs.values() ?? []) {
        run.abort.abort();
        const waiters = run.waiters.splice(0);
        const err = new AgentError(
          AgentErrorCode.Stopped,
          `agent ${agent.name} stopped; ask again with runId ${run.runId} to resume`,
        );
        for (const w of waiters) w.fail(err);
      }
    },
    handlers: {
      run: async (msg, ctx) => {
        const replier = ctx.deferReply();
        const runId = msg.runId ?? randomUUID();
        if (typeof runId !== 'string' || !RUN_ID.test(runId))
          return replier?.fail(
            new InvalidOptionsError('runId', 'expected 1-200 characters of [-_.:=a-zA-Z0-9]'),
          );
        // A run id made here, or one the caller minted just now (`fresh`), is new everywhere: there is no journal
        // to read, only this actor's memory to check.
        const generated = msg.runId === undefined || msg.fresh === true;
        let run = generated
          ? (ctx.state.runs.get(runId) ?? ctx.state.done.get(runId))
          : await load(ctx as AgentCtx, runId, true);
        if (run !== undefined) {
          if (run.state === 'finished') return replier?.reply(run.output);
          if (run.state === 'failed') {
            if (replier !== undefined) run.waiters.push(replier);
            return run.settle();
          }
          if (replier !== undefined) run.waiters.push(replier);
          emitStarted(ctx as AgentCtx, run, true);
          scheduleStep(run, ctx as AgentCtx);
          return;
        }
        run = new Run(runId, ctx.state.config, ctx.clock.now());
        if (msg.tenant !== undefined) run.tenant = msg.tenant;
        if (msg.session !== undefined) run.session = msg.session;
        if (agent.memory !== undefined)
          await remember(agent, agent.memory, run, 'user', textOfInput(msg.input));
        if (kit.journal !== undefined) {
          run.journal = ctx.state.fresh.get(runId) ?? (await kit.journal(runId, ctx.self.address, generated));
          ctx.state.fresh.delete(runId);
        }
        await record(run, {
          kind: 'started',
          runId,
          // The actor's address, not the agent's name: the journal's open-runs index is kept per owner, so each
          // virtual instance of an agent resumes only its own runs.
          agent: ctx.self.address,
          input: msg.input,
          config: { ...ctx.state.config },
        });
        ctx.state.runs.set(runId, run);
        kit.cards?.load(ctx.self.address, ctx.state.runs.size);
        if (replier !== undefined) run.waiters.push(replier);
        emitStarted(ctx as AgentCtx, run, false);
        scheduleStep(run, ctx as AgentCtx);
      },
      $step: async (msg, ctx) => {
        const run = await load(ctx as AgentCtx, msg.runId);
        if (run === undefined) return;
        await step(agent, ctx as AgentCtx, run);
        retire(ctx as AgentCtx, run);
      },
      subscribe: (msg, ctx) => {
        if (!ctx.state.subscribers.some((s) => s.to === msg.to && s.runId === msg.runId))
          ctx.state.subscribers.push({ to: msg.to, runId: msg.runId });
      },
      unsubscribe: (msg, ctx) => {
        ctx.state.subscribers = ctx.state.subscribers.filter((s) => s.to !== msg.to);
      },
      configure: (msg, ctx) => {
        let changes: AgentConfigChange;
        try {
          changes = configChanges(msg);
        } catch (err) {
          return ctx.fail(err);
        }
        const config = ctx.state.config;
        if (changes.model !== undefined) config.model = changes.model;
        if (changes.instructions !== undefined) config.instructions = changes.instructions;
        if (changes.temperature !== undefined) config.temperature = changes.temperature;
        for (const runId of ctx.state.runs.keys())
          ctx.state.pendingConfig.set(runId, { ...ctx.state.pendingConfig.get(runId), ...changes });
        kit.logger.info('agent configured', { 'gen_ai.agent.name': agent.name, ...changes });
        return { ...config };
      },
      approve: async (msg, ctx) => {
        const run = await load(ctx as AgentCtx, msg.runId);
        // A wrong approve is the asker's mistake, not the agent's failure: it fails the ask, not the actor.
        if (run === undefined)
          return ctx.fail(new AgentError(AgentErrorCode.UnknownRun, `no run ${msg.runId}`));
        if (
          run.approvals.get(msg.callId)?.state !== 'requested' ||
          run.state === 'finished' ||
          run.state === 'failed'
        )
          return ctx.fail(
            new AgentError(
              AgentErrorCode.ApprovalNotPending,
              `call ${msg.callId} of run ${msg.runId} awaits no approval`,
            ),
          );
        const state = msg.approved ? 'approved' : 'rejected';
        const entry: import('./ports.js').LoopEntry = {
          kind: 'approval',
          step: run.step,
          callId: msg.callId,
          state,
        };
        if (msg.by !== undefined) entry.by = msg.by;
        if (msg.reason !== undefined) entry.reason = msg.reason;
        await record(run, entry);
        kit.logger.info('agent tool call approval', {
          'gen_ai.agent.name': agent.name,
          runId: run.runId,
          callId: msg.callId,
          state,
          by: msg.by,
        });
        if (run.awaiting().length === 0) {
          run.state = 'running';
          scheduleStep(run, ctx as AgentCtx);
        }
        return { runId: run.runId, callId: msg.callId, state };
      },
      status: (_msg, ctx) => ({
        agent: agent.name,
        config: { ...ctx.state.config },
        runs: [...ctx.state.runs.values()].map((r) => r.status()),
      }),
    },
  });
  return Object.freeze({ ...definition, agent }) as AgentDefinition;

  // Told once this turn is over rather than now: to a subscriber on another node the tell is a socket write,
  // and the step scheduled with it goes first, up to its model request (the path to the first token). Any
  // other event of the run tells it first, so subscribers still see it first.
  function emitStarted(ctx: AgentCtx, run: Run, resumed: boolean): void {
    tellStarted(agent, ctx, run);
    if (!streaming(ctx, run)) return;
    run.started = { type: 'agentEvent', agent: agent.name, kind: 'started', runId: run.runId, resumed };
    setImmediate(() => {
      // Outside any turn: the actor may have restarted or stopped meanwhile, and nothing may throw here.
      try {
        tellStarted(agent, ctx, run);
      } catch (err) {
        agent.kit.logger.warn('agent event not delivered', { agent: agent.name, runId: run.runId, err });
      }
    });
  }
}

function configChanges(msg: AgentConfigChange): AgentConfigChange {
  const changes: AgentConfigChange = {};
  if (msg.model !== undefined) {
    if (typeof msg.model !== 'string' || msg.model === '')
      throw new InvalidOptionsError('model', 'expected a model group');
    changes.model = msg.model;
  }
  if (msg.instructions !== undefined) {
    if (typeof msg.instructions !== 'string')
      throw new InvalidOptionsError('instructions', 'expected a string');
    changes.instructions = msg.instructions;
  }
  if (msg.temperature !== undefined) {
    if (typeof msg.temperature !== 'number' || !(msg.temperature >= 0 && msg.temperature <= 2))
      throw new InvalidOptionsError('temperature', 'expected a number from 0 to 2');
    changes.temperature = msg.temperature;
  }
  return changes;
}

export type { AgentSpec };
