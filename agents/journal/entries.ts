// The entries of a run journal: one per effect (a model answer, a tool result, an approval, a config change),
// each holding only its delta, so a journal grows linearly with the conversation. Large fields are stored as
// content-addressed blobs (see blobs.ts); readers of RunJournal.entries() always see them resolved.

import type { ChatMessage, ToolCall, Usage } from '../../models/index.js';
import { JournalError, JournalErrorCode } from './errors.js';

/** A field stored in the blob store: its sha256 (hex) and size in UTF-8 bytes of its JSON. */
export interface BlobRef {
  readonly blob: string;
  readonly bytes: number;
}

/** A run's model config: journaled in `started`, changed by `config` entries from the next step on. */
export interface RunConfig {
  model: string;
  instructions: string;
  temperature?: number;
}

/** An assistant message as the journal keeps it (the model's answer of one step). */
export interface AssistantMessage {
  role: 'assistant';
  content: string | null;
  toolCalls?: readonly ToolCall[];
}

/** A tool call's outcome (agents/tools' ToolOutcome, structurally). */
export type JournalToolOutcome =
  | { ok: true; value: unknown; durationMs: number; cost?: number }
  | {
      ok: false;
      code: string;
      message: string;
      retryable: boolean;
      durationMs: number;
      retryAfterMs?: number;
    };

/** One journaled effect of a run, with its content resolved. */
export type JournalEntry =
  | { kind: 'started'; runId: string; agent: string; input: string | ChatMessage[]; config: RunConfig }
  /** Appended BEFORE the message's tool calls run. */
  | { kind: 'model'; step: number; message: AssistantMessage; usage?: Usage; model?: string }
  /** Appended BEFORE the result goes back to the model. */
  | { kind: 'tool'; step: number; callId: string; name: string; outcome: JournalToolOutcome }
  | {
      kind: 'approval';
      step: number;
      callId: string;
      state: 'requested' | 'approved' | 'rejected';
      by?: string;
      reason?: string;
    }
  | { kind: 'config'; step: number; changes: Partial<RunConfig> }
  | { kind: 'finished'; output: unknown }
  | { kind: 'failed'; code: string; message: string };

export type JournalEntryKind = JournalEntry['kind'];

/**
 * The record a compaction appends: the entries up to `upToSeq`, in their stored form, as blobs of at most
 * {@link SNAPSHOT_CHUNK} entries each. Chunks are content-addressed, so a later compaction rewrites only the
 * chunk that changed. Readers never see it: RunJournal expands it back into the entries it covers.
 */
export interface SnapshotRecord {
  kind: 'snapshot';
  upToSeq: number;
  count: number;
  chunks: BlobRef[];
}

/** Entries per snapshot chunk. */
export const SNAPSHOT_CHUNK = 256;

/** The fields of each kind that go to the blob store when large. */
export const HEAVY_FIELDS: Readonly<Record<JournalEntryKind, readonly string[]>> = {
  started: ['input', 'config'],
  model: ['message'],
  tool: ['outcome'],
  approval: [],
  config: ['changes'],
  finished: ['output'],
  failed: [],
};

/** Marks the fields of a stored record that hold a {@link BlobRef} instead of their value. */
export const BLOB_FIELDS = '$b';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const isStep = (v: unknown) => Number.isInteger(v) && (v as number) >= 0;
const isText = (v: unknown) => typeof v === 'string';

/** Throws `JOURNAL_INVALID_ENTRY` unless `entry` has a known kind and the fields replay relies on. */
export function assertEntry(entry: unknown): asserts entry is JournalEntry {
  const bad = (why: string): never => {
    throw new JournalError(JournalErrorCode.InvalidEntry, `not a journal entry: ${why}`);
  };
  if (!isObject(entry)) return bad('expected an object');
  switch (entry.kind) {
    case 'started':
      if (!isText(entry.runId) || !isText(entry.agent)) bad('started needs runId and agent');
      if (!isText(entry.input) && !Array.isArray(entry.input)) bad('started.input: text or messages');
      if (!isObject(entry.config) || !isText(entry.config.model) || !isText(entry.config.instructions))
        bad('started.config needs model and instructions');
      return;
    case 'model':
      if (!isStep(entry.step)) bad('model.step: a non-negative integer');
      if (!isObject(entry.message) || entry.message.role !== 'assistant')
        bad('model.message: an assistant message');
      return;
    case 'tool':
      if (!isStep(entry.step) || !isText(entry.callId) || !isText(entry.name))
        bad('tool needs step, callId, name');
      if (!isObject(entry.outcome) || typeof entry.outcome.ok !== 'boolean')
        bad('tool.outcome: a tool outcome');
      return;
    case 'approval':
      if (!isStep(entry.step) || !isText(entry.callId)) bad('approval needs step and callId');
      if (!['requested', 'approved', 'rejected'].includes(entry.state as string)) bad('approval.state');
      return;
    case 'config':
      if (!isStep(entry.step) || !isObject(entry.changes)) bad('config needs step and changes');
      return;
    case 'finished':
      if (!('output' in entry)) bad('finished needs output');
      return;
    case 'failed':
      if (!isText(entry.code) || !isText(entry.message)) bad('failed needs code and message');
      return;
    default:
      bad(`unknown kind ${JSON.stringify(entry.kind)}`);
  }
}
