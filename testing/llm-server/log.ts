// The offline model server's books: one record per request, and the tokens billed per model, so a test can
// assert exactly how many calls a router made and what they cost.

import type { LlmFaultType } from './faults.js';

/**
 * The token estimate the server uses for usage and billing: a quarter of the characters, rounded up (0 for '').
 * Exported so tests can compute what a call is billed.
 */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

export type LlmEndpoint = 'chat' | 'embeddings' | 'models' | 'other';

/** One request as the server saw it. Fields after `status` are filled in while it is answered. */
export interface LlmRequestRecord {
  /** 1-based order of arrival. */
  readonly seq: number;
  readonly at: number;
  readonly method: string;
  readonly path: string;
  readonly endpoint: LlmEndpoint;
  /** The request body's `model` (undefined when the body had none or was not JSON). */
  readonly model: string | undefined;
  readonly stream: boolean;
  /** The request headers (lower-case names), to check what a client sent: keys, trace context. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The parsed JSON body (undefined when it did not parse). */
  readonly body: unknown;
  /** The HTTP status sent; undefined while pending, for a hang, or when the body never started. */
  status: number | undefined;
  /** The fault injected into this request, if any. */
  fault: LlmFaultType | undefined;
  /** Tokens billed for this request (0 when it was not billed). */
  inputTokens: number;
  outputTokens: number;
  cachedTokens: number;
}

export interface BilledTokens {
  calls: number;
  inputTokens: number;
  outputTokens: number;
  cachedTokens: number;
}

/** Billing so far: the total and per model. A snapshot: later calls do not change it. */
export interface LlmBilled {
  total: BilledTokens;
  byModel: Record<string, BilledTokens>;
}

const zero = (): BilledTokens => ({ calls: 0, inputTokens: 0, outputTokens: 0, cachedTokens: 0 });

export class RequestLog {
  readonly records: LlmRequestRecord[] = [];
  #seq = 0;
  #byModel = new Map<string, BilledTokens>();
  #total = zero();

  open(
    init: Pick<LlmRequestRecord, 'method' | 'path' | 'endpoint' | 'model' | 'stream' | 'headers' | 'body'>,
  ): LlmRequestRecord {
    const record: LlmRequestRecord = {
      seq: ++this.#seq,
      at: Date.now(),
      ...init,
      status: undefined,
      fault: undefined,
      inputTokens: 0,
      outputTokens: 0,
      cachedTokens: 0,
    };
    this.records.push(record);
    return record;
  }

  /** Bills a call that produced a reply (a real provider bills a dropped stream too). */
  bill(record: LlmRequestRecord, inputTokens: number, outputTokens: number, cachedTokens: number): void {
    record.inputTokens = inputTokens;
    record.outputTokens = outputTokens;
    record.cachedTokens = cachedTokens;
    const model = record.model ?? '(none)';
    const perModel = this.#byModel.get(model) ?? zero();
    for (const b of [perModel, this.#total]) {
      b.calls += 1;
      b.inputTokens += inputTokens;
      b.outputTokens += outputTokens;
      b.cachedTokens += cachedTokens;
    }
    this.#byModel.set(model, perModel);
  }

  billed(): LlmBilled {
    const byModel: Record<string, BilledTokens> = {};
    for (const [model, b] of this.#byModel) byModel[model] = { ...b };
    return { total: { ...this.#total }, byModel };
  }

  reset(): void {
    this.records.length = 0;
    this.#seq = 0;
    this.#byModel.clear();
    this.#total = zero();
  }
}
