// The messages a team actor takes and what a run answers: the output, and a transcript of who said what in
// which round.

import type { ActorStatus, Reply } from '../../runtime/index.js';

/** One member run of a team run, in the order the pattern asked for it. */
export interface TeamTurn {
  /** The member's name in the team. */
  member: string;
  /** 1-based round of the pattern (a debate round, a review round, a plan round; 1 for one-shot patterns). */
  round: number;
  /** The member's runId: `<team runId>:<member>:<key>`, so a run asked again re-asks the same member runs. */
  runId: string;
  /** What the member was asked. */
  input: string;
  /** What it answered (for a member that is a team, that team's output; its own turns are in `turns`). */
  output: unknown;
  /** The turns of a member that is itself a team. */
  turns?: TeamTurn[];
}

/** Why a team run ended with an answer. */
export type TeamFinishReason =
  /** The pattern ran to its end (sequential, parallel, an orchestrator that answered). */
  | 'done'
  /** A judge ended the debate with a verdict before the round limit. */
  | 'verdict'
  /** Every reviewer approved the draft. */
  | 'approved'
  /** The round limit was reached: the last verdict, draft or synthesis is the answer. */
  | 'max-rounds';

/** What a team run answers. */
export interface TeamResult<O = unknown> {
  /** The team's name (its actor type). */
  team: string;
  runId: string;
  output: O;
  reason: TeamFinishReason;
  /** Rounds the pattern went through. */
  rounds: number;
  transcript: TeamTurn[];
  /** Member runs asked again after a failure (a crash, a model error) that then answered. */
  retries: number;
}

export interface TeamMemberStatus {
  name: string;
  address: string;
  /** `remote` for a member given by address (the team does not supervise it). */
  status: ActorStatus | 'remote';
  restarts: number;
}

export interface TeamStatus {
  team: string;
  members: TeamMemberStatus[];
  /** Runs in progress: how many member runs each has asked for. */
  runs: { runId: string; turns: number }[];
}

/**
 * The team's protocol. `run` answers with a {@link TeamResult}; asking again with the same `runId` while it
 * runs joins it, after it ended answers the same (kept for the last 1,000 runs), and after a crash re-runs the
 * pattern, whose member runs (derived runIds) answer from their journals without new model calls.
 */
export type TeamProtocol = {
  /** `tenant`: passed on to every member run (whose budget it spends). */
  run: { input: string; runId?: string; tenant?: string } & Reply<TeamResult>;
  status: Reply<TeamStatus>;
};
