// What every instance of one defined agent shares: its resolved spec and the kit's parts (router, tools,
// journal, step semaphore, logger), adapted to the loop's narrow contracts.

import type { ModelRouter, ModelTelemetry, ToolDefinition } from '../../models/index.js';
import type { ActorContext, Logger } from '../../runtime/index.js';
import type { AgentCards, CardInfo } from './cards.js';
import type { AgentDelegate } from './delegation.js';
import type { ResolvedMemory } from './memory-options.js';
import type { OutputSpec } from './output.js';
import type { LoopJournal, LoopTool, StepConfig, ToolOutcome } from './ports.js';
import type { AgentConfigChange, AgentEventMessage, AgentProtocol } from './protocol.js';
import type { Run } from './run.js';
import type { Semaphore } from './semaphore.js';

/** The context a tool call runs with. */
export interface ToolCallInfo {
  agent: string;
  runId: string;
  callId: string;
  grants: readonly string[];
  /** The agent's allow-list: the tool names it declared. */
  allow: readonly string[];
  tenant: string | undefined;
  signal: AbortSignal;
  /** A human approved this call (for tools that need approval). */
  approved: boolean;
}

/** The tool layer as the loop uses it. */
export interface ToolAccess {
  get(name: string): LoopTool | undefined;
  specs(names: readonly string[]): ToolDefinition[];
  execute(
    call: { name: string; arguments: string; callId: string },
    info: ToolCallInfo,
  ): Promise<ToolOutcome>;
}

/** A model call's outcome for the audit log (BUDGET_EXCEEDED shows there). */
export interface ModelAuditRecord {
  agent: string;
  runId: string;
  group: string;
  outcome: string;
  tokens: number;
  durationMs: number;
  tenant?: string | undefined;
}

export interface KitParts {
  readonly router: ModelRouter;
  readonly tools: ToolAccess | undefined;
  /**
   * Opens a run's journal. `owner` is the agent actor's address: the open-runs index is kept per actor, not per
   * agent name, so each virtual instance (`$v/desk/1`, `$v/desk/2`) resumes only its own runs.
   */
  /** `fresh`: the run id was generated just now, so there is nothing to read. */
  readonly journal: ((runId: string, owner: string, fresh?: boolean) => Promise<LoopJournal>) | undefined;
  /** Unfinished runs of an agent actor, from the journal's run index (activated elsewhere, it resumes them). */
  readonly openRuns: ((owner: string) => Promise<string[]>) | undefined;
  readonly semaphore: Semaphore | undefined;
  readonly logger: Logger;
  readonly auditModel: ((record: ModelAuditRecord) => void) | undefined;
  readonly telemetry: ModelTelemetry | undefined;
  /** The fleet's agent registry, when the kit has one: cards published and kept current. */
  readonly cards: AgentCards | undefined;
}

export interface ResolvedAgent {
  readonly name: string;
  /** What the agent's registry card says of it. */
  readonly card: CardInfo;
  readonly config: StepConfig;
  readonly toolNames: readonly string[];
  readonly delegates: ReadonlyMap<string, AgentDelegate>;
  readonly grants: readonly string[];
  readonly budget: { agent?: string; team?: string; tenant?: string };
  readonly stop: { maxSteps?: number; onTool?: string; deadlineMs?: number };
  readonly output: OutputSpec | undefined;
  readonly maxRepairs: number;
  readonly resumeOnStart: boolean;
  readonly kit: KitParts;
  /** What it remembers with (`defineAgent({ memory })`), if anything. */
  readonly memory: ResolvedMemory | undefined;
  /** The tool specs the model sees (registry tools, then delegates); computed once. */
  toolSpecs(): ToolDefinition[];
}

export interface Subscriber {
  to: string;
  runId: string | undefined;
}

export interface AgentState {
  runs: Map<string, Run>;
  /** Finished runs of an agent without a journal, kept (bounded) so asking again answers the same. */
  done: Map<string, Run>;
  /** Journals opened empty by a `run` for a new runId, taken by that handler (one read, not two). */
  fresh: Map<string, LoopJournal>;
  subscribers: Subscriber[];
  config: StepConfig;
  /** Config changes not yet applied to each live run (applied and journaled at its next step). */
  pendingConfig: Map<string, AgentConfigChange>;
}

export type AgentCtx = ActorContext<AgentProtocol, AgentState, unknown>;

/** Tells an event to the run's subscribers (its waiting `started` event first). */
export function emit(agent: ResolvedAgent, ctx: AgentCtx, run: Run, event: AgentEventMessage): void {
  if (run.started !== undefined) tellStarted(agent, ctx, run);
  const subs = ctx.state.subscribers;
  for (let i = 0; i < subs.length; i++) {
    const s = subs[i] as Subscriber;
    if (s.runId !== undefined && s.runId !== run.runId) continue;
    try {
      ctx.refFor(s.to).tell(event as never);
    } catch (err) {
      agent.kit.logger.warn('agent event not delivered', { agent: agent.name, to: s.to, err });
    }
  }
}

/** Tells the run's `started` event if it still waits. */
export function tellStarted(agent: ResolvedAgent, ctx: AgentCtx, run: Run): void {
  const started = run.started;
  if (started === undefined) return;
  run.started = undefined;
  emit(agent, ctx, run, started);
}

/** Whether anyone listens to this run's tokens. */
export function streaming(ctx: AgentCtx, run: Run): boolean {
  for (const s of ctx.state.subscribers) if (s.runId === undefined || s.runId === run.runId) return true;
  return false;
}
