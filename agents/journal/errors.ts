// Why a run journal cannot be read or written: coded, so the agent (and its supervisor) can tell a store
// outage (the log's or the key-value store's own codes pass through) from a damaged journal.

import { TroupeError } from '../../runtime/index.js';

/** Codes of {@link JournalError}. */
export const JournalErrorCode = {
  /** An entry refers to a blob that is not in the key-value store (lost, or another store was given). */
  BlobMissing: 'JOURNAL_BLOB_MISSING',
  /** A stored record is not a journal entry (not JSON, or an unknown kind). */
  Corrupt: 'JOURNAL_CORRUPT',
  /** `append` was given something that is not a journal entry. */
  InvalidEntry: 'JOURNAL_INVALID_ENTRY',
} as const;

export type JournalErrorCode = (typeof JournalErrorCode)[keyof typeof JournalErrorCode];

export class JournalError extends TroupeError {
  override readonly name = 'JournalError';
  constructor(code: JournalErrorCode, message: string, options: { cause?: unknown; data?: unknown } = {}) {
    super(code, message, options);
  }
}
