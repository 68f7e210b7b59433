// Between troupe's provider-neutral types and the Chat Completions wire format: requests out, completions and
// stream chunks back, with the checks that keep a filtered or unparsable answer from passing as a success.

import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionContentPart,
  ChatCompletionCreateParamsNonStreaming,
  ChatCompletionMessageParam,
} from 'openai/resources/chat/completions';
import { ModelError, ModelErrorCode } from './errors.js';
import type { ChatChunk, ChatMessage, ChatRequest, ChatResult, FinishReason, ToolCall } from './provider.js';
import { normalizeUsage } from './usage.js';

/** Which body field carries `maxTokens`: OpenAI's newer models want `max_completion_tokens`. */
export type MaxTokensField = 'max_tokens' | 'max_completion_tokens';

function toMessage(m: ChatMessage): ChatCompletionMessageParam {
  switch (m.role) {
    case 'system':
      return { role: 'system', content: m.content };
    case 'user': {
      const content: string | ChatCompletionContentPart[] =
        typeof m.content === 'string'
          ? m.content
          : m.content.map((part) =>
              part.type === 'text'
                ? { type: 'text', text: part.text }
                : {
                    type: 'image_url',
                    image_url:
                      part.detail === undefined ? { url: part.url } : { url: part.url, detail: part.detail },
                  },
            );
      return m.name === undefined ? { role: 'user', content } : { role: 'user', content, name: m.name };
    }
    case 'assistant':
      if (m.toolCalls === undefined || m.toolCalls.length === 0)
        return { role: 'assistant', content: m.content };
      return {
        role: 'assistant',
        content: m.content,
        tool_calls: m.toolCalls.map((call) => ({
          id: call.id,
          type: 'function',
          function: { name: call.name, arguments: call.arguments },
        })),
      };
    case 'tool':
      return { role: 'tool', tool_call_id: m.toolCallId, content: m.content };
  }
}

/** The Chat Completions body of `request` (without `stream`). */
export function toParams(
  request: ChatRequest,
  model: string,
  maxTokensField: MaxTokensField,
): ChatCompletionCreateParamsNonStreaming {
  const params: ChatCompletionCreateParamsNonStreaming = { model, messages: request.messages.map(toMessage) };
  if (request.tools !== undefined && request.tools.length > 0) {
    params.tools = request.tools.map((tool) => ({
      type: 'function',
      function: {
        name: tool.name,
        parameters: tool.parameters,
        ...(tool.description === undefined ? {} : { description: tool.description }),
        ...(tool.strict === undefined ? {} : { strict: tool.strict }),
      },
    }));
  }
  const choice = request.toolChoice;
  if (choice !== undefined) {
    params.tool_choice =
      typeof choice === 'string' ? choice : { type: 'function', function: { name: choice.name } };
  }
  if (request.parallelToolCalls !== undefined) params.parallel_tool_calls = request.parallelToolCalls;
  const format = request.responseFormat;
  if (format?.type === 'json') params.response_format = { type: 'json_object' };
  else if (format?.type === 'text') params.response_format = { type: 'text' };
  else if (format?.type === 'json_schema') {
    params.response_format = {
      type: 'json_schema',
      json_schema: {
        name: format.name,
        schema: format.schema,
        ...(format.strict === undefined ? {} : { strict: format.strict }),
        ...(format.description === undefined ? {} : { description: format.description }),
      },
    };
  }
  if (request.temperature !== undefined) params.temperature = request.temperature;
  if (request.topP !== undefined) params.top_p = request.topP;
  if (request.maxTokens !== undefined) params[maxTokensField] = request.maxTokens;
  if (request.stop !== undefined) params.stop = [...request.stop];
  if (request.seed !== undefined) params.seed = request.seed;
  if (request.user !== undefined) params.user = request.user;
  if (request.extra !== undefined) Object.assign(params, request.extra);
  return params;
}

/**
 * The result of a finished answer: throws `MODEL_CONTENT_FILTERED` for a filtered one and
 * `MODEL_MALFORMED_RESPONSE` for requested JSON that does not parse.
 */
function finish(
  request: ChatRequest,
  parts: Omit<ChatResult, 'finishReason' | 'json'> & { rawFinish: string | null },
): ChatResult {
  const { rawFinish, ...rest } = parts;
  const details = { model: parts.model };
  if (rawFinish === 'content_filter') {
    throw new ModelError(
      ModelErrorCode.ContentFiltered,
      'the completion was blocked by a content filter',
      details,
    );
  }
  // Some servers (Ollama) answer `stop` with tool calls: the calls decide.
  const finishReason: FinishReason =
    parts.toolCalls.length > 0 || rawFinish === 'tool_calls' || rawFinish === 'function_call'
      ? 'tool_calls'
      : rawFinish === 'stop' || rawFinish === 'length'
        ? rawFinish
        : 'other';
  const result: ChatResult = { ...rest, finishReason };
  const format = request.responseFormat?.type;
  if (
    (format === 'json' || format === 'json_schema') &&
    finishReason !== 'tool_calls' &&
    parts.refusal === undefined
  ) {
    try {
      result.json = JSON.parse(parts.text);
    } catch {
      throw new ModelError(
        ModelErrorCode.MalformedResponse,
        `structured output is not valid JSON (finish reason ${rawFinish}): ${parts.text.slice(0, 200)}`,
        details,
      );
    }
  }
  return result;
}

/** The result of a non-streaming completion. */
export function fromCompletion(request: ChatRequest, completion: ChatCompletion): ChatResult {
  const choice = (completion as Partial<ChatCompletion>).choices?.[0];
  if (choice === undefined || typeof choice.message !== 'object' || choice.message === null) {
    throw new ModelError(ModelErrorCode.MalformedResponse, 'the completion has no choices', {
      model: String(completion.model),
    });
  }
  const toolCalls: ToolCall[] = [];
  for (const call of choice.message.tool_calls ?? []) {
    if (call.type === 'function') {
      toolCalls.push({ id: call.id, name: call.function.name, arguments: call.function.arguments });
    }
  }
  const refusal = choice.message.refusal ?? undefined;
  return finish(request, {
    text: choice.message.content ?? '',
    toolCalls,
    usage: normalizeUsage(completion.usage),
    model: completion.model,
    id: completion.id,
    rawFinish: choice.finish_reason,
    ...(refusal === undefined ? {} : { refusal }),
  });
}

/** Builds the result of a stream from its chunks, and turns each chunk into what the caller sees. */
export class StreamAccumulator {
  #text = '';
  #refusal = '';
  #calls: { id: string; name: string; arguments: string }[] = [];
  #rawFinish: string | null = null;
  #usage: unknown;
  #model = '';
  #id = '';

  constructor(readonly request: ChatRequest) {}

  /** True once a choice reported its finish reason: the answer is complete, usage may still follow. */
  get finished(): boolean {
    return this.#rawFinish !== null;
  }

  push(chunk: ChatCompletionChunk): ChatChunk[] {
    if (chunk.model) this.#model = chunk.model;
    if (chunk.id) this.#id = chunk.id;
    if (chunk.usage) this.#usage = chunk.usage;
    const choice = chunk.choices?.[0];
    if (choice === undefined) return [];
    const out: ChatChunk[] = [];
    const delta = choice.delta ?? {};
    if (typeof delta.content === 'string' && delta.content !== '') {
      this.#text += delta.content;
      out.push({ type: 'text', text: delta.content });
    }
    if (typeof delta.refusal === 'string') this.#refusal += delta.refusal;
    for (const d of delta.tool_calls ?? []) {
      let call = this.#calls[d.index];
      if (call === undefined) {
        call = { id: '', name: '', arguments: '' };
        this.#calls[d.index] = call;
      }
      if (d.id) call.id = d.id;
      if (d.function?.name) call.name += d.function.name;
      const argumentsDelta = d.function?.arguments ?? '';
      call.arguments += argumentsDelta;
      const piece: ChatChunk = { type: 'tool-call', index: d.index, argumentsDelta };
      if (d.id) piece.id = d.id;
      if (d.function?.name) piece.name = d.function.name;
      out.push(piece);
    }
    if (choice.finish_reason) this.#rawFinish = choice.finish_reason;
    return out;
  }

  /** The whole result; call only once `finished`. */
  result(): ChatResult {
    return finish(this.request, {
      text: this.#text,
      toolCalls: this.#calls.filter((c) => c !== undefined),
      usage: normalizeUsage(this.#usage),
      model: this.#model,
      id: this.#id,
      rawFinish: this.#rawFinish,
      ...(this.#refusal === '' ? {} : { refusal: this.#refusal }),
    });
  }
}
