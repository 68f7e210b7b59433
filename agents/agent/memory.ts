// An agent's memory (`defineAgent({ memory })`): before each model call the conversation is given what the
// agent recalls (its session's earlier turns from episodic memory, the documents semantic memory finds for the
// run's input), fitted within a token window; each run's input and answer are stored as turns of its session.
// Recalled text is part of the prompt, so its tokens are reserved and settled against the agent's budget with
// the model call; the recall itself is a `retrieve_memory` span.

import { assembleContext, modelSummarizer, type Turn } from '../../memory/index.js';
import type { ChatMessage } from '../../models/index.js';
import type { ResolvedMemory } from './memory-options.js';
import type { Run } from './run.js';
import type { ResolvedAgent } from './runtime.js';
import { startSpan } from './spans.js';

/** The text of a run's input: the string, or its user messages' text. */
const textOfInput = (input: Run['input']): string =>
  typeof input === 'string'
    ? input
    : input
        .filter((m) => m.role === 'user')
        .map((m) => (typeof m.content === 'string' ? m.content : ''))
        .join('\n');

const inputText = (run: Run): string => textOfInput(run.input);

const scopeOf = (agent: ResolvedAgent, run: Run) => ({
  agent: agent.name,
  session: run.session ?? run.runId,
});

/** The messages of the next model call with what the agent recalls, within the memory's window. */
export async function recall(
  agent: ResolvedAgent,
  memory: ResolvedMemory,
  run: Run,
  messages: ChatMessage[],
  signal: AbortSignal,
): Promise<ChatMessage[]> {
  const span = startSpan(agent.kit.telemetry, 'retrieve_memory', agent.name, {
    'gen_ai.agent.name': agent.name,
    'gen_ai.conversation.id': run.runId,
  });
  try {
    let earlier: Turn[] = [];
    if (memory.episodic !== undefined)
      earlier = (await memory.episodic.recent(scopeOf(agent, run), memory.turns + 2)).filter(
        (t) => t.metadata?.runId !== run.runId && (t.role === 'user' || t.role === 'assistant'),
      );
    const hits =
      memory.semantic === undefined
        ? []
        : await memory.semantic.search(inputText(run), { k: memory.k, signal });
    // Earlier turns go after the instructions, before this run's input: the conversation continues.
    const lead = messages.findIndex((m) => m.role !== 'system');
    const at = lead < 0 ? messages.length : lead;
    const history: ChatMessage[] = earlier
      .slice(-memory.turns)
      .map((t) => ({ role: t.role as 'user' | 'assistant', content: t.content }));
    const withHistory = [...messages.slice(0, at), ...history, ...messages.slice(at)];
    const out = assembleContext({
      messages: withHistory,
      retrieved: hits.map((h) => ({ text: h.text, id: h.id, score: h.score })),
      maxTokens: memory.maxContextTokens,
    });
    span?.end({ 'troupe.memory.turns': history.length, 'troupe.memory.documents': hits.length });
    return out;
  } catch (err) {
    span?.end({}, err);
    throw err;
  }
}

/** Stores a run's input (when it starts) or its answer (when it ends) as a turn of its session. */
export async function remember(
  agent: ResolvedAgent,
  memory: ResolvedMemory,
  run: Run,
  role: 'user' | 'assistant',
  content: string,
): Promise<void> {
  const episodic = memory.episodic;
  if (episodic === undefined) return;
  const scope = scopeOf(agent, run);
  try {
    await episodic.append(scope, { role, content, metadata: { runId: run.runId } });
    const limit = memory.summarizeAfter;
    if (role === 'assistant' && limit !== undefined && (await episodic.count(scope)) > limit) {
      const summarizer = modelSummarizer(agent.kit.router, run.config.model, {
        budget: { agent: agent.budget.agent ?? agent.name, ...agent.budget },
      });
      await episodic.summarize(scope, summarizer, { keep: memory.turns });
    }
  } catch (err) {
    // Memory is an aid: a store outage costs the turn, not the run.
    agent.kit.logger.warn('agent turn not stored in episodic memory', {
      'gen_ai.agent.name': agent.name,
      runId: run.runId,
      err,
    });
  }
}

export { inputText, textOfInput };
