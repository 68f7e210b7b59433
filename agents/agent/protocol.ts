// The messages an agent actor takes and the events it streams to subscribers.

import type { ChatMessage, ToolCall } from '../../models/index.js';
import type { Reply } from '../../runtime/index.js';

/** What `configure` may change; applies from the run's next step (and is journaled there). */
export interface AgentConfigChange {
  model?: string;
  temperature?: number;
  instructions?: string;
}

/** Where a run is. */
export type AgentRunState = 'running' | 'awaiting-approval' | 'finished' | 'failed';

/** Why a run ended with an answer. */
export type AgentFinishReason = 'answer' | 'tool' | 'max-steps' | 'deadline' | 'handoff';

export interface AgentRunStatus {
  runId: string;
  state: AgentRunState;
  /** Model calls made so far. */
  step: number;
  /** Tool calls waiting for `approve`. */
  awaitingApproval: { callId: string; name: string; arguments: string }[];
  reason?: AgentFinishReason;
  error?: { code: string; message: string };
}

export interface AgentStatus {
  agent: string;
  config: { model: string; instructions: string; temperature?: number };
  runs: AgentRunStatus[];
}

export interface ApprovalAck {
  runId: string;
  callId: string;
  state: 'approved' | 'rejected';
}

/**
 * The agent's protocol. `run` answers with the final answer (text, or the parsed `output`); `$step` is the
 * message the agent tells itself for each step of a run (never send it yourself).
 */
export type AgentProtocol = {
  /**
   * `session`: the episodic-memory session its turns join (default: the run id). `fresh`: the caller minted
   * `runId` just now (a random id, as the gateway does when the client names none) and asks once, so no journal
   * can hold it and none is read (only this actor's live runs are checked). Never set it for an id a client
   * chose, or one asked again to resume.
   */
  run: {
    input: string | ChatMessage[];
    runId?: string;
    tenant?: string;
    session?: string;
    fresh?: boolean;
  } & Reply<unknown>;
  subscribe: { to: string; runId?: string };
  unsubscribe: { to: string };
  configure: AgentConfigChange & Reply<AgentStatus['config']>;
  approve: {
    runId: string;
    callId: string;
    approved: boolean;
    by?: string;
    reason?: string;
  } & Reply<ApprovalAck>;
  status: Reply<AgentStatus>;
  $step: { runId: string };
};

/** What a subscriber receives: one message of type `agentEvent` per token and per step event. */
export type AgentEvent =
  | { kind: 'started'; runId: string; resumed: boolean }
  | { kind: 'token'; runId: string; step: number; text: string }
  | { kind: 'step'; runId: string; step: number; text: string; toolCalls: ToolCall[] }
  | { kind: 'tool'; runId: string; step: number; callId: string; name: string; ok: boolean; code?: string }
  | { kind: 'approval'; runId: string; step: number; callId: string; name: string; arguments: string }
  | { kind: 'config'; runId: string; step: number; changes: AgentConfigChange }
  | { kind: 'finished'; runId: string; output: unknown; reason: AgentFinishReason }
  | { kind: 'failed'; runId: string; code: string; message: string };

/** The message told to a subscriber's address. */
export type AgentEventMessage = { type: 'agentEvent'; agent: string } & AgentEvent;
