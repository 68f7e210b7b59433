// The registry's own failures, with stable codes. A store outage surfaces as the store's KV_UNAVAILABLE.

import { TroupeError } from '../../runtime/index.js';

export const RegistryErrorCode = {
  /** A card (or stats) with a missing or out-of-range field. */
  InvalidCard: 'REGISTRY_INVALID_CARD',
  /** `update`/`remove` named an address with no card. */
  UnknownAgent: 'REGISTRY_UNKNOWN_AGENT',
  /** The store cannot do what was asked (`watch` on a store without it, `list` on one without keys or watch). */
  Unsupported: 'REGISTRY_UNSUPPORTED',
  /** The registry was closed. */
  Closed: 'REGISTRY_CLOSED',
  /** `update` lost the compare-and-set race too many times in a row. */
  Contended: 'REGISTRY_CONTENDED',
} as const;

export type RegistryErrorCode = (typeof RegistryErrorCode)[keyof typeof RegistryErrorCode];

export class RegistryError extends TroupeError {
  override readonly name = 'RegistryError';
  constructor(code: RegistryErrorCode, message: string, options: { cause?: unknown; data?: unknown } = {}) {
    super(code, message, options);
  }
}
