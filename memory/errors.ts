// Why a memory operation failed: coded, so an agent can tell a store outage (retry later) from a mismatch between
// the write and read paths (a configuration error that must never look like an empty result).

import { TroupeError } from '../runtime/index.js';

/** Codes of {@link MemoryError}. */
export const MemoryErrorCode = {
  /** Vectors of another dimension than the collection's: the embedder changed under an existing collection. */
  DimensionMismatch: 'MEMORY_DIMENSION_MISMATCH',
  /** The store (Redis, Chroma, NATS KV, PostgreSQL) did not answer or is not reachable; the operation may not have happened. */
  Unavailable: 'MEMORY_UNAVAILABLE',
  /** Arguments or stored data that are not what memory expects. */
  Invalid: 'MEMORY_INVALID',
  /** A named thing (a procedure, a version, a collection) that does not exist. */
  NotFound: 'MEMORY_NOT_FOUND',
} as const;

export type MemoryErrorCode = (typeof MemoryErrorCode)[keyof typeof MemoryErrorCode];

export class MemoryError extends TroupeError {
  override readonly name = 'MemoryError';
  constructor(code: MemoryErrorCode, message: string, options: { cause?: unknown; data?: unknown } = {}) {
    super(code, message, options);
  }
}
