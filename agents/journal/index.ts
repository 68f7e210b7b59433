// The run journal: entries, content-addressed blobs, replay into a RunState, the open-runs index, compaction.

export type { BlobStats } from './blobs.js';
export { BlobStore, DEFAULT_BLOB_PREFIX } from './blobs.js';
export type {
  AssistantMessage,
  BlobRef,
  JournalEntry,
  JournalEntryKind,
  JournalToolOutcome,
  RunConfig,
} from './entries.js';
export { JournalError, JournalErrorCode } from './errors.js';
export type { JournalStats, RunJournalOptions } from './journal.js';
export { DEFAULT_BLOB_THRESHOLD_BYTES, isJournalUnavailable, RunJournal } from './journal.js';
export type {
  ApprovalDecision,
  JournalRunStatus,
  PendingToolCall,
  ReplayOptions,
  RunState,
} from './replay.js';
export { renderToolOutcome, replayEntries } from './replay.js';
export { addOpenRun, DEFAULT_RUN_INDEX_PREFIX, openRuns, removeOpenRun } from './run-index.js';
