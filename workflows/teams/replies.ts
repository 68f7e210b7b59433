// The answers a pattern reads, not just passes on: an orchestrator's plan, a judge's verdict, a reviewer's
// review. A member with a structured `output` answers an object; one without answers text, read as JSON (a
// fenced block too). Anything else fails the run with `TEAM_BAD_REPLY`: a pattern never guesses.

import { TeamError, TeamErrorCode } from './errors.js';

/** An orchestrator's plan: tasks for workers, or (no tasks) the final answer. */
export interface TeamPlan {
  tasks: { worker: string; task: string }[];
  answer?: string;
}

/** A judge's verdict after a debate round: `done` ends the debate. */
export interface TeamVerdict {
  done: boolean;
  verdict: string;
  winner?: string;
}

/** A reviewer's review of a draft. */
export interface TeamReview {
  approved: boolean;
  comments: string;
}

/** JSON Schemas of the three shapes, for a member's instructions (or a zod schema of the same shape as its `output`). */
export const TEAM_REPLY_SCHEMAS = Object.freeze({
  plan: {
    type: 'object',
    properties: {
      tasks: {
        type: 'array',
        items: {
          type: 'object',
          properties: { worker: { type: 'string' }, task: { type: 'string' } },
          required: ['worker', 'task'],
        },
      },
      answer: { type: 'string' },
    },
    required: ['tasks'],
  },
  verdict: {
    type: 'object',
    properties: { done: { type: 'boolean' }, verdict: { type: 'string' }, winner: { type: 'string' } },
    required: ['done', 'verdict'],
  },
  review: {
    type: 'object',
    properties: { approved: { type: 'boolean' }, comments: { type: 'string' } },
    required: ['approved', 'comments'],
  },
});

/** An output as text for the next prompt: strings as they are, anything else as JSON. */
export function textOf(output: unknown): string {
  return typeof output === 'string' ? output : JSON.stringify(output);
}

interface Where {
  team: string;
  member: string;
  round: number;
}

export function readPlan(output: unknown, where: Where): TeamPlan {
  const v = objectOf(output, where, 'a plan { tasks: [{ worker, task }], answer? }');
  const tasks = v.tasks;
  if (
    !Array.isArray(tasks) ||
    !tasks.every(
      (t) =>
        typeof t === 'object' && t !== null && typeof t.worker === 'string' && typeof t.task === 'string',
    ) ||
    (v.answer !== undefined && v.answer !== null && typeof v.answer !== 'string')
  )
    throw bad(where, 'a plan { tasks: [{ worker, task }], answer? }', output);
  const plan: TeamPlan = { tasks: tasks.map((t) => ({ worker: t.worker, task: t.task })) };
  if (typeof v.answer === 'string') plan.answer = v.answer;
  return plan;
}

export function readVerdict(output: unknown, where: Where): TeamVerdict {
  const v = objectOf(output, where, 'a verdict { done, verdict, winner? }');
  if (typeof v.done !== 'boolean' || typeof v.verdict !== 'string')
    throw bad(where, 'a verdict { done, verdict, winner? }', output);
  const verdict: TeamVerdict = { done: v.done, verdict: v.verdict };
  if (typeof v.winner === 'string' && v.winner !== '') verdict.winner = v.winner;
  return verdict;
}

export function readReview(output: unknown, where: Where): TeamReview {
  const v = objectOf(output, where, 'a review { approved, comments }');
  if (typeof v.approved !== 'boolean' || typeof v.comments !== 'string')
    throw bad(where, 'a review { approved, comments }', output);
  return { approved: v.approved, comments: v.comments };
}

// biome-ignore lint/suspicious/noExplicitAny: checked field by field by the readers above
function objectOf(output: unknown, where: Where, expected: string): Record<string, any> {
  let value = output;
  if (typeof value === 'string') {
    const fenced = /```(?:json)?\s*([\s\S]*?)```/.exec(value);
    try {
      value = JSON.parse((fenced?.[1] ?? value).trim());
    } catch {
      throw bad(where, expected, output);
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad(where, expected, output);
  return value as Record<string, unknown>;
}

function bad(where: Where, expected: string, output: unknown): TeamError {
  return new TeamError(
    TeamErrorCode.BadReply,
    `team ${where.team}: member ${where.member} answered something other than ${expected} in round ${where.round}`,
    { data: { member: where.member, round: where.round, reply: textOf(output).slice(0, 2000) } },
  );
}
