// A tool that lets an agent search its semantic memory itself (beyond what is recalled for it each step).

import { z } from 'zod';
import type { SemanticMemory } from '../../memory/index.js';
import { defineTool, type Tool } from './define.js';

/** Options of {@link retrievalTool}. */
export interface RetrievalToolOptions {
  /** @defaultValue `search_memory` */
  name?: string;
  /** @defaultValue a sentence saying what the memory holds is unknown to the model until it searches */
  description?: string;
  /** Most documents one call may return. @defaultValue 8 */
  maxK?: number;
}

/**
 * A tool over `memory`: the model gives a query (and optionally k), the tool answers with the best matching
 * documents (id, text, score), best first.
 *
 * @example
 * tools.register(retrievalTool(await semanticMemory({ ... }), { name: 'search_docs' }));
 */
export function retrievalTool(
  memory: SemanticMemory,
  options: RetrievalToolOptions = {},
): Tool<{ query: string; k?: number | undefined }, { id: string; text: string; score: number }[]> {
  const maxK = options.maxK ?? 8;
  return defineTool({
    name: options.name ?? 'search_memory',
    description:
      options.description ??
      'Searches the long-term memory for documents about a query; returns the best matches, best first.',
    input: z.object({ query: z.string().min(1), k: z.number().int().min(1).max(maxK).optional() }),
    run: async ({ query, k }, { signal }) =>
      (await memory.search(query, { k: k ?? Math.min(4, maxK), signal })).map((h) => ({
        id: h.id,
        text: h.text,
        score: Math.round(h.score * 1000) / 1000,
      })),
  });
}
