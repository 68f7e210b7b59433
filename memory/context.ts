// Context assembly: the conversation and the recalled documents fitted into a model's window. Tokens are counted
// like the models layer estimates them (characters / 4, rounded up, per message), and the result never exceeds
// `maxTokens`: what does not fit is dropped (the oldest history, the weakest documents), never squeezed in.

import type { ChatMessage } from '../models/index.js';
import { MemoryError, MemoryErrorCode } from './errors.js';

/** A recalled text (a {@link SemanticHit} fits). */
export interface RetrievedText {
  text: string;
  id?: string;
  score?: number;
}

export interface AssembleContextOptions {
  /** The conversation, oldest first: leading system messages and the last message are always kept. */
  messages: readonly ChatMessage[];
  /** Recalled documents, best first. */
  retrieved?: readonly RetrievedText[];
  /** The window the result must fit in (the model's context minus the answer's allowance). */
  maxTokens: number;
  /** Tokens of a text. @defaultValue `Math.ceil(text.length / 4)`, the models layer's estimate */
  estimate?: (text: string) => number;
  /** Most of the room left after the kept messages that documents may take (0..1). @defaultValue 0.5 */
  retrievedShare?: number;
  /** Heading of the system message that carries the documents. @defaultValue 'Relevant memory:' */
  heading?: string;
}

const charsOver4 = (text: string): number => Math.ceil(text.length / 4);

/** A message's tokens, counted as models/estimate.ts counts them (images 85, tool calls as their JSON). */
export function messageTokens(m: ChatMessage, estimate: (text: string) => number = charsOver4): number {
  let tokens = 0;
  if (typeof m.content === 'string') tokens += estimate(m.content);
  else if (Array.isArray(m.content))
    for (const part of m.content) tokens += part.type === 'text' ? estimate(part.text) : 85;
  if (m.role === 'assistant' && m.toolCalls !== undefined)
    for (const call of m.toolCalls)
      tokens += estimate(JSON.stringify({ name: call.name, arguments: call.arguments }));
  return tokens;
}

/** History as units dropped together: an assistant message with tool calls travels with its tool results. */
function units(history: readonly ChatMessage[]): ChatMessage[][] {
  const out: ChatMessage[][] = [];
  for (const m of history) {
    const last = out[out.length - 1];
    if (m.role === 'tool' && last !== undefined) last.push(m);
    else out.push([m]);
  }
  return out;
}

/**
 * The messages to send: the leading system messages, then one system message with as many recalled documents as
 * fit (best first, the last one cut short rather than left out when at least a quarter of it fits), then as much
 * recent history as fits (newest first, whole tool-call groups), then the last message. Throws MEMORY_INVALID
 * when the system messages and the last message alone exceed `maxTokens`.
 */
export function assembleContext(options: AssembleContextOptions): ChatMessage[] {
  const {
    messages,
    retrieved = [],
    maxTokens,
    estimate = charsOver4,
    heading = 'Relevant memory:',
  } = options;
  const share = options.retrievedShare ?? 0.5;
  if (!Number.isFinite(maxTokens) || maxTokens < 0)
    throw new MemoryError(
      MemoryErrorCode.Invalid,
      `maxTokens must be a non-negative number, got ${maxTokens}`,
    );
  const count = (m: ChatMessage): number => messageTokens(m, estimate);

  let lead = 0;
  while (lead < messages.length - 1 && messages[lead]!.role === 'system') lead++;
  const system = messages.slice(0, lead);
  const last = messages.length > 0 ? [messages[messages.length - 1]!] : [];
  const history = messages.slice(lead, Math.max(lead, messages.length - 1));
  const kept = [...system, ...last].reduce((sum, m) => sum + count(m), 0);
  if (kept > maxTokens)
    throw new MemoryError(
      MemoryErrorCode.Invalid,
      `the system messages and the last message need ${kept} tokens, more than maxTokens ${maxTokens}`,
      { data: { needed: kept, maxTokens } },
    );

  let room = maxTokens - kept;
  // Documents: one system message, grown a document at a time while it stays within its share.
  let memory: ChatMessage | undefined;
  const docRoom = Math.floor(room * Math.min(1, Math.max(0, share)));
  const parts: string[] = [];
  const render = (p: readonly string[]): ChatMessage => ({
    role: 'system',
    content: `${heading}\n\n${p.join('\n\n')}`,
  });
  for (const doc of retrieved) {
    const entry = `[${parts.length + 1}] ${doc.text}`;
    const candidate = render([...parts, entry]);
    if (count(candidate) <= docRoom) {
      parts.push(entry);
      memory = candidate;
      continue;
    }
    // Cut the document to what is left, if that is a useful part of it.
    const used = memory === undefined ? count(render([])) : count(memory);
    const left = docRoom - used;
    const keepChars = Math.floor(left * 4) - 8;
    if (keepChars >= doc.text.length / 4 && keepChars > 0) {
      const cut = render([...parts, `[${parts.length + 1}] ${doc.text.slice(0, keepChars)}…`]);
      if (count(cut) <= docRoom) memory = cut;
    }
    break;
  }
  if (memory !== undefined) room -= count(memory);

  // History: newest first, contiguous, whole units.
  const picked: ChatMessage[][] = [];
  const all = units(history);
  for (let i = all.length - 1; i >= 0; i--) {
    const unit = all[i]!;
    const cost = unit.reduce((sum, m) => sum + count(m), 0);
    if (cost > room) break;
    room -= cost;
    picked.unshift(unit);
  }
  // A tool result whose call was dropped is invalid for the API: drop leading orphans.
  const recent = picked.flat();
  while (recent.length > 0 && recent[0]!.role === 'tool') recent.shift();

  return [...system, ...(memory === undefined ? [] : [memory]), ...recent, ...last];
}
