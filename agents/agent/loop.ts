// One step of a run, as the `$step` handler runs it: a model call (streamed when someone listens), journaled
// before anything acts on it; then the tool calls, in parallel, each journaled before its result goes back to
// the model; then the next step, told to self, so approve/configure/status are served between steps.

import { BudgetExceededError, type ChatRequest, type ChatResult } from '../../models/index.js';
import { TroupeError } from '../../runtime/index.js';
import { AgentError, AgentErrorCode } from './errors.js';
import { recall, remember } from './memory.js';
import { parseOutput } from './output.js';
import type { AssistantMessageLike, LoopEntry } from './ports.js';
import type { AgentFinishReason } from './protocol.js';
import type { Run } from './run.js';
import { type AgentCtx, emit, type ResolvedAgent, streaming } from './runtime.js';
import { startSpan } from './spans.js';
import { runToolCalls } from './tool-calls.js';

/** Journals `entry` (when the run has a journal) and applies it: the one way a run changes. */
export async function record(run: Run, entry: LoopEntry): Promise<void> {
  if (run.journal !== undefined) await run.journal.append(entry);
  run.apply(entry);
}

/** Queues the run's next step (at most one queued). */
export function scheduleStep(run: Run, ctx: AgentCtx): void {
  if (run.stepping || run.state !== 'running') return;
  run.stepping = true;
  ctx.self.tell({ type: '$step', runId: run.runId });
}

/** Ends the run with an answer. */
export async function finish(
  agent: ResolvedAgent,
  ctx: AgentCtx,
  run: Run,
  output: unknown,
  reason: AgentFinishReason,
): Promise<void> {
  // The answer goes out before its `finished` record, a store round trip sooner: the journal already holds
  // what the answer derives from (the last model answer, or the step count or deadline that stopped the run),
  // so a run resumed after a crash in between answers the same, with no model call.
  const entry: LoopEntry = { kind: 'finished', output };
  run.apply(entry);
  run.reason = reason;
  agent.kit.logger.info('agent run finished', {
    'gen_ai.agent.name': agent.name,
    'gen_ai.operation.name': 'invoke_agent',
    runId: run.runId,
    steps: run.step,
    reason,
  });
  emit(agent, ctx, run, {
    type: 'agentEvent',
    agent: agent.name,
    kind: 'finished',
    runId: run.runId,
    output,
    reason,
  });
  run.settle();
  if (agent.memory !== undefined)
    await remember(
      agent,
      agent.memory,
      run,
      'assistant',
      typeof output === 'string' ? output : JSON.stringify(output),
    );
  if (run.journal === undefined) return;
  try {
    await run.journal.append(entry);
    await run.journal.close?.(true);
  } catch (err) {
    // The askers have their answer; a store outage here only leaves the record to a later resume.
    agent.kit.logger.warn('agent run finished but not journaled as finished', {
      'gen_ai.agent.name': agent.name,
      runId: run.runId,
      err,
    });
  }
}

/** Ends the run with an error (journaled: asking again answers with it). */
export async function failRun(
  agent: ResolvedAgent,
  ctx: AgentCtx,
  run: Run,
  error: TroupeError,
): Promise<void> {
  await record(run, { kind: 'failed', code: error.code, message: error.message });
  agent.kit.logger.warn('agent run failed', {
    'gen_ai.agent.name': agent.name,
    runId: run.runId,
    code: error.code,
  });
  emit(agent, ctx, run, {
    type: 'agentEvent',
    agent: agent.name,
    kind: 'failed',
    runId: run.runId,
    code: error.code,
    message: error.message,
  });
  run.settle();
  await run.journal?.close?.(false);
}

const lastText = (run: Run): string => {
  for (let i = run.steps.length - 1; i >= 0; i--) {
    const c = run.steps[i]?.message.content;
    if (typeof c === 'string' && c !== '') return c;
  }
  return '';
};

/** The `$step` handler's body. Errors (a budget, a model down) escape to the supervisor after the askers hear. */
export async function step(agent: ResolvedAgent, ctx: AgentCtx, run: Run): Promise<void> {
  run.stepping = false;
  if (run.state !== 'running') return;
  const span = startSpan(agent.kit.telemetry, 'invoke_agent', agent.name, {
    'gen_ai.agent.name': agent.name,
    'gen_ai.conversation.id': run.runId,
    'troupe.agent.step': run.step + 1,
  });
  try {
    await advance(agent, ctx, run);
    span?.end({ 'troupe.agent.run_state': run.state, 'troupe.agent.steps': run.step });
  } catch (err) {
    span?.end({ 'troupe.agent.steps': run.step }, err);
    // The step failed: the askers get the error now; the run stays open in the journal (asking again with its
    // runId resumes it), and the failure goes to the supervisor, whose decider stops, restarts or resumes.
    const waiters = run.waiters.splice(0);
    for (const w of waiters) w.fail(err);
    if (BudgetExceededError.is(err))
      agent.kit.logger.warn('agent stopped by its budget', {
        'gen_ai.agent.name': agent.name,
        runId: run.runId,
        scope: err.scope,
        id: err.id,
      });
    throw err;
  }
}

async function advance(agent: ResolvedAgent, ctx: AgentCtx, run: Run): Promise<void> {
  // Tool calls of a step journaled before a crash, or approved since: run them before any new model call.
  if (run.pendingCalls().length > 0) return afterTools(agent, ctx, run, await toolPhase(agent, ctx, run));
  const last = run.last;
  if (last !== undefined && (last.message.toolCalls?.length ?? 0) === 0 && last.repair === undefined)
    return answer(agent, ctx, run, last.message.content ?? '');
  // A handoff journaled before a crash, its run not yet finished: its answer is this run's.
  for (const call of last?.message.toolCalls ?? []) {
    const outcome = last?.outcomes.get(call.id);
    if (agent.delegates.get(call.name)?.kind === 'handoff' && outcome?.ok === true)
      return finish(agent, ctx, run, outcome.value, 'handoff');
  }

  const stop = agent.stop;
  if (stop.maxSteps !== undefined && run.step >= stop.maxSteps)
    return finish(agent, ctx, run, lastText(run), 'max-steps');
  const deadline = stop.deadlineMs === undefined ? undefined : run.startedAt + stop.deadlineMs;
  if (deadline !== undefined && ctx.clock.now() >= deadline)
    return finish(agent, ctx, run, lastText(run), 'deadline');

  const changes = ctx.state.pendingConfig.get(run.runId);
  if (changes !== undefined) {
    ctx.state.pendingConfig.delete(run.runId);
    await record(run, { kind: 'config', step: run.step + 1, changes });
    emit(agent, ctx, run, {
      type: 'agentEvent',
      agent: agent.name,
      kind: 'config',
      runId: run.runId,
      step: run.step + 1,
      changes,
    });
  }

  const semaphore = agent.kit.semaphore;
  let held = false;
  const release = (): void => {
    if (held) semaphore?.release();
    held = false;
  };
  if (semaphore !== undefined) {
    await semaphore.acquire();
    held = true;
  }
  try {
    let result: ChatResult;
    try {
      result = await callModel(agent, ctx, run, deadline);
    } catch (err) {
      if (deadline !== undefined && ctx.clock.now() >= deadline && TroupeError.is(err, 'MODEL_TIMEOUT'))
        return finish(agent, ctx, run, lastText(run), 'deadline');
      throw err;
    }
    if (result.refusal !== undefined && result.toolCalls.length === 0)
      return failRun(
        agent,
        ctx,
        run,
        new AgentError(AgentErrorCode.Refused, `the model refused: ${result.refusal}`),
      );
    const message: AssistantMessageLike =
      result.toolCalls.length > 0
        ? { role: 'assistant', content: result.text === '' ? null : result.text, toolCalls: result.toolCalls }
        : { role: 'assistant', content: result.text };
    const n = run.step + 1;
    const entry: LoopEntry = { kind: 'model', step: n, message };
    if (result.usage !== undefined) entry.usage = result.usage;
    if (result.model !== '') entry.model = result.model;
    await record(run, entry);
    emit(agent, ctx, run, {
      type: 'agentEvent',
      agent: agent.name,
      kind: 'step',
      runId: run.runId,
      step: n,
      text: result.text,
      toolCalls: result.toolCalls,
    });
    if (result.toolCalls.length === 0) return answer(agent, ctx, run, result.text);
    const stopCall =
      stop.onTool === undefined ? undefined : result.toolCalls.find((c) => c.name === stop.onTool);
    if (stopCall !== undefined) return finish(agent, ctx, run, parseArguments(stopCall.arguments), 'tool');
    // Asking another agent of this kit while holding a slot could deadlock the cap: the slot goes first.
    if (result.toolCalls.some((c) => agent.delegates.has(c.name))) release();
    const handedOff = await toolPhase(agent, ctx, run);
    return afterTools(agent, ctx, run, handedOff);
  } finally {
    release();
  }
}

/** What `toolPhase` ended with: a handoff's answer ends the run. */
type ToolPhaseEnd = { handoff: unknown } | undefined;

async function toolPhase(agent: ResolvedAgent, ctx: AgentCtx, run: Run): Promise<ToolPhaseEnd> {
  return runToolCalls(agent, ctx, run, record);
}

async function afterTools(agent: ResolvedAgent, ctx: AgentCtx, run: Run, end: ToolPhaseEnd): Promise<void> {
  if (end !== undefined) return finish(agent, ctx, run, end.handoff, 'handoff');
  if (run.awaiting().length > 0) {
    run.state = 'awaiting-approval';
    return;
  }
  if (run.repairs() > agent.maxRepairs)
    return failRun(
      agent,
      ctx,
      run,
      new AgentError(
        AgentErrorCode.RepairsExhausted,
        `more than ${agent.maxRepairs} failed tool calls in one run`,
      ),
    );
  scheduleStep(run, ctx);
}

/** A final text: parsed and validated when the agent has an `output` schema; invalid output goes back once more. */
async function answer(agent: ResolvedAgent, ctx: AgentCtx, run: Run, text: string): Promise<void> {
  const spec = agent.output;
  if (spec === undefined) return finish(agent, ctx, run, text, 'answer');
  const parsed = parseOutput(spec, text);
  if (parsed.ok) return finish(agent, ctx, run, parsed.value, 'answer');
  if (run.repairs() >= agent.maxRepairs)
    return failRun(
      agent,
      ctx,
      run,
      new AgentError(
        AgentErrorCode.OutputInvalid,
        `the answer does not match the output schema: ${parsed.issues}`,
        {
          data: { text: text.slice(0, 2000) },
        },
      ),
    );
  const last = run.last;
  if (last !== undefined) last.repair = parsed.issues; // derived again from the text on replay: not journaled
  scheduleStep(run, ctx);
}

function parseArguments(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

async function callModel(
  agent: ResolvedAgent,
  ctx: AgentCtx,
  run: Run,
  deadline: number | undefined,
): Promise<ChatResult> {
  const signal = AbortSignal.any([ctx.signal, run.abort.signal]);
  const messages =
    agent.memory === undefined
      ? run.messages()
      : await recall(agent, agent.memory, run, run.messages(), signal);
  const request: ChatRequest = { messages };
  const tools = agent.toolSpecs();
  if (tools.length > 0) request.tools = tools;
  if (run.config.temperature !== undefined) request.temperature = run.config.temperature;
  if (agent.output !== undefined) request.responseFormat = agent.output.format;
  const options: import('../../models/index.js').RouterCallOptions = { signal, budget: budgetOf(agent, run) };
  if (deadline !== undefined) options.timeoutMs = Math.max(1, deadline - ctx.clock.now());
  const started = Date.now();
  const group = run.config.model;
  try {
    if (!streaming(ctx, run)) {
      const result = await agent.kit.router.chat(group, request, options);
      audit(agent, run, group, 'ok', result, started);
      return result;
    }
    const n = run.step + 1;
    let done: ChatResult | undefined;
    for await (const chunk of agent.kit.router.stream(group, request, options)) {
      if (chunk.type === 'text' && chunk.text !== '')
        emit(agent, ctx, run, {
          type: 'agentEvent',
          agent: agent.name,
          kind: 'token',
          runId: run.runId,
          step: n,
          text: chunk.text,
        });
      else if (chunk.type === 'done') done = chunk.result;
    }
    if (done === undefined) throw new TroupeError('MODEL_STREAM_BROKEN', 'the stream ended without a result');
    audit(agent, run, group, 'ok', done, started);
    return done;
  } catch (err) {
    audit(agent, run, group, TroupeError.is(err) ? err.code : 'ERROR', undefined, started);
    throw err;
  }
}

function budgetOf(agent: ResolvedAgent, run: Run): { agent?: string; team?: string; tenant?: string } {
  const keys: { agent?: string; team?: string; tenant?: string } = {
    agent: agent.budget.agent ?? agent.name,
  };
  if (agent.budget.team !== undefined) keys.team = agent.budget.team;
  const tenant = run.tenant ?? agent.budget.tenant;
  if (tenant !== undefined) keys.tenant = tenant;
  return keys;
}

function audit(
  agent: ResolvedAgent,
  run: Run,
  group: string,
  outcome: string,
  result: ChatResult | undefined,
  started: number,
): void {
  const sink = agent.kit.auditModel;
  if (sink === undefined) return;
  const usage = result?.usage;
  sink({
    agent: agent.name,
    runId: run.runId,
    group,
    outcome,
    tokens: usage === undefined ? 0 : usage.inputTokens + usage.outputTokens,
    durationMs: Date.now() - started,
    tenant: run.tenant,
  });
}
