// An exact-match response cache over a KeyValueStore (off unless configured): the same group and the same
// request, byte for byte, answered from the store until its time to live runs out.

import { createHash } from 'node:crypto';
import type { KeyValueStore } from '../runtime/index.js';
import type { ChatRequest, ChatResult } from './provider.js';

export interface CacheOptions {
  store: KeyValueStore;
  /** How long an answer is served. @defaultValue 300000 */
  ttlMs?: number;
}

const PREFIX = 'troupe-model.cache.';

export class ResponseCache {
  readonly #store: KeyValueStore;
  readonly #ttlMs: number;

  constructor(options: CacheOptions) {
    this.#store = options.store;
    this.#ttlMs = options.ttlMs ?? 300_000;
  }

  keyOf(group: string, request: ChatRequest): string {
    return (
      PREFIX + createHash('sha256').update(group).update('\0').update(JSON.stringify(request)).digest('hex')
    );
  }

  /** The cached answer, or undefined (also when the store is unreachable: the cache never fails a call). */
  async get(key: string, now: number): Promise<ChatResult | undefined> {
    try {
      const entry = await this.#store.get(key);
      if (entry === undefined) return undefined;
      const { expiresAt, result } = JSON.parse(entry.value) as { expiresAt: number; result: ChatResult };
      return expiresAt > now ? result : undefined;
    } catch {
      return undefined;
    }
  }

  set(key: string, result: ChatResult, now: number): void {
    this.#store.put(key, JSON.stringify({ expiresAt: now + this.#ttlMs, result })).catch(() => {});
  }
}
