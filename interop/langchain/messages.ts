// troupe's chat messages to and from LangChain's message classes (SystemMessage, HumanMessage, AIMessage with
// tool_calls, ToolMessage), lossless for text and tool calls.

import {
  AIMessage,
  type BaseMessage,
  type BaseMessageLike,
  type ContentBlock,
  coerceMessageLikeToMessage,
  HumanMessage,
  type InvalidToolCall,
  SystemMessage,
  ToolMessage,
} from '@langchain/core/messages';
import type { ToolCall as LangChainToolCall } from '@langchain/core/messages/tool';
import type { ChatMessage, ContentPart, ToolCall } from '../../models/index.js';
import { invalidMessage } from '../errors.js';
import { fromOpenAIToolCall, imagePart, type OpenAIToolCall, toOpenAIToolCall } from '../openai/format.js';

/**
 * The LangChain message of a troupe message. Tool calls whose arguments are a JSON object become `tool_calls`
 * (parsed `args`), others `invalid_tool_calls` (raw `args`); when that split, or re-serializing the parsed
 * arguments, would lose the order or the exact text, the calls are also kept as OpenAI JSON in
 * `additional_kwargs.tool_calls` (where LangChain's OpenAI models put them), which {@link fromLangChainMessage}
 * prefers while it still matches `tool_calls`.
 */
export function toLangChainMessage(message: ChatMessage): BaseMessage {
  switch (message.role) {
    case 'system':
      return new SystemMessage({ content: message.content });
    case 'user': {
      const content =
        typeof message.content === 'string' ? message.content : message.content.map(toLangChainPart);
      return message.name === undefined
        ? new HumanMessage({ content })
        : new HumanMessage({ content, name: message.name });
    }
    case 'assistant': {
      const content = message.content ?? '';
      const calls = message.toolCalls ?? [];
      if (calls.length === 0) return new AIMessage({ content });
      const toolCalls: LangChainToolCall[] = [];
      const invalid: InvalidToolCall[] = [];
      let exact = true;
      for (const call of calls) {
        const args = argsObject(call.arguments);
        if (args === undefined) {
          exact = false;
          invalid.push({
            type: 'invalid_tool_call',
            id: call.id,
            name: call.name,
            args: call.arguments,
            error: 'arguments are not a JSON object',
          });
        } else {
          if (JSON.stringify(args) !== call.arguments) exact = false;
          toolCalls.push({ type: 'tool_call', id: call.id, name: call.name, args });
        }
      }
      return new AIMessage({
        content,
        tool_calls: toolCalls,
        invalid_tool_calls: invalid,
        // Only invalid calls: invalid_tool_calls alone keep their order and text (and LangChain warns about a raw
        // copy beside empty tool_calls).
        additional_kwargs: exact || toolCalls.length === 0 ? {} : { tool_calls: calls.map(toOpenAIToolCall) },
      });
    }
    case 'tool':
      return new ToolMessage({ content: message.content, tool_call_id: message.toolCallId });
  }
}

export function toLangChainMessages(messages: readonly ChatMessage[]): BaseMessage[] {
  return messages.map(toLangChainMessage);
}

/**
 * The troupe message of a LangChain message (or anything LangChain coerces into one: `{ role, content }`,
 * `['human', 'hi']`, a string). Text blocks of system, assistant and tool messages are joined and their other
 * blocks (reasoning, provider tool-use blocks mirrored in `tool_calls`) dropped; an assistant message with tool
 * calls and no text gets `content: null`. Throws `INTEROP_INVALID_MESSAGE` for kinds troupe has no role for
 * (function, remove) and content it cannot carry (audio, files).
 */
export function fromLangChainMessage(value: BaseMessage | BaseMessageLike, where = 'message'): ChatMessage {
  let message: BaseMessage;
  try {
    message = coerceMessageLikeToMessage(value as BaseMessageLike);
  } catch (err) {
    throw invalidMessage(where, `not a LangChain message (${(err as Error).message})`);
  }
  const type = message.getType();
  switch (type) {
    case 'system':
    case 'developer':
      return { role: 'system', content: textOf(message.content, where) };
    case 'human': {
      const content = typeof message.content === 'string' ? message.content : partsOf(message.content, where);
      return typeof message.name === 'string'
        ? { role: 'user', content, name: message.name }
        : { role: 'user', content };
    }
    case 'ai': {
      const ai = message as AIMessage;
      const text = textOf(ai.content, where);
      const toolCalls = toolCallsOf(ai, where);
      return toolCalls.length === 0
        ? { role: 'assistant', content: text }
        : { role: 'assistant', content: text === '' ? null : text, toolCalls };
    }
    case 'tool':
      return {
        role: 'tool',
        toolCallId: (message as ToolMessage).tool_call_id,
        content: textOf(message.content, where),
      };
    case 'generic': {
      // A ChatMessage with a free-form role: the roles troupe knows pass through OpenAI's reading.
      const role = (message as unknown as { role: string }).role;
      const mapped = role === 'human' ? 'user' : role === 'ai' ? 'assistant' : role;
      if (mapped === 'system' || mapped === 'user' || mapped === 'assistant')
        return fromLangChainMessage({ role: mapped, content: message.content } as BaseMessageLike, where);
      throw invalidMessage(where, `unsupported chat message role ${JSON.stringify(role)}`);
    }
    default:
      throw invalidMessage(where, `unsupported LangChain message type ${JSON.stringify(type)}`);
  }
}

export function fromLangChainMessages(messages: readonly (BaseMessage | BaseMessageLike)[]): ChatMessage[] {
  return messages.map((m, i) => fromLangChainMessage(m, `messages[${i}]`));
}

/** The calls of an AI message, in their original order and text when `additional_kwargs` still matches. */
function toolCallsOf(ai: AIMessage, where: string): ToolCall[] {
  const calls: ToolCall[] = [];
  for (const c of ai.tool_calls ?? [])
    calls.push({ id: c.id ?? '', name: c.name, arguments: JSON.stringify(c.args ?? {}) });
  for (const c of ai.invalid_tool_calls ?? [])
    calls.push({ id: c.id ?? '', name: c.name ?? '', arguments: c.args ?? '' });
  const raw = ai.additional_kwargs?.tool_calls as OpenAIToolCall[] | undefined;
  if (!Array.isArray(raw) || raw.length !== calls.length || calls.length === 0) return calls;
  let exact: ToolCall[];
  try {
    exact = raw.map((c, i) => fromOpenAIToolCall(c, `${where}.additional_kwargs.tool_calls[${i}]`));
  } catch {
    return calls;
  }
  // The raw copy wins only while it says what tool_calls say (a node may have edited those).
  const byId = new Map(calls.map((c) => [c.id, c]));
  for (const c of exact) {
    const parsed = byId.get(c.id);
    if (parsed === undefined || parsed.name !== c.name) return calls;
    const args = argsObject(c.arguments);
    if ((args === undefined ? c.arguments : JSON.stringify(args)) !== parsed.arguments) return calls;
    byId.delete(c.id);
  }
  return byId.size === 0 ? exact : calls;
}

/** The arguments as a plain JSON object, or undefined when they are not one. */
function argsObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

type Block = Record<string, unknown>;

function toLangChainPart(part: ContentPart): ContentBlock {
  if (part.type === 'text') return { type: 'text', text: part.text };
  return {
    type: 'image_url',
    image_url: part.detail === undefined ? { url: part.url } : { url: part.url, detail: part.detail },
  };
}

function blocksOf(content: unknown, where: string): Block[] {
  if (!Array.isArray(content))
    throw invalidMessage(`${where}.content`, 'expected a string or an array of blocks');
  return content.map((b) => (typeof b === 'string' ? { type: 'text', text: b } : (b as Block)));
}

function textOf(content: unknown, where: string): string {
  if (typeof content === 'string') return content;
  return blocksOf(content, where)
    .filter((b) => b.type === 'text' && typeof b.text === 'string')
    .map((b) => b.text as string)
    .join('');
}

/** A human message's blocks as troupe parts: text and images (by URL, or base64 data turned into a data URL). */
function partsOf(content: unknown, where: string): ContentPart[] {
  return blocksOf(content, where).map((b, i): ContentPart => {
    const at = `${where}.content[${i}]`;
    if (b.type === 'text' && typeof b.text === 'string') return { type: 'text', text: b.text };
    if (b.type === 'image_url') {
      const image = (typeof b.image_url === 'string' ? { url: b.image_url } : b.image_url) as
        | Block
        | undefined;
      if (typeof image?.url !== 'string') throw invalidMessage(`${at}.image_url.url`, 'expected a string');
      return imagePart(image.url, image.detail, at);
    }
    if (b.type === 'image') {
      if (typeof b.url === 'string') return { type: 'image', url: b.url };
      const data = typeof b.data === 'string' ? b.data : undefined;
      const mime = b.mimeType ?? b.mime_type;
      if (data !== undefined && typeof mime === 'string')
        return { type: 'image', url: `data:${mime};base64,${data}` };
    }
    throw invalidMessage(at, `unsupported content block ${JSON.stringify(b.type)}`);
  });
}
