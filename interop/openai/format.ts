// troupe's chat messages to and from the OpenAI chat-completions JSON (role/content/tool_calls/tool_call_id):
// the format most agent frameworks read and write, and the only one troupe offers AutoGen (Python/.NET).

import type { ChatMessage, ContentPart, ToolCall } from '../../models/index.js';
import { invalidMessage } from '../errors.js';

export interface OpenAITextPart {
  type: 'text';
  text: string;
}

export interface OpenAIImagePart {
  type: 'image_url';
  image_url: { url: string; detail?: 'auto' | 'low' | 'high' };
}

export type OpenAIContentPart = OpenAITextPart | OpenAIImagePart;

export interface OpenAIToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/** One message of an OpenAI chat-completions request, as JSON. */
export type OpenAIChatMessage =
  | { role: 'system' | 'developer'; content: string | OpenAITextPart[]; name?: string }
  | { role: 'user'; content: string | OpenAIContentPart[]; name?: string }
  | {
      role: 'assistant';
      content: string | OpenAITextPart[] | null;
      tool_calls?: OpenAIToolCall[];
      name?: string;
      refusal?: string | null;
    }
  | { role: 'tool'; tool_call_id: string; content: string | OpenAITextPart[] };

/** The OpenAI JSON of one troupe message. Lossless: {@link fromOpenAIMessage} gives the same message back. */
export function toOpenAIMessage(message: ChatMessage): OpenAIChatMessage {
  switch (message.role) {
    case 'system':
      return { role: 'system', content: message.content };
    case 'user': {
      const content = typeof message.content === 'string' ? message.content : message.content.map(toPart);
      return message.name === undefined
        ? { role: 'user', content }
        : { role: 'user', content, name: message.name };
    }
    case 'assistant':
      return message.toolCalls === undefined || message.toolCalls.length === 0
        ? { role: 'assistant', content: message.content }
        : {
            role: 'assistant',
            content: message.content,
            tool_calls: message.toolCalls.map(toOpenAIToolCall),
          };
    case 'tool':
      return { role: 'tool', tool_call_id: message.toolCallId, content: message.content };
  }
}

export function toOpenAIMessages(messages: readonly ChatMessage[]): OpenAIChatMessage[] {
  return messages.map(toOpenAIMessage);
}

export function toOpenAIToolCall(call: ToolCall): OpenAIToolCall {
  return { id: call.id, type: 'function', function: { name: call.name, arguments: call.arguments } };
}

function toPart(part: ContentPart): OpenAIContentPart {
  if (part.type === 'text') return { type: 'text', text: part.text };
  return part.detail === undefined
    ? { type: 'image_url', image_url: { url: part.url } }
    : { type: 'image_url', image_url: { url: part.url, detail: part.detail } };
}

/**
 * A troupe message from OpenAI JSON (parsed, from any source: it is checked). `developer` becomes `system`;
 * text parts of system, assistant and tool messages are joined; `name` survives on user messages only;
 * `refusal` is dropped. Throws `INTEROP_INVALID_MESSAGE` naming the bad field.
 */
export function fromOpenAIMessage(value: unknown, where = 'message'): ChatMessage {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalidMessage(where, 'expected an object');
  const m = value as Record<string, unknown>;
  switch (m.role) {
    case 'system':
    case 'developer':
      return { role: 'system', content: textOf(m.content, `${where}.content`) };
    case 'user': {
      const content = typeof m.content === 'string' ? m.content : partsOf(m.content, `${where}.content`);
      if (m.name === undefined || m.name === null) return { role: 'user', content };
      if (typeof m.name !== 'string') throw invalidMessage(`${where}.name`, 'expected a string');
      return { role: 'user', content, name: m.name };
    }
    case 'assistant': {
      const content =
        m.content === null || m.content === undefined ? null : textOf(m.content, `${where}.content`);
      if (m.tool_calls === undefined || m.tool_calls === null) return { role: 'assistant', content };
      if (!Array.isArray(m.tool_calls)) throw invalidMessage(`${where}.tool_calls`, 'expected an array');
      const toolCalls = m.tool_calls.map((c, i) => fromOpenAIToolCall(c, `${where}.tool_calls[${i}]`));
      return toolCalls.length === 0
        ? { role: 'assistant', content }
        : { role: 'assistant', content, toolCalls };
    }
    case 'tool':
      if (typeof m.tool_call_id !== 'string')
        throw invalidMessage(`${where}.tool_call_id`, 'expected a string');
      return { role: 'tool', toolCallId: m.tool_call_id, content: textOf(m.content, `${where}.content`) };
    default:
      throw invalidMessage(`${where}.role`, `unsupported role ${JSON.stringify(m.role)}`);
  }
}

/** Troupe messages from an OpenAI `messages` array (see {@link fromOpenAIMessage}). */
export function fromOpenAIMessages(value: unknown): ChatMessage[] {
  if (!Array.isArray(value)) throw invalidMessage('messages', 'expected an array');
  return value.map((m, i) => fromOpenAIMessage(m, `messages[${i}]`));
}

export function fromOpenAIToolCall(value: unknown, where = 'tool_call'): ToolCall {
  const c = value as Partial<OpenAIToolCall> | null;
  if (typeof c !== 'object' || c === null) throw invalidMessage(where, 'expected an object');
  if (c.type !== undefined && c.type !== 'function')
    throw invalidMessage(`${where}.type`, `unsupported tool call type ${JSON.stringify(c.type)}`);
  if (typeof c.id !== 'string') throw invalidMessage(`${where}.id`, 'expected a string');
  const fn = c.function;
  if (typeof fn !== 'object' || fn === null || typeof fn.name !== 'string')
    throw invalidMessage(`${where}.function.name`, 'expected a string');
  if (typeof fn.arguments !== 'string')
    throw invalidMessage(`${where}.function.arguments`, 'expected a JSON string');
  return { id: c.id, name: fn.name, arguments: fn.arguments };
}

/** A string, or the text of an array of text parts (joined). */
function textOf(content: unknown, where: string): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) throw invalidMessage(where, 'expected a string or an array of text parts');
  return content
    .map((p, i) => {
      if (typeof p !== 'object' || p === null || p.type !== 'text' || typeof p.text !== 'string')
        throw invalidMessage(`${where}[${i}]`, 'expected a text part { type: "text", text }');
      return p.text as string;
    })
    .join('');
}

function partsOf(content: unknown, where: string): ContentPart[] {
  if (!Array.isArray(content)) throw invalidMessage(where, 'expected a string or an array of parts');
  return content.map((p, i): ContentPart => {
    const at = `${where}[${i}]`;
    if (typeof p !== 'object' || p === null) throw invalidMessage(at, 'expected a content part');
    if (p.type === 'text' && typeof p.text === 'string') return { type: 'text', text: p.text };
    if (p.type === 'image_url') {
      const image = typeof p.image_url === 'string' ? { url: p.image_url } : p.image_url;
      if (typeof image !== 'object' || image === null || typeof image.url !== 'string')
        throw invalidMessage(`${at}.image_url.url`, 'expected a string');
      return imagePart(image.url, image.detail, at);
    }
    throw invalidMessage(at, `unsupported content part ${JSON.stringify(p.type)}`);
  });
}

/** An image part; `detail` is kept when it is one OpenAI knows. */
export function imagePart(url: string, detail: unknown, where: string): ContentPart {
  if (detail === undefined || detail === null) return { type: 'image', url };
  if (detail !== 'auto' && detail !== 'low' && detail !== 'high')
    throw invalidMessage(`${where}.detail`, `unsupported detail ${JSON.stringify(detail)}`);
  return { type: 'image', url, detail };
}
