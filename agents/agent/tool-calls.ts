// The tool calls of one step, in parallel: approvals first (a call that needs one is journaled as requested and
// waits), delegations to other agents, and registry tools through the tool layer. Each outcome is journaled
// before it is applied; failures (unknown tool, invalid arguments, forbidden, errors) are outcomes the model
// reads and repairs, never exceptions.

import type { ChatMessage, ToolCall } from '../../models/index.js';
import { TroupeError } from '../../runtime/index.js';
import { type AgentDelegate, delegatedRunId } from './delegation.js';
import { AgentError, AgentErrorCode } from './errors.js';
import type { LoopEntry, ToolOutcome } from './ports.js';
import type { Run } from './run.js';
import { type AgentCtx, emit, type ResolvedAgent } from './runtime.js';
import { startSpan } from './spans.js';

type Record = (run: Run, entry: LoopEntry) => Promise<void>;

/** Runs the last step's pending calls; resolves with a handoff's answer when one ended the run. */
export async function runToolCalls(
  agent: ResolvedAgent,
  ctx: AgentCtx,
  run: Run,
  record: Record,
): Promise<{ handoff: unknown } | undefined> {
  const n = run.step;
  const calls = run.pendingCalls();
  const runnable: ToolCall[] = [];
  for (const call of calls) {
    const approval = run.approvals.get(call.id)?.state;
    if (approval === 'approved' || !needsApproval(agent, call)) runnable.push(call);
    else if (approval === 'rejected') {
      const reason = run.approvals.get(call.id)?.reason;
      await settle(agent, ctx, run, record, n, call, {
        ok: false,
        code: 'TOOL_REJECTED',
        message: `a human rejected this call${reason === undefined ? '' : `: ${reason}`}`,
        retryable: false,
        durationMs: 0,
      });
    } else if (approval === undefined) {
      await record(run, { kind: 'approval', step: n, callId: call.id, state: 'requested' });
      agent.kit.logger.info('agent tool call awaits approval', {
        'gen_ai.agent.name': agent.name,
        'gen_ai.tool.name': call.name,
        'gen_ai.tool.call.id': call.id,
        runId: run.runId,
      });
      emit(agent, ctx, run, {
        type: 'agentEvent',
        agent: agent.name,
        kind: 'approval',
        runId: run.runId,
        step: n,
        callId: call.id,
        name: call.name,
        arguments: call.arguments,
      });
    }
  }
  let handoff: { handoff: unknown } | undefined;
  await Promise.all(
    runnable.map(async (call) => {
      const delegate = agent.delegates.get(call.name);
      const span = startSpan(agent.kit.telemetry, 'execute_tool', call.name, {
        'gen_ai.agent.name': agent.name,
        'gen_ai.conversation.id': run.runId,
        'gen_ai.tool.name': call.name,
        'gen_ai.tool.call.id': call.id,
      });
      const outcome =
        delegate === undefined
          ? await execute(agent, ctx, run, call)
          : await delegateCall(ctx, run, call, delegate);
      span?.end(
        {
          'troupe.tool.outcome': outcome.ok ? 'ok' : outcome.code,
          'troupe.tool.duration_ms': outcome.durationMs,
        },
        outcome.ok ? undefined : { code: outcome.code, message: outcome.message },
      );
      // A call cut short because the agent is stopping (its node closing or draining, a terminate) did not
      // fail: it was interrupted. Journaling its failure would make the resumed run skip it; unjournaled, the
      // run that resumes from this step makes the call again.
      if (!outcome.ok && (run.abort.signal.aborted || ctx.signal.aborted || INTERRUPTED.has(outcome.code)))
        throw new AgentError(
          AgentErrorCode.Stopped,
          `agent ${agent.name} stopped during ${call.name}; ask again with runId ${run.runId} to resume`,
        );
      await settle(agent, ctx, run, record, n, call, outcome);
      if (delegate?.kind === 'handoff' && outcome.ok) handoff = { handoff: outcome.value };
    }),
  );
  return handoff;
}

async function settle(
  agent: ResolvedAgent,
  ctx: AgentCtx,
  run: Run,
  record: Record,
  n: number,
  call: ToolCall,
  outcome: ToolOutcome,
): Promise<void> {
  await record(run, { kind: 'tool', step: n, callId: call.id, name: call.name, outcome });
  const fields = {
    'gen_ai.agent.name': agent.name,
    'gen_ai.operation.name': 'execute_tool',
    'gen_ai.tool.name': call.name,
    'gen_ai.tool.call.id': call.id,
    runId: run.runId,
    durationMs: outcome.durationMs,
  };
  if (outcome.ok) agent.kit.logger.debug('agent tool call', fields);
  else agent.kit.logger.info('agent tool call failed', { ...fields, code: outcome.code });
  const event: import('./protocol.js').AgentEventMessage = {
    type: 'agentEvent',
    agent: agent.name,
    kind: 'tool',
    runId: run.runId,
    step: n,
    callId: call.id,
    name: call.name,
    ok: outcome.ok,
  };
  if (!outcome.ok) event.code = outcome.code;
  emit(agent, ctx, run, event);
}

/** Codes that mean the caller's own node went away, not that the call failed. */
const INTERRUPTED = new Set(['SYSTEM_CLOSED', 'AGENT_STOPPED']);

function needsApproval(agent: ResolvedAgent, call: ToolCall): boolean {
  const tool = agent.kit.tools?.get(call.name);
  const rule = tool?.needsApproval;
  if (rule === undefined || rule === false || tool === undefined) return false;
  if (rule === true) return true;
  // A rule of the input: arguments that do not validate need none (the tool layer refuses them anyway).
  try {
    const parsed = tool.input.safeParse(JSON.parse(call.arguments));
    return parsed.success ? (rule as (input: unknown) => boolean)(parsed.data) : false;
  } catch {
    return false;
  }
}

async function execute(agent: ResolvedAgent, ctx: AgentCtx, run: Run, call: ToolCall): Promise<ToolOutcome> {
  const tools = agent.kit.tools;
  if (tools === undefined)
    return {
      ok: false,
      code: 'TOOL_UNKNOWN',
      message: `no tool named ${call.name}`,
      retryable: false,
      durationMs: 0,
    };
  // Unknown names, invalid arguments and missing permissions are the tool layer's to refuse (with the codes the
  // model reads back); the agent's `tools` are its allow-list.
  return tools.execute(
    { name: call.name, arguments: call.arguments, callId: call.id },
    {
      agent: agent.name,
      runId: run.runId,
      callId: call.id,
      grants: agent.grants,
      allow: agent.toolNames,
      tenant: run.tenant,
      signal: AbortSignal.any([ctx.signal, run.abort.signal]),
      approved: run.approvals.get(call.id)?.state === 'approved',
    },
  );
}

/** Asks the other agent; its run id derives from this call's, so a resumed step re-asks the same run. */
async function delegateCall(
  ctx: AgentCtx,
  run: Run,
  call: ToolCall,
  delegate: AgentDelegate,
): Promise<ToolOutcome> {
  const started = Date.now();
  let args: unknown;
  try {
    args = JSON.parse(call.arguments);
  } catch {
    args = undefined;
  }
  const parsed = delegate.input.safeParse(args);
  if (!parsed.success)
    return {
      ok: false,
      code: 'TOOL_INVALID_ARGUMENTS',
      message: `invalid arguments for ${call.name}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
      retryable: false,
      durationMs: 0,
    };
  const input =
    delegate.kind === 'agent-tool' ? (parsed.data as { input: string }).input : conversationBefore(run);
  try {
    const value = await ctx
      .refFor(delegate.address)
      .ask({ type: 'run', input, runId: delegatedRunId(run.runId, call.id) } as never, {
        timeout: delegate.timeoutMs,
      });
    return { ok: true, value, durationMs: Date.now() - started };
  } catch (err) {
    return {
      ok: false,
      code: TroupeError.is(err) ? err.code : 'AGENT_DELEGATION_FAILED',
      message: `the agent at ${delegate.address} failed: ${(err as Error)?.message ?? String(err)}`,
      retryable: false,
      durationMs: Date.now() - started,
    };
  }
}

/** The conversation up to (not including) the step that called the handoff, without instructions. */
function conversationBefore(run: Run): ChatMessage[] {
  const all = run.messages();
  let cut = all.length;
  for (let i = all.length - 1; i >= 0; i--)
    if (all[i]?.role === 'assistant') {
      cut = i;
      break;
    }
  return all.slice(0, cut).filter((m) => m.role !== 'system');
}
