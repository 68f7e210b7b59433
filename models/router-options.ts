// The router's configuration and its public contract: groups of deployments, retries, breakers, shared state,
// budgets, cache and telemetry; and what each call may say (deadline, signal, whose budget).

import type { Clock, KeyValueStore, Logger } from '../runtime/index.js';
import type { BreakerOptions } from './breaker.js';
import type { BudgetKeys, BudgetLedger } from './budget.js';
import type { CacheOptions } from './cache.js';
import type { DeploymentConfig } from './deployment.js';
import type { ChatChunk, ChatRequest, ChatResult, EmbedResult } from './provider.js';
import type { RetryOptions } from './retry.js';
import type { RoutingStrategy } from './strategies.js';
import type { ModelTelemetry } from './telemetry.js';

export interface ModelGroupConfig {
  deployments: DeploymentConfig[];
  /** @defaultValue 'weighted' */
  strategy?: RoutingStrategy;
  /** Groups tried in order when this one fails with a retryable error (after its retries) or is unavailable. */
  fallbacks?: string[];
  /** Groups tried on `MODEL_CONTEXT_LENGTH` (larger models), in order. */
  contextFallbacks?: string[];
  /** Groups tried on `MODEL_CONTENT_FILTERED`, in order. */
  contentFallbacks?: string[];
}

export interface ModelRouterOptions {
  groups: Record<string, ModelGroupConfig>;
  retries?: RetryOptions;
  breaker?: BreakerOptions;
  /** Shares breakers and cooldowns with every router on the same store (natsKeyValue() for a fleet). */
  shared?: KeyValueStore;
  /** Reserve and settle every call's tokens and cost (calls name whose budget with `budget: { agent, ... }`). */
  budget?: BudgetLedger;
  /** An exact-match response cache for `chat` (off when absent). */
  cache?: CacheOptions;
  clock?: Clock;
  /** Retries (warn), fallbacks and breaker changes (info/warn). @defaultValue TROUPE_LOG_LEVEL or warn */
  logger?: Logger;
  /** A span per call (see {@link ModelTelemetry}). */
  telemetry?: ModelTelemetry;
  /** The timeout of one attempt (the call's `timeoutMs` bounds them all). @defaultValue the provider's */
  attemptTimeoutMs?: number;
  /** Names this router in the shared state. @defaultValue a random id */
  id?: string;
}

export interface RouterCallOptions {
  signal?: AbortSignal;
  /** `chat`/`embed`: the whole call, retries and fallbacks included. `stream`: the wait for each chunk. */
  timeoutMs?: number;
  /** Whose budgets the call spends. */
  budget?: BudgetKeys;
  /** Extra HTTP headers (a `traceparent` from the telemetry hook is added). */
  headers?: Record<string, string>;
}

export interface ModelRouter {
  chat(group: string, request: ChatRequest, options?: RouterCallOptions): Promise<ChatResult>;
  /** Fails over only before the first chunk; a stream cut after it fails with `MODEL_STREAM_BROKEN`. */
  stream(group: string, request: ChatRequest, options?: RouterCallOptions): AsyncIterable<ChatChunk>;
  embed(
    group: string,
    input: string | readonly string[],
    options?: RouterCallOptions & { dimensions?: number },
  ): Promise<EmbedResult>;
  /** The circuit state of every deployment, for health endpoints and tests. */
  health(): Record<
    string,
    { group: string; state: string; until: number; cooldownUntil: number; inflight: number }
  >;
  close(): Promise<void>;
}
