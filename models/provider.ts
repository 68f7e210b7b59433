// The contract every model adapter implements (the OpenAI-compatible one today, a native Anthropic one later),
// and the provider-neutral request, chunk and result types the router, budgets and agents speak.

import type { Usage } from './usage.js';

/** A JSON Schema object (tool parameters, structured output). Passed to the server as is. */
export type JsonSchema = Record<string, unknown>;

/** A part of a user message: text, or an image by URL (`data:` URLs included). */
export type ContentPart =
  | { type: 'text'; text: string }
  | { type: 'image'; url: string; detail?: 'auto' | 'low' | 'high' };

/** A tool call the model made; `arguments` is the model's JSON text, unparsed (it may be invalid). */
export interface ToolCall {
  id: string;
  name: string;
  arguments: string;
}

export type ChatMessage =
  | { role: 'system'; content: string }
  | { role: 'user'; content: string | readonly ContentPart[]; name?: string }
  | { role: 'assistant'; content: string | null; toolCalls?: readonly ToolCall[] }
  | { role: 'tool'; toolCallId: string; content: string };

/** A function the model may call. */
export interface ToolDefinition {
  name: string;
  description?: string;
  /** JSON Schema of the arguments object. */
  parameters: JsonSchema;
  /** Ask the provider to enforce the schema exactly (OpenAI strict mode). */
  strict?: boolean;
}

/** `auto` (default), `none`, `required` (some tool), or this tool. */
export type ToolChoice = 'auto' | 'none' | 'required' | { name: string };

/** Plain text, any JSON object, or JSON matching a schema (structured output). */
export type ResponseFormat =
  | { type: 'text' }
  | { type: 'json' }
  | { type: 'json_schema'; name: string; schema: JsonSchema; strict?: boolean; description?: string };

/** One chat call, provider-neutral. */
export interface ChatRequest {
  /** The model; default: the provider's `model`. */
  model?: string;
  messages: readonly ChatMessage[];
  tools?: readonly ToolDefinition[];
  toolChoice?: ToolChoice;
  parallelToolCalls?: boolean;
  responseFormat?: ResponseFormat;
  temperature?: number;
  topP?: number;
  maxTokens?: number;
  stop?: readonly string[];
  seed?: number;
  /** An end-user id, for the provider's abuse monitoring. */
  user?: string;
  /** Extra body fields sent as is (server-specific knobs such as vLLM's `top_k`). */
  extra?: Record<string, unknown>;
}

/**
 * Why the model stopped. A content filter is never a finish reason here: it is a `MODEL_CONTENT_FILTERED` error,
 * so a router can fall back on it like on any other failure.
 */
export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'other';

export interface ChatResult {
  /** The message text ('' when the model only called tools). */
  text: string;
  toolCalls: ToolCall[];
  finishReason: FinishReason;
  /** Undefined when the server reported none. */
  usage: Usage | undefined;
  /** The model as the server named it (may be more specific than the one asked for). */
  model: string;
  /** The provider's response id. */
  id: string;
  /** The parsed JSON, when `responseFormat` asked for JSON. */
  json?: unknown;
  /** The model declined (OpenAI structured outputs' `refusal`). */
  refusal?: string;
}

/**
 * What a stream yields: text and tool-call pieces as they arrive, then exactly one `done` with the whole result.
 * A stream that ends without `done` does not exist: it throws a `ModelError` instead (`MODEL_STREAM_BROKEN` when
 * the connection dropped midway).
 */
export type ChatChunk =
  | { type: 'text'; text: string }
  | { type: 'tool-call'; index: number; id?: string; name?: string; argumentsDelta: string }
  | { type: 'done'; result: ChatResult };

export interface CallOptions {
  /** Aborts the call: it rejects with `MODEL_ABORTED`. */
  signal?: AbortSignal;
  /**
   * For `chat` and `embed`: the whole call. For `stream`: the wait for each chunk (the first included), so a
   * long answer may stream as long as it keeps coming. Exceeded: `MODEL_TIMEOUT`. Default: the provider's.
   */
  timeoutMs?: number;
  /** Extra HTTP headers for this call (trace context, say). */
  headers?: Record<string, string>;
}

export interface EmbedOptions extends CallOptions {
  /** Default: the provider's `embeddingModel`, else its `model`. */
  model?: string;
  /** Shorter vectors, for models that support it. */
  dimensions?: number;
}

export interface EmbedResult {
  /** One vector per input, in input order. */
  vectors: number[][];
  model: string;
  usage: Usage | undefined;
}

/**
 * A model endpoint. Implementations make exactly one attempt per call (no retries: the router owns them),
 * reject only with `ModelError`, and never report a truncated answer as a success.
 */
export interface ModelProvider {
  /** The provider family, for the `gen_ai.provider.name` span attribute: `openai`, `anthropic`, ... */
  readonly system: string;
  /** Where calls go (no credentials in it). */
  readonly baseURL: string;
  /** The default model, if configured. */
  readonly model: string | undefined;
  chat(request: ChatRequest, options?: CallOptions): Promise<ChatResult>;
  /** Starts the call on the first `next()`; breaking out of the loop cancels it. */
  stream(request: ChatRequest, options?: CallOptions): AsyncIterable<ChatChunk>;
  embed(input: string | readonly string[], options?: EmbedOptions): Promise<EmbedResult>;
}
