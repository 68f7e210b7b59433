// Scripted replies per model: a queue consumed in order, or a function of the request, with a deterministic
// echo when nothing is scripted.

import type { LlmFaultSpec } from './faults.js';

/** A tool call a scripted reply makes; `arguments` as JSON text or as a value to serialise. */
export interface LlmToolCallReply {
  name: string;
  arguments?: string | Record<string, unknown>;
  /** Default: `call_<request seq>_<index>`. */
  id?: string;
}

/** One reply: plain text, or its parts. */
export type LlmReply =
  | string
  | {
      text?: string;
      /** Serialised as the message's text (structured output). */
      json?: unknown;
      toolCalls?: LlmToolCallReply[];
      /** Default: `tool_calls` with tool calls, else `stop`. */
      finishReason?: 'stop' | 'length' | 'tool_calls' | 'content_filter';
      /** Overrides the estimated usage; `cachedTokens` shows up as `prompt_tokens_details.cached_tokens`. */
      usage?: { inputTokens?: number; outputTokens?: number; cachedTokens?: number };
      /** Added to the model's latency before this reply. */
      delayMs?: number;
      /** Pause between SSE chunks of this reply. */
      chunkDelayMs?: number;
      /** Answer this request with a fault instead (a queue may mix faults and replies). */
      fault?: LlmFaultSpec;
    };

export type LlmReplyObject = Exclude<LlmReply, string>;

/** What a script function sees of a chat request. */
export interface LlmChatRequest {
  seq: number;
  model: string;
  stream: boolean;
  messages: { role: string; content: unknown; [key: string]: unknown }[];
  /** The text of the last user message ('' when there is none). */
  lastUserText: string;
  tools: unknown[] | undefined;
  responseFormat: { type: string; json_schema?: { schema?: unknown } } | undefined;
  /** The whole request body. */
  body: Record<string, unknown>;
}

export type LlmScriptFn = (request: LlmChatRequest) => LlmReply | Promise<LlmReply>;

export interface ScriptOptions {
  /** Start over at the first reply when the queue runs out, instead of falling back to the echo. */
  repeat?: boolean;
}

interface Script {
  queue: LlmReply[];
  next: number;
  repeat: boolean;
  fn: LlmScriptFn | undefined;
}

/** The scripts per model (`*` for every model without its own). */
export class ScriptTable {
  readonly #byModel = new Map<string, Script>();

  /** An array appends to the model's queue; a function answers whatever the queue does not. */
  set(model: string, replies: LlmReply | LlmReply[] | LlmScriptFn, options: ScriptOptions = {}): void {
    const script = this.#byModel.get(model) ?? { queue: [], next: 0, repeat: false, fn: undefined };
    if (typeof replies === 'function') script.fn = replies;
    else script.queue.push(...(Array.isArray(replies) ? replies : [replies]));
    if (options.repeat !== undefined) script.repeat = options.repeat;
    this.#byModel.set(model, script);
  }

  clear(model?: string): void {
    if (model === undefined) this.#byModel.clear();
    else this.#byModel.delete(model);
  }

  models(): string[] {
    return [...this.#byModel.keys()].filter((m) => m !== '*');
  }

  /** The reply for `request`: its model's script, then `*`'s, then the default. */
  async reply(request: LlmChatRequest): Promise<LlmReplyObject> {
    const script = this.#byModel.get(request.model) ?? this.#byModel.get('*');
    let reply: LlmReply | undefined;
    if (script !== undefined) {
      if (script.next >= script.queue.length && script.repeat && script.queue.length > 0) script.next = 0;
      if (script.next < script.queue.length) reply = script.queue[script.next++];
      else if (script.fn !== undefined) reply = await script.fn(request);
    }
    if (reply === undefined) return defaultReply(request);
    return typeof reply === 'string' ? { text: reply } : reply;
  }
}

/** Nothing scripted: echo the last user message, or a value shaped like the requested JSON schema. */
export function defaultReply(request: LlmChatRequest): LlmReplyObject {
  const format = request.responseFormat;
  if (format?.type === 'json_schema')
    return { json: exampleOf(format.json_schema?.schema, request.lastUserText) };
  if (format?.type === 'json_object') return { json: { echo: request.lastUserText } };
  return { text: `Echo: ${request.lastUserText}` };
}

/** A deterministic value matching the common parts of a JSON schema (type, properties, items, enum, const). */
export function exampleOf(schema: unknown, text: string, depth = 0): unknown {
  if (typeof schema !== 'object' || schema === null || depth > 8) return null;
  const s = schema as Record<string, unknown>;
  if ('const' in s) return s.const;
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[0];
  for (const key of ['anyOf', 'oneOf', 'allOf'] as const) {
    const list = s[key];
    if (Array.isArray(list) && list.length > 0) return exampleOf(list[0], text, depth + 1);
  }
  const type = Array.isArray(s.type) ? s.type.find((t) => t !== 'null') : s.type;
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      const props = (s.properties ?? {}) as Record<string, unknown>;
      for (const [key, sub] of Object.entries(props)) out[key] = exampleOf(sub, text, depth + 1);
      return out;
    }
    case 'array':
      return s.items === undefined ? [] : [exampleOf(s.items, text, depth + 1)];
    case 'string':
      return text;
    case 'integer':
    case 'number':
      return typeof s.minimum === 'number' ? s.minimum : 0;
    case 'boolean':
      return false;
    default:
      return null;
  }
}

/** The plain text of a message's content: a string, or the text parts of a content array. */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((part) => (typeof part === 'object' && part !== null && 'text' in part ? String(part.text) : ''))
    .join('');
}
