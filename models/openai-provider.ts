// The provider for every OpenAI-compatible server (OpenAI, Azure OpenAI, Anthropic's compatibility endpoint,
// Ollama, vLLM, a LiteLLM proxy): the `openai` client on the Chat Completions API only, one attempt per call.

import OpenAI from 'openai';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { InvalidOptionsError } from '../runtime/index.js';
import { CallDeadline } from './deadline.js';
import { ModelError, ModelErrorCode } from './errors.js';
import { type CallPhase, classifyOpenAIError } from './openai-errors.js';
import { fromCompletion, type MaxTokensField, StreamAccumulator, toParams } from './openai-mapping.js';
import type {
  CallOptions,
  ChatChunk,
  ChatRequest,
  ChatResult,
  EmbedOptions,
  EmbedResult,
  ModelProvider,
} from './provider.js';
import { normalizeUsage } from './usage.js';

/** The timeout of a call (of each chunk's wait, for streams) when neither the provider nor the call sets one. */
export const DEFAULT_MODEL_TIMEOUT_MS = 120_000;

export interface OpenAIProviderOptions {
  /** The server's base URL, up to and including `/v1` (Azure: `https://R.openai.azure.com/openai/v1`). */
  baseURL: string;
  /** The key itself. Prefer `apiKeyEnv` in configuration files. */
  apiKey?: string;
  /** The environment variable holding the key; read once, here, and required to be set. */
  apiKeyEnv?: string;
  /** Default model of `chat` and `stream`. */
  model?: string;
  /** Default model of `embed` (else `model`). */
  embeddingModel?: string;
  /** Headers sent with every call (Azure: `{ 'api-key': ... }`). */
  headers?: Record<string, string>;
  /** Query parameters sent with every call (Azure: `{ 'api-version': ... }`). */
  query?: Record<string, string>;
  /** @defaultValue {@link DEFAULT_MODEL_TIMEOUT_MS} */
  timeoutMs?: number;
  organization?: string;
  /** @defaultValue 'max_tokens' (what most compatible servers read; OpenAI's reasoning models want the other) */
  maxTokensField?: MaxTokensField;
  /** Ask streams for a final usage chunk (`stream_options.include_usage`). @defaultValue true */
  streamUsage?: boolean;
  /** How embeddings travel; some servers only do `float`. @defaultValue 'base64' */
  embeddingEncoding?: 'base64' | 'float';
  /** The provider family for telemetry (`gen_ai.provider.name`). @defaultValue 'openai' */
  system?: string;
}

function resolveKey(options: OpenAIProviderOptions): string {
  if (options.apiKey !== undefined) return options.apiKey;
  if (options.apiKeyEnv !== undefined) {
    const key = process.env[options.apiKeyEnv];
    if (key === undefined || key === '') {
      throw new InvalidOptionsError('apiKeyEnv', `environment variable ${options.apiKeyEnv} is not set`);
    }
    return key;
  }
  // Never fall back to OPENAI_API_KEY: that would send an OpenAI key to whatever baseURL this is.
  return 'no-key';
}

function decodeVector(embedding: unknown): number[] | undefined {
  if (Array.isArray(embedding)) return embedding as number[];
  if (typeof embedding !== 'string') return undefined;
  const bytes = Buffer.from(embedding, 'base64');
  // Copied into a fresh buffer: Buffer's pool offset need not be 4-aligned.
  return Array.from(new Float32Array(new Uint8Array(bytes).buffer));
}

class OpenAIProvider implements ModelProvider {
  readonly system: string;
  readonly baseURL: string;
  readonly model: string | undefined;
  readonly #client: OpenAI;
  readonly #options: OpenAIProviderOptions;
  readonly #timeoutMs: number;

  constructor(options: OpenAIProviderOptions) {
    if (!/^https?:\/\/[^/]/.test(options.baseURL ?? '')) {
      throw new InvalidOptionsError('baseURL', `expected an http(s) URL, got ${String(options.baseURL)}`);
    }
    if (options.timeoutMs !== undefined && !(options.timeoutMs > 0)) {
      throw new InvalidOptionsError('timeoutMs', `expected a positive number, got ${options.timeoutMs}`);
    }
    this.#options = options;
    this.system = options.system ?? 'openai';
    this.baseURL = options.baseURL;
    this.model = options.model;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_MODEL_TIMEOUT_MS;
    this.#client = new OpenAI({
      baseURL: options.baseURL,
      apiKey: resolveKey(options),
      // The router owns retries; the deadline here owns timeouts (the client's would cover the headers only).
      maxRetries: 0,
      timeout: this.#timeoutMs,
      ...(options.organization === undefined ? {} : { organization: options.organization }),
      ...(options.headers === undefined ? {} : { defaultHeaders: options.headers }),
      ...(options.query === undefined ? {} : { defaultQuery: options.query }),
      // Errors reach the caller as ModelErrors; the client's own console logging stays off unless asked for.
      ...(process.env.OPENAI_LOG === undefined ? { logLevel: 'off' as const } : {}),
    });
  }

  async chat(request: ChatRequest, options: CallOptions = {}): Promise<ChatResult> {
    const model = this.#modelOf(request);
    const deadline = new CallDeadline(options.signal, options.timeoutMs ?? this.#timeoutMs);
    try {
      const completion = await this.#client.chat.completions.create(
        toParams(request, model, this.#options.maxTokensField ?? 'max_tokens'),
        { signal: deadline.signal, ...(options.headers === undefined ? {} : { headers: options.headers }) },
      );
      return fromCompletion(request, completion);
    } catch (err) {
      throw classifyOpenAIError(err, { deadline, phase: 'request', model });
    } finally {
      deadline.dispose();
    }
  }

  stream(request: ChatRequest, options: CallOptions = {}): AsyncIterable<ChatChunk> {
    return this.#stream(request, options);
  }

  async *#stream(request: ChatRequest, options: CallOptions): AsyncGenerator<ChatChunk> {
    const model = this.#modelOf(request);
    const deadline = new CallDeadline(options.signal, options.timeoutMs ?? this.#timeoutMs);
    const accumulator = new StreamAccumulator(request);
    let phase: CallPhase = 'request';
    try {
      const params = toParams(request, model, this.#options.maxTokensField ?? 'max_tokens');
      const stream = await this.#client.chat.completions.create(
        {
          ...params,
          stream: true,
          ...(this.#options.streamUsage === false ? {} : { stream_options: { include_usage: true } }),
        },
        { signal: deadline.signal, ...(options.headers === undefined ? {} : { headers: options.headers }) },
      );
      phase = 'body';
      deadline.arm();
      for await (const chunk of stream as AsyncIterable<ChatCompletionChunk>) {
        const pieces = accumulator.push(chunk);
        // The caller's time with a chunk is not the server's: the timeout runs only while waiting for the next.
        deadline.pause();
        for (const piece of pieces) yield piece;
        deadline.arm();
      }
      // openai's stream ends quietly when its signal fires: a cut stream must not pass for a finished one.
      const cut = deadline.cutError();
      if (cut !== undefined) throw cut;
      if (!accumulator.finished) {
        throw new ModelError(ModelErrorCode.StreamBroken, 'the stream ended before the model finished', {
          model,
        });
      }
      const result = accumulator.result();
      deadline.pause();
      yield { type: 'done', result };
    } catch (err) {
      throw classifyOpenAIError(err, { deadline, phase, model });
    } finally {
      deadline.dispose();
    }
  }

  async embed(input: string | readonly string[], options: EmbedOptions = {}): Promise<EmbedResult> {
    const model = options.model ?? this.#options.embeddingModel ?? this.model;
    if (model === undefined)
      throw new ModelError(ModelErrorCode.BadRequest, 'embed: no model given or configured');
    const inputs = typeof input === 'string' ? [input] : [...input];
    const deadline = new CallDeadline(options.signal, options.timeoutMs ?? this.#timeoutMs);
    try {
      const response = await this.#client.embeddings.create(
        {
          model,
          input: inputs,
          encoding_format: this.#options.embeddingEncoding ?? 'base64',
          ...(options.dimensions === undefined ? {} : { dimensions: options.dimensions }),
        },
        { signal: deadline.signal, ...(options.headers === undefined ? {} : { headers: options.headers }) },
      );
      const vectors: number[][] = [];
      for (const item of response.data ?? []) {
        const vector = decodeVector(item.embedding);
        if (vector !== undefined && Number.isInteger(item.index)) vectors[item.index] = vector;
      }
      if (vectors.length !== inputs.length || vectors.some((v) => v === undefined)) {
        throw new ModelError(
          ModelErrorCode.MalformedResponse,
          `embeddings: ${inputs.length} inputs, ${response.data?.length ?? 0} vectors`,
          { model },
        );
      }
      return { vectors, model: response.model ?? model, usage: normalizeUsage(response.usage) };
    } catch (err) {
      throw classifyOpenAIError(err, { deadline, phase: 'request', model });
    } finally {
      deadline.dispose();
    }
  }

  #modelOf(request: ChatRequest): string {
    const model = request.model ?? this.model;
    if (model === undefined)
      throw new ModelError(ModelErrorCode.BadRequest, 'chat: no model given or configured');
    return model;
  }
}

/**
 * A provider for any OpenAI-compatible server, through the `openai` client's Chat Completions API (never the
 * Responses API, which compatible servers lack) with `maxRetries: 0`.
 *
 * @example
 * ```ts
 * const gpt = openaiProvider({ baseURL: 'https://api.openai.com/v1', apiKeyEnv: 'OPENAI_API_KEY', model: 'gpt-4.1-mini' });
 * const { text, usage } = await gpt.chat({ messages: [{ role: 'user', content: 'Hello' }] }, { timeoutMs: 30_000 });
 * ```
 */
export function openaiProvider(options: OpenAIProviderOptions): ModelProvider {
  return new OpenAIProvider(options);
}
