// What a call will cost before it is made: tokens estimated from the request (a quarter of the characters,
// plus the output allowance), priced with the deployment's prices. Budgets reserve this, then settle the truth.

import type { ChatMessage, ChatRequest } from './provider.js';
import type { Usage } from './usage.js';

/** Output tokens assumed for a request without `maxTokens`. */
export const DEFAULT_OUTPUT_ESTIMATE = 256;

/** Prices per 1000 tokens, in whatever currency the limits use. */
export interface Pricing {
  inputPricePer1k?: number | undefined;
  outputPricePer1k?: number | undefined;
}

/** Tokens and cost of one call (estimated or real). */
export interface CallCost {
  inputTokens: number;
  outputTokens: number;
  cost: number;
}

const tokensOf = (text: string): number => Math.ceil(text.length / 4);

function messageTokens(m: ChatMessage): number {
  let tokens = 0;
  if (typeof m.content === 'string') tokens += tokensOf(m.content);
  else if (Array.isArray(m.content))
    for (const part of m.content) tokens += part.type === 'text' ? tokensOf(part.text) : 85;
  if (m.role === 'assistant' && m.toolCalls !== undefined)
    for (const call of m.toolCalls)
      tokens += tokensOf(JSON.stringify({ name: call.name, arguments: call.arguments }));
  return tokens;
}

/** The input tokens of a request: each message's characters / 4 (rounded up), tools' schemas included. */
export function estimateInputTokens(request: ChatRequest): number {
  let tokens = 0;
  for (const m of request.messages) tokens += messageTokens(m);
  if (request.tools !== undefined) tokens += tokensOf(JSON.stringify(request.tools));
  return tokens;
}

export function priceOf(pricing: Pricing, inputTokens: number, outputTokens: number): number {
  return (
    (inputTokens * (pricing.inputPricePer1k ?? 0) + outputTokens * (pricing.outputPricePer1k ?? 0)) / 1000
  );
}

/** The estimate a budget reserves for `request` on a deployment priced `pricing`. */
export function estimateCall(
  request: ChatRequest,
  pricing: Pricing,
  defaultOutput = DEFAULT_OUTPUT_ESTIMATE,
): CallCost {
  const inputTokens = estimateInputTokens(request);
  const outputTokens = request.maxTokens ?? defaultOutput;
  return { inputTokens, outputTokens, cost: priceOf(pricing, inputTokens, outputTokens) };
}

/** The real cost of a call from its usage (cached input billed like the rest: prices per deployment are flat). */
export function actualCost(pricing: Pricing, usage: Usage | undefined): CallCost {
  const inputTokens = usage?.inputTokens ?? 0;
  const outputTokens = usage?.outputTokens ?? 0;
  return { inputTokens, outputTokens, cost: priceOf(pricing, inputTokens, outputTokens) };
}
