// One run's state, in memory: its steps (an assistant message and the outcomes of its tool calls), approvals,
// config, and who waits for its answer. Rebuilt from journal entries by the same code that records them, so a
// resumed run holds exactly the conversation the first node had.

import type { ChatMessage, ToolCall } from '../../models/index.js';
import { type Replier, TroupeError } from '../../runtime/index.js';
import { outputRepairMessage, renderOutcome } from './messages.js';
import type { AssistantMessageLike, LoopEntry, LoopJournal, StepConfig, ToolOutcome } from './ports.js';
import type {
  AgentConfigChange,
  AgentEventMessage,
  AgentFinishReason,
  AgentRunState,
  AgentRunStatus,
} from './protocol.js';

export interface Step {
  readonly n: number;
  readonly message: AssistantMessageLike;
  readonly outcomes: Map<string, ToolOutcome>;
  /** Invalid structured output: the repair note sent back (deterministic from the text). */
  repair?: string;
}

export type ApprovalState = 'requested' | 'approved' | 'rejected';

export class Run {
  readonly runId: string;
  input: string | ChatMessage[] = '';
  config: StepConfig;
  readonly steps: Step[] = [];
  readonly approvals = new Map<string, { state: ApprovalState; reason?: string }>();
  state: AgentRunState = 'running';
  output: unknown;
  reason: AgentFinishReason | undefined;
  error: { code: string; message: string } | undefined;
  readonly waiters: Replier<unknown>[] = [];
  journal: LoopJournal | undefined;
  startedAt: number;
  tenant: string | undefined;
  /** The session its turns are stored under in episodic memory (`run { session }`); in memory only. */
  session: string | undefined;
  /** A `$step` is queued or running: never two at once. */
  stepping = false;
  /** Aborts this run's model call and tools (terminate, stop). */
  abort = new AbortController();
  /** Its `started` event while that waits to be told (see `emitStarted`); told before any later event. */
  started: AgentEventMessage | undefined;

  constructor(runId: string, config: StepConfig, now: number) {
    this.runId = runId;
    this.config = { ...config };
    this.startedAt = now;
  }

  /** Model calls made. */
  get step(): number {
    return this.steps.length;
  }

  get last(): Step | undefined {
    return this.steps[this.steps.length - 1];
  }

  /** Calls of the last step without an outcome yet. */
  pendingCalls(): ToolCall[] {
    const last = this.last;
    if (last === undefined) return [];
    return (last.message.toolCalls ?? []).filter((c) => !last.outcomes.has(c.id));
  }

  /** Failed tool outcomes and output repairs so far: each one a repair the model was asked for. */
  repairs(): number {
    let n = 0;
    for (const step of this.steps) {
      if (step.repair !== undefined) n++;
      for (const o of step.outcomes.values()) if (!o.ok) n++;
    }
    return n;
  }

  applyConfig(changes: AgentConfigChange): void {
    if (changes.model !== undefined) this.config.model = changes.model;
    if (changes.instructions !== undefined) this.config.instructions = changes.instructions;
    if (changes.temperature !== undefined) this.config.temperature = changes.temperature;
  }

  /** The conversation the model sees next: instructions, input, then each step and its results in call order. */
  messages(): ChatMessage[] {
    const out: ChatMessage[] = [];
    if (this.config.instructions !== '') out.push({ role: 'system', content: this.config.instructions });
    if (typeof this.input === 'string') out.push({ role: 'user', content: this.input });
    else out.push(...this.input);
    for (const step of this.steps) {
      const m = step.message;
      out.push(
        m.toolCalls !== undefined && m.toolCalls.length > 0
          ? { role: 'assistant', content: m.content, toolCalls: m.toolCalls }
          : { role: 'assistant', content: m.content },
      );
      for (const call of m.toolCalls ?? []) {
        const outcome = step.outcomes.get(call.id);
        if (outcome !== undefined)
          out.push({ role: 'tool', toolCallId: call.id, content: renderOutcome(outcome) });
      }
      if (step.repair !== undefined) out.push({ role: 'user', content: outputRepairMessage(step.repair) });
    }
    return out;
  }

  /** Applies one entry (when recording it, and when replaying a journal). */
  apply(entry: LoopEntry): void {
    switch (entry.kind) {
      case 'started':
        this.input = entry.input;
        this.config = { ...entry.config };
        break;
      case 'model':
        this.steps.push({ n: entry.step, message: entry.message, outcomes: new Map() });
        break;
      case 'tool':
        this.stepOf(entry.step)?.outcomes.set(entry.callId, entry.outcome);
        break;
      case 'approval': {
        const a: { state: ApprovalState; reason?: string } = { state: entry.state };
        if (entry.reason !== undefined) a.reason = entry.reason;
        this.approvals.set(entry.callId, a);
        break;
      }
      case 'config':
        this.applyConfig(entry.changes);
        break;
      case 'finished':
        this.state = 'finished';
        this.output = entry.output;
        break;
      case 'failed':
        this.state = 'failed';
        this.error = { code: entry.code, message: entry.message };
        break;
    }
  }

  stepOf(n: number): Step | undefined {
    for (let i = this.steps.length - 1; i >= 0; i--) if (this.steps[i]?.n === n) return this.steps[i];
    return undefined;
  }

  /** Calls of the last step waiting for `approve`. */
  awaiting(): ToolCall[] {
    return this.pendingCalls().filter((c) => this.approvals.get(c.id)?.state === 'requested');
  }

  status(): AgentRunStatus {
    const s: AgentRunStatus = {
      runId: this.runId,
      state: this.state,
      step: this.step,
      awaitingApproval: this.awaiting().map((c) => ({ callId: c.id, name: c.name, arguments: c.arguments })),
    };
    if (this.reason !== undefined) s.reason = this.reason;
    if (this.error !== undefined) s.error = this.error;
    return s;
  }

  /** Answers everyone waiting. */
  settle(): void {
    const waiters = this.waiters.splice(0);
    for (const w of waiters) {
      if (this.state === 'failed') w.fail(errorOf(this.error));
      else w.reply(this.output);
    }
  }
}

function errorOf(e: { code: string; message: string } | undefined): TroupeError {
  return new TroupeError(e?.code ?? 'AGENT_RUN_FAILED', e?.message ?? 'the run failed');
}
