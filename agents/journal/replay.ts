// A run's state from its journal entries: the conversation to send next, the step reached, the tool calls still
// without a result, the approvals still awaited, and how it ended. Pure and deterministic: replaying the same
// entries (before or after a compaction, on any node) gives the same state and byte-identical messages.

import type { ChatMessage, Usage } from '../../models/index.js';
import { addUsage } from '../../models/index.js';
import type { AssistantMessage, JournalEntry, JournalToolOutcome, RunConfig } from './entries.js';

/** A tool call the model made that has no journaled result yet. */
export interface PendingToolCall {
  step: number;
  callId: string;
  name: string;
  arguments: string;
}

/** A decided approval (the tool may still be waiting to run). */
export interface ApprovalDecision {
  state: 'approved' | 'rejected';
  by?: string;
  reason?: string;
}

export type JournalRunStatus = 'new' | 'running' | 'awaiting-approval' | 'finished' | 'failed';

export interface RunState {
  runId: string;
  agent: string | undefined;
  input: string | ChatMessage[] | undefined;
  /** The config as of the last entry (`started`'s, with every `config` change applied). */
  config: RunConfig | undefined;
  /** The conversation without the system message: the input, then each assistant message and its tool results. */
  messages: ChatMessage[];
  /** The step of the last `model` entry; -1 before the first. */
  step: number;
  /** Model answers journaled (each a call that must not be made again). */
  modelCalls: number;
  /** Tokens of the journaled model calls. */
  usage: Usage | undefined;
  /** Tool calls of journaled model answers that have no result yet, in call order. */
  pendingToolCalls: PendingToolCall[];
  /** Pending calls with an approval requested and not yet decided. */
  awaitingApproval: PendingToolCall[];
  /** Decisions by call id. */
  approvals: Record<string, ApprovalDecision>;
  status: JournalRunStatus;
  /** The `finished` entry's output. */
  output?: unknown;
  /** The `failed` entry's error. */
  error?: { code: string; message: string };
}

export interface ReplayOptions {
  /** The tool message text for an outcome. @defaultValue the value (JSON unless a string), or `{ error: { code, message } }` */
  renderOutcome?: (outcome: JournalToolOutcome) => string;
}

/** The default tool message text: the value as is (a string) or as JSON, or `{"error":{"code","message"}}`. */
export function renderToolOutcome(outcome: JournalToolOutcome): string {
  if (outcome.ok) {
    const v = outcome.value;
    if (typeof v === 'string') return v;
    return v === undefined ? 'null' : JSON.stringify(v);
  }
  return JSON.stringify({ error: { code: outcome.code, message: outcome.message } });
}

/** One model answer and the results of its calls (kept apart so results land in call order, whatever order they finished in). */
interface Turn {
  step: number;
  message: AssistantMessage;
  results: Map<string, string>;
}

/** The state of run `runId` after `entries`, in order. */
export function replayEntries(
  runId: string,
  entries: readonly JournalEntry[],
  options: ReplayOptions = {},
): RunState {
  const render = options.renderOutcome ?? renderToolOutcome;
  const state: RunState = {
    runId,
    agent: undefined,
    input: undefined,
    config: undefined,
    messages: [],
    step: -1,
    modelCalls: 0,
    usage: undefined,
    pendingToolCalls: [],
    awaitingApproval: [],
    approvals: {},
    status: 'new',
  };
  const turns: Turn[] = [];
  const turnOf = new Map<string, Turn>();
  const requested = new Set<string>();
  let inputMessages: ChatMessage[] = [];
  let ended = false;
  for (const entry of entries) {
    switch (entry.kind) {
      case 'started':
        if (state.agent !== undefined) break;
        state.agent = entry.agent;
        state.input = entry.input;
        state.config = { ...entry.config };
        inputMessages =
          typeof entry.input === 'string' ? [{ role: 'user', content: entry.input }] : [...entry.input];
        if (!ended) state.status = 'running';
        break;
      case 'model': {
        const turn: Turn = { step: entry.step, message: entry.message, results: new Map() };
        turns.push(turn);
        for (const call of entry.message.toolCalls ?? []) turnOf.set(call.id, turn);
        state.step = Math.max(state.step, entry.step);
        state.modelCalls++;
        if (entry.usage !== undefined) state.usage = addUsage(state.usage, entry.usage);
        break;
      }
      case 'tool': {
        const turn = turnOf.get(entry.callId);
        if (turn !== undefined && !turn.results.has(entry.callId))
          turn.results.set(entry.callId, render(entry.outcome));
        break;
      }
      case 'approval':
        if (entry.state === 'requested') requested.add(entry.callId);
        else if (state.approvals[entry.callId] === undefined)
          state.approvals[entry.callId] = {
            state: entry.state,
            ...(entry.by === undefined ? {} : { by: entry.by }),
            ...(entry.reason === undefined ? {} : { reason: entry.reason }),
          };
        break;
      case 'config':
        if (state.config !== undefined) state.config = { ...state.config, ...entry.changes };
        break;
      case 'finished':
        if (ended) break;
        ended = true;
        state.status = 'finished';
        state.output = entry.output;
        break;
      case 'failed':
        if (ended) break;
        ended = true;
        state.status = 'failed';
        state.error = { code: entry.code, message: entry.message };
        break;
    }
  }
  state.messages = inputMessages;
  for (const turn of turns) {
    state.messages.push(turn.message as ChatMessage);
    for (const call of turn.message.toolCalls ?? []) {
      const content = turn.results.get(call.id);
      if (content !== undefined) state.messages.push({ role: 'tool', toolCallId: call.id, content });
      else {
        const pending = { step: turn.step, callId: call.id, name: call.name, arguments: call.arguments };
        state.pendingToolCalls.push(pending);
        if (requested.has(call.id) && state.approvals[call.id] === undefined)
          state.awaitingApproval.push(pending);
      }
    }
  }
  if (!ended && state.awaitingApproval.length > 0) state.status = 'awaiting-approval';
  return state;
}
