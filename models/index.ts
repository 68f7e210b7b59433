// Language models for troupe: the provider contract, the OpenAI-compatible provider, errors and usage. The only
// folder that imports the `openai` package.

export type { BreakerOptions, CircuitState } from './breaker.js';
export type {
  BudgetKeys,
  BudgetLedger,
  BudgetLedgerOptions,
  BudgetLimit,
  BudgetUsage,
  BudgetWindow,
  Reservation,
} from './budget.js';
export { budgetLedger } from './budget.js';
export type { CacheOptions } from './cache.js';
export type { DeploymentConfig } from './deployment.js';
export type { HeaderSource, ModelErrorDetails } from './errors.js';
export {
  classifyHttpError,
  isRetryableModelError,
  ModelError,
  ModelErrorCode,
  retryAfterMsFrom,
} from './errors.js';
export type { CallCost, Pricing } from './estimate.js';
export { DEFAULT_OUTPUT_ESTIMATE, estimateCall, estimateInputTokens } from './estimate.js';
export type { MaxTokensField } from './openai-mapping.js';
export type { OpenAIProviderOptions } from './openai-provider.js';
export { DEFAULT_MODEL_TIMEOUT_MS, openaiProvider } from './openai-provider.js';
export type {
  CallOptions,
  ChatChunk,
  ChatMessage,
  ChatRequest,
  ChatResult,
  ContentPart,
  EmbedOptions,
  EmbedResult,
  FinishReason,
  JsonSchema,
  ModelProvider,
  ResponseFormat,
  ToolCall,
  ToolChoice,
  ToolDefinition,
} from './provider.js';
export type { RetryOptions } from './retry.js';
export { backoffMs } from './retry.js';
export type { ModelGroupConfig, ModelRouter, ModelRouterOptions, RouterCallOptions } from './router.js';
export { modelRouter } from './router.js';
export type { BudgetScope, UnavailableReason } from './router-errors.js';
export { BudgetExceededError, ModelUnavailableError, RouterErrorCode } from './router-errors.js';
export type { RoutingStrategy } from './strategies.js';
export type {
  ModelCallInfo,
  ModelCallObserver,
  ModelCallOutcome,
  ModelOperation,
  ModelTelemetry,
} from './telemetry.js';
export { genAiAttributes, traceIdOf } from './telemetry.js';
export type { Usage } from './usage.js';
export { addUsage, emptyUsage, normalizeUsage } from './usage.js';
