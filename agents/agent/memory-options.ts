// What `defineAgent({ memory })` takes, checked and resolved (apart from memory.ts, which the resolved agent
// type refers to).

import type { EpisodicMemory, SemanticMemory } from '../../memory/index.js';
import { InvalidOptionsError } from '../../runtime/index.js';

/** What an agent remembers with. */
export interface AgentMemoryOptions {
  /** Documents recalled for the run's input before each model call. */
  semantic?: SemanticMemory;
  /** Turns of the run's session (`run { session }`, else its run id): earlier ones recalled, new ones stored. */
  episodic?: EpisodicMemory;
  /** Documents recalled per model call. @defaultValue 4 */
  k?: number;
  /** Earlier turns of the session recalled. @defaultValue 10 */
  turns?: number;
  /** The window the conversation plus recalled text must fit in (tokens, chars/4). @defaultValue 8000 */
  maxContextTokens?: number;
  /**
   * Once a session holds more turns than this, the older ones (all but the newest `turns`) are summarised by the
   * agent's own model group, on the agent's budget, into one summary turn. @defaultValue never
   */
  summarizeAfter?: number;
}

/** @internal Resolved memory options. */
export interface ResolvedMemory {
  semantic: SemanticMemory | undefined;
  episodic: EpisodicMemory | undefined;
  k: number;
  turns: number;
  maxContextTokens: number;
  summarizeAfter: number | undefined;
}

const positive = (v: unknown, name: string, fallback: number): number => {
  if (v === undefined) return fallback;
  if (!(Number.isInteger(v) && (v as number) > 0))
    throw new InvalidOptionsError(`memory.${name}`, `expected a positive integer, got ${String(v)}`);
  return v as number;
};

/** @internal Checks `defineAgent({ memory })`. */
export function resolveMemory(options: AgentMemoryOptions | undefined): ResolvedMemory | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null)
    throw new InvalidOptionsError(
      'memory',
      'expected { semantic?, episodic?, k?, turns?, maxContextTokens? }',
    );
  if (options.semantic !== undefined && typeof options.semantic.search !== 'function')
    throw new InvalidOptionsError('memory.semantic', 'expected a semanticMemory()');
  if (options.episodic !== undefined && typeof options.episodic.append !== 'function')
    throw new InvalidOptionsError('memory.episodic', 'expected an episodicMemory()');
  return {
    semantic: options.semantic,
    episodic: options.episodic,
    k: positive(options.k, 'k', 4),
    turns: positive(options.turns, 'turns', 10),
    maxContextTokens: positive(options.maxContextTokens, 'maxContextTokens', 8000),
    summarizeAfter:
      options.summarizeAfter === undefined
        ? undefined
        : positive(options.summarizeAfter, 'summarizeAfter', 0),
  };
}
