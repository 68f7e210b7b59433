// One tool call, through every check in order: the tool exists, its arguments parse and match the schema, the
// agent may call it, a rate-limit token is free; then it runs (in-process under a timeout, or as a task once per
// call), and the call is audited. It never throws for a tool's failure: every way it can end is a coded outcome.

import { ErrorCode, kvToken, type TaskRunner, TroupeError } from '../../runtime/index.js';
import { type AuditLog, argsHash } from './audit.js';
import { type AnyTool, needsApproval, type ToolContext } from './define.js';
import { RETRYABLE, ToolError, ToolErrorCode, type ToolIssue, type ToolOutcome } from './outcome.js';
import type { ToolRegistry } from './registry.js';

/** A call the model made: the tool's name, its arguments as the model's JSON text, and the call's id. */
export interface ToolCallRequest {
  readonly name: string;
  readonly arguments: string;
  readonly callId: string;
}

/** Who calls, and what the call may use. */
export interface ToolCallContext {
  readonly agent: string;
  readonly runId: string;
  readonly tenant?: string;
  /** Scopes the agent holds (its `grants`). */
  readonly grants?: readonly string[];
  /** The agent's allow-list of tool names (its `tools`; `*` for all); absent: no list. */
  readonly tools?: readonly string[];
  /** Aborts the call: the tool's signal aborts and the outcome is TOOL_ABORTED. */
  readonly signal?: AbortSignal;
  /** Overrides the registry's task runner for heavy tools. */
  readonly tasks?: TaskRunner;
  /** Overrides the registry's audit log. */
  readonly audit?: AuditLog;
  /**
   * A human approved this call. Only read when the tool needs approval for these arguments and `requireApproval`
   * is set: without it the call is refused with TOOL_APPROVAL_REQUIRED (the agent loop asks first).
   */
  readonly approved?: boolean;
  /** Refuse calls that need approval unless `approved`. @defaultValue false (the agent loop gates approvals) */
  readonly requireApproval?: boolean;
}

type Failure = Extract<ToolOutcome, { ok: false }>;
/** A failure before its duration is known. */
type Refusal = Omit<Failure, 'durationMs'>;

function refused(code: ToolErrorCode, message: string, extra: Partial<Refusal> = {}): Refusal {
  return { ok: false, code, message, retryable: RETRYABLE[code], ...extra };
}

/** `path: message` per issue of a zod error, paths dotted. */
function issuesOf(error: {
  issues: readonly { path: readonly PropertyKey[]; message: string }[];
}): ToolIssue[] {
  return error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
}

/** Parses and validates the arguments: the parsed input, or a refusal that lists what is wrong. */
async function parseArguments(tool: AnyTool, raw: string): Promise<{ input: unknown } | Refusal> {
  let json: unknown;
  try {
    json = raw.trim() === '' ? {} : JSON.parse(raw);
  } catch (err) {
    const message = `arguments of ${tool.name} are not valid JSON (${(err as Error).message}): send one JSON object matching its schema`;
    return refused(ToolErrorCode.InvalidArguments, message, { issues: [{ path: '', message: 'not JSON' }] });
  }
  const result = await tool.input.safeParseAsync(json);
  if (result.success) return { input: result.data };
  const issues = issuesOf(result.error);
  const list = issues.map((i) => `- ${i.path === '' ? '(arguments)' : i.path}: ${i.message}`).join('\n');
  return refused(ToolErrorCode.InvalidArguments, `invalid arguments for ${tool.name}:\n${list}`, { issues });
}

/** Takes a token from the tool's bucket and the tenant's; a refusal when one is empty or the store is down. */
async function takeTokens(
  registry: ToolRegistry,
  tool: AnyTool,
  tenant: string | undefined,
): Promise<Refusal | undefined> {
  const limits: [string, { capacity: number; refillPerSec: number }][] = [];
  const prefix = registry.keyPrefix;
  const rl = tool.rateLimit;
  if (rl !== undefined) {
    const key = `${prefix}.rate.${kvToken(tool.name)}`;
    limits.push([rl.scope === 'tenant' ? `${key}.${kvToken(tenant ?? '')}` : key, rl]);
  }
  const tl = registry.tenantRateLimit;
  if (tl !== undefined) limits.push([`${prefix}.tenant.${kvToken(tenant ?? '')}`, tl]);
  for (const [key, limit] of limits) {
    try {
      const taken = await registry.buckets.take(key, limit);
      if (!taken.ok) {
        const whose = key.includes('.tenant.') ? `tenant ${tenant ?? '(none)'}` : `tool ${tool.name}`;
        return refused(
          ToolErrorCode.RateLimited,
          `rate limit of ${whose} reached: retry in ${taken.retryAfterMs} ms`,
          {
            retryAfterMs: taken.retryAfterMs,
          },
        );
      }
    } catch (err) {
      return refused(ToolErrorCode.Unavailable, `rate limit store unavailable: ${(err as Error).message}`, {
        cause: TroupeError.is(err) ? err.code : 'ERROR',
      });
    }
  }
  return undefined;
}

const UNAVAILABLE: readonly string[] = [
  ErrorCode.TaskLost,
  ErrorCode.NoTaskRunner,
  ErrorCode.SystemClosed,
  'TRANSPORT_CONNECT_FAILED',
];

/** The refusal a run's error comes to: a ToolError keeps its code; task errors map onto tool codes. */
function failureOf(tool: AnyTool, err: unknown, timedOut: boolean, aborted: boolean): Refusal {
  if (timedOut)
    return refused(ToolErrorCode.Timeout, `tool ${tool.name} timed out after ${tool.timeoutMs} ms`);
  if (aborted) return refused(ToolErrorCode.Aborted, `tool ${tool.name} was aborted by its caller`);
  if (err instanceof ToolError)
    return { ok: false, code: err.code as ToolErrorCode, message: err.message, retryable: err.retryable };
  const code = TroupeError.is(err) ? err.code : undefined;
  const message = err instanceof Error ? err.message : String(err);
  if (code === ErrorCode.TaskTimeout) return refused(ToolErrorCode.Timeout, message, { cause: code });
  if (code === ErrorCode.TaskCancelled) return refused(ToolErrorCode.Aborted, message, { cause: code });
  if (code !== undefined && UNAVAILABLE.includes(code))
    return refused(ToolErrorCode.Unavailable, message, { cause: code });
  return refused(
    ToolErrorCode.Failed,
    `tool ${tool.name} failed: ${message}`,
    code === undefined ? {} : { cause: code },
  );
}

/** Runs the tool (or its task) under its timeout and the caller's signal. */
async function invoke(
  registry: ToolRegistry,
  tool: AnyTool,
  input: unknown,
  call: ToolCallRequest,
  ctx: ToolCallContext,
): Promise<{ value: unknown; cost: number } | Refusal> {
  const control = new AbortController();
  const outer = ctx.signal;
  let timedOut = false;
  let cost = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  // Settles when the signal aborts, so a tool that ignores its signal still ends the call on time.
  let stop!: () => void;
  const stopped = new Promise<typeof control>((resolve) => {
    stop = () => resolve(control);
  });
  const onOuter = (): void => {
    control.abort(outer?.reason);
    stop();
  };
  if (outer?.aborted) return refused(ToolErrorCode.Aborted, `tool ${tool.name} was aborted by its caller`);
  outer?.addEventListener('abort', onOuter, { once: true });
  if (tool.timeoutMs !== undefined) {
    timer = setTimeout(() => {
      timedOut = true;
      control.abort(
        new ToolError(ToolErrorCode.Timeout, `tool ${tool.name} timed out after ${tool.timeoutMs} ms`),
      );
      stop();
    }, tool.timeoutMs);
  }
  try {
    let work: Promise<unknown>;
    if (tool.heavy !== undefined) {
      const tasks = ctx.tasks ?? registry.tasks;
      if (tasks === undefined)
        return refused(
          ToolErrorCode.Unavailable,
          `tool ${tool.name} runs as a task, and no task runner is set`,
          {
            cause: ErrorCode.NoTaskRunner,
          },
        );
      work = tasks.run(tool.heavy, input, {
        signal: control.signal,
        idempotencyKey: `${ctx.runId}:${call.callId}`,
      });
    } else {
      const toolCtx: ToolContext = {
        signal: control.signal,
        agent: ctx.agent,
        runId: ctx.runId,
        callId: call.callId,
        tenant: ctx.tenant,
        addCost(amount: number) {
          if (Number.isFinite(amount)) cost += amount;
        },
      };
      // A synchronous throw is a failure like a rejection.
      work = (async () => (tool.run as NonNullable<AnyTool['run']>)(input, toolCtx))();
    }
    const winner = await Promise.race([work, stopped]);
    if (winner === control && control.signal.aborted) {
      work.catch(() => {}); // the abandoned run may still reject
      return { ...failureOf(tool, undefined, timedOut, !timedOut), ...(cost > 0 ? { cost } : {}) };
    }
    return { value: winner, cost };
  } catch (err) {
    return {
      ...failureOf(tool, err, timedOut, control.signal.aborted && !timedOut),
      ...(cost > 0 ? { cost } : {}),
    };
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    outer?.removeEventListener('abort', onOuter);
  }
}

/**
 * Runs one tool call. Checks in order, each with its code: unknown tool (TOOL_UNKNOWN); arguments not JSON or not
 * matching the schema (TOOL_INVALID_ARGUMENTS, the issues listed so the model can repair); the agent's allow-list
 * and scopes (TOOL_FORBIDDEN); the tool's and the tenant's token buckets (TOOL_RATE_LIMITED, `retryAfterMs`).
 * Then it runs: past `timeoutMs` its signal aborts (TOOL_TIMEOUT); the caller's signal aborts it (TOOL_ABORTED);
 * a heavy tool is a task on the task runner, keyed `<runId>:<callId>` so a repeated call runs it once; a throw
 * is TOOL_FAILED (a thrown ToolError picks its own code). Every call, refused or not, is audited.
 */
export async function executeTool(
  registry: ToolRegistry,
  call: ToolCallRequest,
  ctx: ToolCallContext,
): Promise<ToolOutcome> {
  const started = performance.now();
  const tool = registry.get(call.name);
  let outcome: ToolOutcome;
  try {
    const result =
      tool === undefined
        ? refused(ToolErrorCode.Unknown, `no tool named ${call.name}`)
        : await attempt(registry, tool, call, ctx);
    const durationMs = performance.now() - started;
    outcome =
      'value' in result
        ? { ok: true, value: result.value, durationMs, ...(result.cost > 0 ? { cost: result.cost } : {}) }
        : { ...result, durationMs };
  } catch (err) {
    // Only a bug of ours gets here (a tool's own failure is an outcome already): still an outcome, never a throw.
    outcome = {
      ...refused(ToolErrorCode.Failed, `tool call failed: ${(err as Error)?.message ?? String(err)}`),
      durationMs: performance.now() - started,
    };
  }
  const audit = ctx.audit ?? registry.audit;
  if (audit !== undefined) {
    void audit.record({
      kind: 'tool',
      at: Date.now(),
      agent: ctx.agent,
      runId: ctx.runId,
      callId: call.callId,
      tool: call.name,
      argsHash: argsHash(typeof call.arguments === 'string' ? call.arguments : String(call.arguments)),
      outcome: outcome.ok ? 'ok' : outcome.code,
      durationMs: outcome.durationMs,
      ...(outcome.cost === undefined ? {} : { cost: outcome.cost }),
      ...(ctx.tenant === undefined ? {} : { tenant: ctx.tenant }),
    });
  }
  return outcome;
}

async function attempt(
  registry: ToolRegistry,
  tool: AnyTool,
  call: ToolCallRequest,
  ctx: ToolCallContext,
): Promise<{ value: unknown; cost: number } | Refusal> {
  const parsed = await parseArguments(
    tool,
    typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments),
  );
  if ('ok' in parsed) return parsed;
  const why = registry.refusal(ctx.agent, tool.name, ctx.grants, ctx.tools);
  if (why !== undefined) return refused(ToolErrorCode.Forbidden, why);
  if (ctx.requireApproval === true && ctx.approved !== true && needsApproval(tool, parsed.input))
    return refused(ToolErrorCode.ApprovalRequired, `tool ${tool.name} needs approval for these arguments`);
  const limited = await takeTokens(registry, tool, ctx.tenant);
  if (limited !== undefined) return limited;
  return invoke(registry, tool, parsed.input, call, ctx);
}

/** Whether the call needs approval before it runs (false for an unknown tool or invalid arguments: those fail). */
export async function callNeedsApproval(registry: ToolRegistry, call: ToolCallRequest): Promise<boolean> {
  const tool = registry.get(call.name);
  if (tool === undefined || tool.needsApproval === false) return false;
  const parsed = await parseArguments(tool, call.arguments);
  return 'input' in parsed && needsApproval(tool, parsed.input);
}
