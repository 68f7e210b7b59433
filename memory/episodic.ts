// Episodic memory: what was said, per agent and per session, in order and with time, plus a small structured
// working memory per agent. The contract here; the Redis implementation is memory/redis/episodic.ts.

import { MemoryError, MemoryErrorCode } from './errors.js';

/** Who spoke a turn (the chat roles of the models layer). */
export type TurnRole = 'system' | 'user' | 'assistant' | 'tool';

/** Whose conversation: one agent's, in one session (a thread, a user's chat). */
export interface EpisodeScope {
  readonly agent: string;
  readonly session: string;
}

/** A turn to store. */
export interface TurnInput {
  role: TurnRole;
  content: string;
  /** When it was said (epoch ms). @defaultValue now */
  at?: number;
  /** Anything small to keep with it (a tool name, a message id), stored as JSON. */
  metadata?: Record<string, unknown>;
}

/** What replaced older turns: how many and which span of time. */
export interface SummaryInfo {
  /** Turns it stands for (a summary it replaced counts its own). */
  readonly turns: number;
  readonly fromMs: number;
  readonly toMs: number;
}

/** A stored turn. */
export interface Turn {
  /** Unique within the scope; ids order turns that share a time stamp. */
  readonly id: string;
  readonly role: TurnRole;
  readonly content: string;
  readonly at: number;
  readonly metadata?: Record<string, unknown>;
  /** Set on a summary turn: it stands for older turns that were removed. */
  readonly summary?: SummaryInfo;
}

/** Writes the text of a summary of `turns` (oldest first), typically through a model call. */
export type Summarizer = (turns: readonly Turn[]) => Promise<string>;

/** Options of {@link EpisodicMemory.summarize}. */
export interface SummarizeOptions {
  /**
   * Newest turns left as they are; every older one goes into the summary.
   * @defaultValue 10
   */
  keep?: number;
  /**
   * Fewest older turns worth a summary: with fewer, nothing happens (a summary of one summary is no gain).
   * @defaultValue 2
   */
  minTurns?: number;
}

/** What {@link EpisodicMemory.summarize} did. */
export interface SummarizeResult {
  /** Turns replaced by the summary: 0 when there were too few, or when a concurrent change took some first. */
  readonly replaced: number;
  /** The summary turn written, if any. */
  readonly turn?: Turn;
  /**
   * True when some of the turns read were gone by the time the summary was ready (a concurrent summary, or the
   * length limit trimmed them): nothing was written, and calling again summarises what is there now.
   */
  readonly conflict?: boolean;
}

/** A JSON object: what working memory holds. */
export type WorkingMemory = Record<string, unknown>;

/**
 * Conversation turns per agent and session (each scope bounded by a length limit and expiring after a TTL of
 * quiet), with reads of the newest turns and by time, summaries that replace old turns in one atomic step, and
 * a small JSON working memory per agent.
 *
 * Every operation settles or rejects with a {@link MemoryError}: `MEMORY_UNAVAILABLE` while the store is
 * unreachable, `MEMORY_INVALID` for bad arguments.
 */
export interface EpisodicMemory {
  /** Stores a turn; returns it with its id and time. Trims the oldest turns past the length limit. */
  append(scope: EpisodeScope, turn: TurnInput): Promise<Turn>;
  /** The `n` newest turns, oldest first. */
  recent(scope: EpisodeScope, n: number): Promise<Turn[]>;
  /** The turns with `fromMs <= at <= toMs`, oldest first (at most `limit` of them, the oldest). */
  between(scope: EpisodeScope, fromMs: number, toMs: number, options?: { limit?: number }): Promise<Turn[]>;
  /** How many turns the scope holds. */
  count(scope: EpisodeScope): Promise<number>;
  /**
   * Replaces every turn but the `keep` newest with one summary turn written by `summarizer`, in its place in the
   * order. Turns appended meanwhile are kept; the replacement is all or nothing (see {@link SummarizeResult}).
   */
  summarize(
    scope: EpisodeScope,
    summarizer: Summarizer,
    options?: SummarizeOptions,
  ): Promise<SummarizeResult>;
  /** Forgets the scope's turns. */
  clear(scope: EpisodeScope): Promise<void>;
  /** The agent's working memory ({} when it has none). */
  getWorking(agent: string): Promise<WorkingMemory>;
  /** Replaces the agent's working memory. */
  setWorking(agent: string, value: WorkingMemory): Promise<void>;
  /**
   * Merges `partial` into the working memory at the top level, atomically (a `null` value removes the key), and
   * returns the result.
   */
  patchWorking(agent: string, partial: WorkingMemory): Promise<WorkingMemory>;
  /** Releases what it opened (a connection it owns); a client that was given stays open. */
  close(): Promise<void>;
}

const ROLES: ReadonlySet<string> = new Set(['system', 'user', 'assistant', 'tool']);

/** @internal Throws `MEMORY_INVALID` unless `scope` names an agent and a session. */
export function assertScope(scope: EpisodeScope): void {
  if (
    typeof scope !== 'object' ||
    scope === null ||
    typeof scope.agent !== 'string' ||
    scope.agent === '' ||
    typeof scope.session !== 'string' ||
    scope.session === ''
  )
    throw new MemoryError(MemoryErrorCode.Invalid, 'scope must be { agent, session } with non-empty strings');
}

/** @internal Throws `MEMORY_INVALID` unless `turn` is a turn to store. */
export function assertTurn(turn: TurnInput): void {
  if (typeof turn !== 'object' || turn === null || !ROLES.has(turn.role))
    throw new MemoryError(MemoryErrorCode.Invalid, 'turn.role must be system, user, assistant or tool');
  if (typeof turn.content !== 'string')
    throw new MemoryError(MemoryErrorCode.Invalid, 'turn.content must be a string');
  if (turn.at !== undefined && !Number.isFinite(turn.at))
    throw new MemoryError(MemoryErrorCode.Invalid, 'turn.at must be epoch milliseconds');
}

/** @internal Throws `MEMORY_INVALID` unless `value` is a plain JSON object. */
export function assertObject(value: unknown, what: string): asserts value is WorkingMemory {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new MemoryError(MemoryErrorCode.Invalid, `${what} must be a plain object`);
}
