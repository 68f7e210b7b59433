// A summarizer for episodic memory that asks a model: old turns in, one short summary out, through the model
// router (its retries, fallbacks, budgets and spans).

import type { ModelRouter, RouterCallOptions } from '../models/index.js';
import type { Summarizer, Turn } from './episodic.js';

/** Options of {@link modelSummarizer}. */
export interface ModelSummarizerOptions {
  /** @defaultValue a request for a short factual summary that keeps names, numbers and decisions */
  instructions?: string;
  /** @defaultValue 300 */
  maxTokens?: number;
  /** Whose budget the summary spends (`{ agent }` for an agent's memory). */
  budget?: RouterCallOptions['budget'];
}

const INSTRUCTIONS =
  'Summarise this conversation in a few sentences for your own later use. Keep names, numbers, decisions and open questions; leave out pleasantries.';

/** A {@link Summarizer} that asks model group `group` of `router` for the summary. */
export function modelSummarizer(
  router: ModelRouter,
  group: string,
  options: ModelSummarizerOptions = {},
): Summarizer {
  return async (turns: readonly Turn[]) => {
    const transcript = turns
      .map((t) => `${t.summary === undefined ? t.role : 'earlier summary'}: ${t.content}`)
      .join('\n');
    const result = await router.chat(
      group,
      {
        messages: [
          { role: 'system', content: options.instructions ?? INSTRUCTIONS },
          { role: 'user', content: transcript },
        ],
        maxTokens: options.maxTokens ?? 300,
      },
      options.budget === undefined ? {} : { budget: options.budget },
    );
    return result.text;
  };
}
