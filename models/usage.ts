// Token usage in one shape, whatever the server reported: OpenAI's prompt/completion tokens with cached and
// reasoning details, and the spellings compatible servers and proxies use for cache hits.

/** Tokens of one call. `inputTokens` includes `cachedTokens`; `outputTokens` includes `reasoningTokens`. */
export interface Usage {
  inputTokens: number;
  outputTokens: number;
  /** Input tokens served from the provider's prompt cache (billed cheaper). */
  cachedTokens: number;
  /** Output tokens a reasoning model spent thinking. */
  reasoningTokens: number;
  totalTokens: number;
}

const count = (value: unknown): number | undefined =>
  typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;

/**
 * Normalises a `usage` object from a chat or embeddings answer; undefined when the server sent none (a stream
 * without `include_usage`, some local servers). Reads `prompt_tokens_details.cached_tokens` (OpenAI, Azure,
 * vLLM), `prompt_cache_hit_tokens` (DeepSeek) and `cache_read_input_tokens` (Anthropic through LiteLLM).
 */
export function normalizeUsage(raw: unknown): Usage | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const u = raw as Record<string, unknown>;
  const input = count(u.prompt_tokens) ?? count(u.input_tokens);
  const output = count(u.completion_tokens) ?? count(u.output_tokens) ?? 0;
  if (input === undefined) return undefined;
  const promptDetails = (u.prompt_tokens_details ?? u.input_tokens_details) as
    | Record<string, unknown>
    | undefined;
  const outputDetails = (u.completion_tokens_details ?? u.output_tokens_details) as
    | Record<string, unknown>
    | undefined;
  const cached =
    count(promptDetails?.cached_tokens) ??
    count(u.prompt_cache_hit_tokens) ??
    count(u.cache_read_input_tokens) ??
    0;
  return {
    inputTokens: input,
    outputTokens: output,
    cachedTokens: cached,
    reasoningTokens: count(outputDetails?.reasoning_tokens) ?? 0,
    totalTokens: count(u.total_tokens) ?? input + output,
  };
}

/** A zero usage, to sum into. */
export function emptyUsage(): Usage {
  return { inputTokens: 0, outputTokens: 0, cachedTokens: 0, reasoningTokens: 0, totalTokens: 0 };
}

/** The sum of two usages (either may be undefined: unknown counts as nothing). */
export function addUsage(a: Usage | undefined, b: Usage | undefined): Usage {
  const x = a ?? emptyUsage();
  const y = b ?? emptyUsage();
  return {
    inputTokens: x.inputTokens + y.inputTokens,
    outputTokens: x.outputTokens + y.outputTokens,
    cachedTokens: x.cachedTokens + y.cachedTokens,
    reasoningTokens: x.reasoningTokens + y.reasoningTokens,
    totalTokens: x.totalTokens + y.totalTokens,
  };
}
