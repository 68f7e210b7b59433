// Chat completions on the wire: the JSON body, and the same reply cut into SSE chunks the way OpenAI streams
// them (role first, content in word pieces, tool-call arguments in slices, finish, optional usage, [DONE]).

import type { ServerResponse } from 'node:http';
import { estimateTokens } from './log.js';
import { contentText, type LlmReplyObject } from './scripts.js';

/** A reply made concrete: the text, the tool calls with ids and JSON arguments, the finish reason and usage. */
export interface Completion {
  id: string;
  model: string;
  created: number;
  text: string;
  toolCalls: { id: string; name: string; arguments: string }[];
  finishReason: string;
  inputTokens: number;
  outputTokens: number;
  cachedTokens: number;
}

/** The input tokens of a chat request: its messages' text and tool-call arguments. */
export function inputTokensOf(messages: readonly { content: unknown; tool_calls?: unknown }[]): number {
  let tokens = 0;
  for (const m of messages) {
    tokens += estimateTokens(contentText(m.content));
    if (Array.isArray(m.tool_calls)) {
      for (const call of m.tool_calls) tokens += estimateTokens(JSON.stringify(call?.function ?? ''));
    }
  }
  return tokens;
}

export function toCompletion(
  reply: LlmReplyObject,
  init: { seq: number; model: string; inputTokens: number; contentFiltered: boolean },
): Completion {
  const text = init.contentFiltered
    ? ''
    : reply.json !== undefined
      ? JSON.stringify(reply.json)
      : (reply.text ?? '');
  const toolCalls = init.contentFiltered
    ? []
    : (reply.toolCalls ?? []).map((call, i) => ({
        id: call.id ?? `call_${init.seq}_${i}`,
        name: call.name,
        arguments: typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments ?? {}),
      }));
  let outputTokens = estimateTokens(text);
  for (const call of toolCalls) outputTokens += estimateTokens(call.name + call.arguments);
  return {
    id: `chatcmpl-${init.seq}`,
    model: init.model,
    created: Math.floor(Date.now() / 1000),
    text,
    toolCalls,
    finishReason: init.contentFiltered
      ? 'content_filter'
      : (reply.finishReason ?? (toolCalls.length > 0 ? 'tool_calls' : 'stop')),
    inputTokens: reply.usage?.inputTokens ?? init.inputTokens,
    outputTokens: reply.usage?.outputTokens ?? outputTokens,
    cachedTokens: reply.usage?.cachedTokens ?? 0,
  };
}

function usageOf(c: Completion) {
  return {
    prompt_tokens: c.inputTokens,
    completion_tokens: c.outputTokens,
    total_tokens: c.inputTokens + c.outputTokens,
    prompt_tokens_details: { cached_tokens: c.cachedTokens },
  };
}

function toolCallsOf(c: Completion) {
  return c.toolCalls.map((call) => ({
    id: call.id,
    type: 'function',
    function: { name: call.name, arguments: call.arguments },
  }));
}

/** The non-streaming `chat.completion` body. */
export function completionBody(c: Completion): unknown {
  const message: Record<string, unknown> = { role: 'assistant', content: c.text, refusal: null };
  if (c.toolCalls.length > 0) {
    message.tool_calls = toolCallsOf(c);
    if (c.text === '') message.content = null;
  }
  return {
    id: c.id,
    object: 'chat.completion',
    created: c.created,
    model: c.model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: c.finishReason }],
    usage: usageOf(c),
  };
}

/** The text cut into word pieces whose concatenation is the text exactly. */
export function pieces(text: string): string[] {
  return text.match(/\s*\S+|\s+$/g) ?? [];
}

/** The `chat.completion.chunk` objects of a streamed reply, usage chunk included when asked for. */
export function completionChunks(c: Completion, includeUsage: boolean): unknown[] {
  const chunk = (delta: unknown, finish: string | null = null) => ({
    id: c.id,
    object: 'chat.completion.chunk',
    created: c.created,
    model: c.model,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  });
  const out: unknown[] = [chunk({ role: 'assistant', content: '', refusal: null })];
  for (const piece of pieces(c.text)) out.push(chunk({ content: piece }));
  c.toolCalls.forEach((call, index) => {
    out.push(
      chunk({
        tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.name, arguments: '' } }],
      }),
    );
    for (let i = 0; i < call.arguments.length; i += 16) {
      out.push(chunk({ tool_calls: [{ index, function: { arguments: call.arguments.slice(i, i + 16) } }] }));
    }
  });
  out.push(chunk({}, c.finishReason));
  if (includeUsage) {
    out.push({
      id: c.id,
      object: 'chat.completion.chunk',
      created: c.created,
      model: c.model,
      choices: [],
      usage: usageOf(c),
    });
  }
  return out;
}

export function startSse(res: ServerResponse): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  });
}

/** Writes one SSE event; resolves once it is handed to the socket (so a drop right after still delivers it). */
export function writeEvent(res: ServerResponse, data: string): Promise<void> {
  return new Promise((resolve) => {
    res.write(`data: ${data}\n\n`, () => resolve());
  });
}
