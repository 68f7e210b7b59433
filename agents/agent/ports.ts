// What the agent loop needs from the tool and journal layers, as narrow structural contracts: the loop is
// written against these, and `kit.ts` adapts agents/tools and agents/journal to them.

import type { z } from 'zod';
import type { ToolCall } from '../../models/index.js';
import type { JournalEntry } from '../journal/index.js';

/** A tool call's result as the loop sees it (agents/tools' `ToolOutcome`). */
export type ToolOutcome =
  | { ok: true; value: unknown; durationMs: number }
  | {
      ok: false;
      code: string;
      message: string;
      retryable: boolean;
      durationMs: number;
      retryAfterMs?: number;
    };

/** A registered tool as the loop sees it. */
export interface LoopTool {
  readonly name: string;
  readonly description?: string | undefined;
  readonly input: z.ZodType;
  readonly needsApproval?: boolean | ((input: never) => boolean) | undefined;
}

/** One step's run config, journaled in `started` and changed by `config` entries. */
export interface StepConfig {
  model: string;
  instructions: string;
  temperature?: number;
}

/** A journal entry with its content resolved (no blob references): the journal's own type. */
export type LoopEntry = JournalEntry;

/** One run's journal: read once when the run is loaded, appended to before each effect is acted on. */
export interface LoopJournal {
  load(): Promise<LoopEntry[]>;
  append(entry: LoopEntry): Promise<void>;
  /** The run ended: compact it, drop it from the open-runs index. */
  close?(finished: boolean): Promise<void>;
}

/** An assistant message as a step keeps it (the model's answer). */
export interface AssistantMessageLike {
  role: 'assistant';
  content: string | null;
  toolCalls?: readonly ToolCall[];
}
