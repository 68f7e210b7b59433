// The LLM target: an OpenAI-compatible endpoint through the models layer, streamed, so time to first token,
// decode speed, tokens and cost are recorded with every call.

import {
  type ChatMessage,
  type ChatRequest,
  estimateInputTokens,
  ModelErrorCode,
  type ModelProvider,
  openaiProvider,
  type Usage,
} from '../../models/index.js';
import { InvalidOptionsError, TroupeError } from '../../runtime/index.js';
import { assertOptionsObject, intOption } from '../../runtime/internal.js';
import type { Recorder } from '../metrics/recorder.js';
import { StopSignal, stopped, targetFailure } from './failure.js';
import { assertAllowedHost } from './loopback.js';
import type { OpenedTarget, TargetContext, TargetFactory } from './target.js';

/** Options of {@link llm}. */
export interface LlmTargetOptions {
  /** The server's base URL, up to and including `/v1`. */
  baseURL: string;
  model: string;
  /** The key itself; prefer `apiKeyEnv`, read on each node. */
  apiKey?: string;
  /** The environment variable holding the key (on the node that opens the target). */
  apiKeyEnv?: string;
  /** Longest wait for each streamed chunk (the first included), in ms. @defaultValue 60000 */
  timeoutMs?: number;
  /** US dollars per million tokens: with it, each call adds its cost to `cost_micro_usd`. */
  pricing?: { inputPerMTok: number; outputPerMTok: number };
}

/** Options of one chat call. */
export interface LlmChatOptions {
  maxTokens?: number;
  temperature?: number;
  /** Aborts this call (unrecorded, like the run's stop). */
  signal?: AbortSignal;
}

export interface LlmChatResult {
  text: string;
  /** As the server reported it; estimated (input from the prompt, output one per text chunk) when it sent none. */
  usage: { inputTokens: number; outputTokens: number };
  /** Time to the first streamed piece, ms. */
  ttftMs: number;
  /** The whole call, ms. */
  ms: number;
}

/**
 * What a scenario gets. Each call streams; it records the request latency under the target's name, `ttft`,
 * `tokens_per_s` (output tokens after the first over the time after the first), `tokens_in`, `tokens_out`
 * and, with `pricing`, `cost_micro_usd`. A failure is recorded under its kind (`timeout`, `connect`, `reset`,
 * else the model error's code lower-cased, e.g. `model_rate_limited`) and rejects with `LOAD_TIMEOUT` /
 * `LOAD_TARGET_FAILED`.
 */
export interface LlmClient {
  chat(prompt: string | readonly ChatMessage[], options?: LlmChatOptions): Promise<LlmChatResult>;
}

interface ResolvedLlmOptions {
  baseURL: string;
  model: string;
  apiKey: string | undefined;
  apiKeyEnv: string | undefined;
  timeoutMs: number;
  inputPerMTok: number;
  outputPerMTok: number;
  priced: boolean;
}

function price(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
    throw new InvalidOptionsError(field, 'expected a non-negative number (US dollars per million tokens)');
  return value;
}

function optionalString(value: unknown, field: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '')
    throw new InvalidOptionsError(field, 'expected a non-empty string');
  return value;
}

function resolveLlmOptions(options: LlmTargetOptions): ResolvedLlmOptions {
  assertOptionsObject(options, 'options');
  if (options === undefined) throw new InvalidOptionsError('options', 'expected { baseURL, model }');
  if (typeof options.baseURL !== 'string' || !/^https?:\/\/[^/]/.test(options.baseURL))
    throw new InvalidOptionsError('baseURL', `expected an http(s) URL, got ${String(options.baseURL)}`);
  const model = optionalString(options.model, 'model');
  if (model === undefined) throw new InvalidOptionsError('model', 'expected a model name');
  assertOptionsObject(options.pricing, 'pricing');
  return {
    baseURL: options.baseURL,
    model,
    apiKey: optionalString(options.apiKey, 'apiKey'),
    apiKeyEnv: optionalString(options.apiKeyEnv, 'apiKeyEnv'),
    timeoutMs: intOption(options.timeoutMs, 'timeoutMs', 60_000, 1),
    inputPerMTok:
      options.pricing === undefined ? 0 : price(options.pricing.inputPerMTok, 'pricing.inputPerMTok'),
    outputPerMTok:
      options.pricing === undefined ? 0 : price(options.pricing.outputPerMTok, 'pricing.outputPerMTok'),
    priced: options.pricing !== undefined,
  };
}

function failureKind(err: unknown): string {
  if (!TroupeError.is(err)) return 'reset';
  switch (err.code) {
    case ModelErrorCode.Timeout:
      return 'timeout';
    case ModelErrorCode.Unreachable:
      return 'connect';
    case ModelErrorCode.StreamBroken:
      return 'reset';
    default:
      return err.code.toLowerCase();
  }
}

class LlmTargetClient implements LlmClient, OpenedTarget<LlmClient> {
  readonly client: LlmClient = this;
  readonly #provider: ModelProvider;
  readonly #options: ResolvedLlmOptions;
  readonly #name: string;
  readonly #recorder: Recorder;
  readonly #stop: StopSignal;

  constructor(provider: ModelProvider, options: ResolvedLlmOptions, context: TargetContext) {
    this.#provider = provider;
    this.#options = options;
    this.#name = context.name;
    this.#recorder = context.recorder;
    this.#stop = new StopSignal(context.signal);
  }

  async chat(prompt: string | readonly ChatMessage[], options?: LlmChatOptions): Promise<LlmChatResult> {
    const signal = this.#stop.with(options?.signal);
    if (signal.aborted) throw stopped(this.#name);
    const messages: readonly ChatMessage[] =
      typeof prompt === 'string' ? [{ role: 'user', content: prompt }] : prompt;
    const request: ChatRequest = {
      messages,
      ...(options?.maxTokens === undefined ? {} : { maxTokens: options.maxTokens }),
      ...(options?.temperature === undefined ? {} : { temperature: options.temperature }),
    };
    const started = performance.now();
    let firstAt: number | undefined;
    let chunks = 0;
    let text = '';
    let usage: Usage | undefined;
    try {
      for await (const chunk of this.#provider.stream(request, { signal })) {
        firstAt ??= performance.now();
        if (chunk.type === 'text') chunks++;
        else if (chunk.type === 'done') {
          text = chunk.result.text;
          usage = chunk.result.usage;
        }
      }
    } catch (err) {
      if (signal.aborted) throw stopped(this.#name, err);
      const kind = failureKind(err);
      this.#recorder.request(this.#name, performance.now() - started, { error: kind });
      throw targetFailure(this.#name, kind, err);
    }
    const endedAt = performance.now();
    const ms = endedAt - started;
    const ttftMs = (firstAt ?? endedAt) - started;
    const inputTokens = usage?.inputTokens ?? estimateInputTokens(request);
    const outputTokens = usage?.outputTokens ?? chunks;
    this.#record(ms, ttftMs, endedAt - (firstAt ?? started), inputTokens, outputTokens);
    return { text, usage: { inputTokens, outputTokens }, ttftMs, ms };
  }

  #record(ms: number, ttftMs: number, decodeMs: number, inputTokens: number, outputTokens: number): void {
    const recorder = this.#recorder;
    recorder.request(this.#name, ms, {});
    recorder.latency('ttft', ttftMs);
    // Decode speed: the tokens after the first over the time after the first (the first token's wait is ttft).
    if (outputTokens > 1 && decodeMs > 0)
      recorder.value('tokens_per_s', ((outputTokens - 1) * 1000) / decodeMs);
    else if (outputTokens > 0 && ms > 0) recorder.value('tokens_per_s', (outputTokens * 1000) / ms);
    recorder.count('tokens_in', inputTokens);
    recorder.count('tokens_out', outputTokens);
    if (this.#options.priced)
      recorder.count(
        'cost_micro_usd',
        inputTokens * this.#options.inputPerMTok + outputTokens * this.#options.outputPerMTok,
      );
  }

  async close(): Promise<void> {
    this.#stop.dispose();
  }
}

/**
 * An OpenAI-compatible chat endpoint (OpenAI, vLLM, Ollama, a LiteLLM proxy, troupe's offline server), called
 * through troupe's models layer with streaming on.
 *
 * @example
 * targets: { model: llm({ baseURL: 'http://127.0.0.1:8000/v1', model: 'qwen', pricing: { inputPerMTok: 0.1, outputPerMTok: 0.4 } }) },
 * scenario: async (vu) => { await vu.targets.model.chat('Say hi', { maxTokens: 32 }); }
 */
export function llm(options: LlmTargetOptions): TargetFactory<LlmClient> {
  const resolved = resolveLlmOptions(options);
  return {
    kind: 'llm',
    describe: () => `${resolved.baseURL} (${resolved.model})`,
    async open(context) {
      assertAllowedHost(resolved.baseURL, context.allowHosts);
      const provider = openaiProvider({
        baseURL: resolved.baseURL,
        model: resolved.model,
        timeoutMs: resolved.timeoutMs,
        ...(resolved.apiKey === undefined ? {} : { apiKey: resolved.apiKey }),
        ...(resolved.apiKeyEnv === undefined ? {} : { apiKeyEnv: resolved.apiKeyEnv }),
      });
      return new LlmTargetClient(provider, resolved, context);
    },
  };
}
