// Enrichment failures as TroupeErrors with stable codes: a data point whose tool failed keeps the tool's code.

import { TroupeError } from '../../runtime/index.js';

export const EnrichmentErrorCode = {
  /** A data point's tool call failed; `data.toolCode` is the tool outcome's code, `data.retryable` its advice. */
  FetchFailed: 'ENRICHMENT_FETCH_FAILED',
} as const;

export type EnrichmentErrorCode = (typeof EnrichmentErrorCode)[keyof typeof EnrichmentErrorCode];

export class EnrichmentError extends TroupeError {
  override readonly name = 'EnrichmentError';
  constructor(code: EnrichmentErrorCode, message: string, options: { cause?: unknown; data?: unknown } = {}) {
    super(code, message, options);
  }
}
