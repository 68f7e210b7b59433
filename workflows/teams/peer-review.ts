// The peer-review pattern: an author drafts, reviewers review the draft at once, the author revises on their
// comments; until every reviewer approves or the round limit, when the last draft is the answer.

import { InvalidOptionsError } from '../../runtime/index.js';
import { defineTeamWith, type TeamDefinition } from './define.js';
import { assertMembers, resolveTeamOptions, roundsOption, type TeamOptions } from './options.js';
import { readReview, type TeamReview, textOf } from './replies.js';

export interface PeerReviewTeamOptions extends TeamOptions {
  /** The member that drafts and revises. */
  author: string;
  /** Members that review; each must answer a review (`TEAM_REPLY_SCHEMAS.review`). @defaultValue every other member */
  reviewers?: readonly string[];
  /** Review rounds (drafts reviewed) at most. @defaultValue 3 */
  maxRounds?: number;
  /** What a reviewer is asked. */
  reviewPrompt?: (input: string, draft: unknown, reviewer: string, round: number) => string;
  /** What the author is asked to revise. */
  revisePrompt?: (input: string, draft: unknown, reviews: Readonly<Record<string, TeamReview>>) => string;
}

export function reviewPrompt(input: string, draft: unknown): string {
  return `Review this draft for the task "${input}".\n\nDraft:\n${textOf(draft)}\n\nReply with JSON {"approved": true|false, "comments": "..."}.`;
}

export function revisePrompt(
  input: string,
  draft: unknown,
  reviews: Readonly<Record<string, TeamReview>>,
): string {
  const comments = Object.entries(reviews)
    .filter(([, r]) => !r.approved)
    .map(([member, r]) => `${member}: ${r.comments}`);
  return `Task: ${input}\n\nYour draft:\n${textOf(draft)}\n\nRevise it for these reviews:\n${comments.join('\n')}`;
}

/**
 * A team whose author drafts and revises until its reviewers all approve, or `maxRounds` reviews. The output
 * is the last draft; `reason` is `approved` or `max-rounds`.
 *
 * @example
 * const paper = peerReviewTeam({ name: 'paper', members: { author, r1, r2 }, author: 'author', maxRounds: 2 });
 */
export function peerReviewTeam(options: PeerReviewTeamOptions): TeamDefinition {
  const team = resolveTeamOptions(options);
  const author = options.author;
  assertMembers(team, [author], 'author');
  const reviewers = [...(options.reviewers ?? [...team.members.keys()].filter((m) => m !== author))];
  assertMembers(team, reviewers, 'reviewers');
  if (reviewers.length === 0 || reviewers.includes(author))
    throw new InvalidOptionsError('reviewers', 'expected at least one reviewer, not the author');
  const maxRounds = roundsOption(options.maxRounds, 'maxRounds', 3);
  const reviewing = options.reviewPrompt ?? reviewPrompt;
  const revising = options.revisePrompt ?? revisePrompt;
  return defineTeamWith(team, async (run) => {
    let draft = await run.ask(author, run.input, { round: 1 });
    for (let round = 1; ; round++) {
      run.rounds = round;
      const outputs = await Promise.all(
        reviewers.map((r) => run.ask(r, reviewing(run.input, draft, r, round), { round })),
      );
      const reviews: Record<string, TeamReview> = {};
      reviewers.forEach((r, i) => {
        reviews[r] = readReview(outputs[i], { team: team.name, member: r, round });
      });
      if (Object.values(reviews).every((r) => r.approved)) return { output: draft, reason: 'approved' };
      if (round >= maxRounds) return { output: draft, reason: 'max-rounds' };
      draft = await run.ask(author, revising(run.input, draft, reviews), { round: round + 1 });
    }
  });
}
