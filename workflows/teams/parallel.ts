// The parallel pattern: workers answer the same input at once; an aggregator (a function, or a member agent
// given every answer) makes the team's answer.

import { InvalidOptionsError } from '../../runtime/index.js';
import { defineTeamWith, type TeamDefinition } from './define.js';
import { assertMembers, resolveTeamOptions, type TeamOptions } from './options.js';
import { textOf } from './replies.js';

/** Workers' answers by member name, in the order of `workers`. */
export type ParallelAnswers = Readonly<Record<string, unknown>>;

export interface ParallelTeamOptions extends TeamOptions {
  /** @defaultValue every member but the aggregating one */
  workers?: readonly string[];
  /**
   * Makes the answer: a function of the answers, or the name of the member that is asked to (with
   * `aggregatePrompt`).
   */
  aggregate: string | ((answers: ParallelAnswers, input: string) => unknown | Promise<unknown>);
  /** What each worker is asked. @defaultValue the input */
  prompt?: (input: string, worker: string) => string;
  /** What an aggregating member is asked. @defaultValue the input, then each answer under its member's name */
  aggregatePrompt?: (input: string, answers: ParallelAnswers) => string;
}

export function aggregatePrompt(input: string, answers: ParallelAnswers): string {
  const parts = Object.entries(answers).map(([member, output]) => `${member} answered:\n${textOf(output)}`);
  return `Task: ${input}\n\nCombine these answers into one:\n\n${parts.join('\n\n')}`;
}

/**
 * A team whose workers answer at once, their answers combined by `aggregate`.
 *
 * @example
 * const panel = parallelTeam({ name: 'panel', members: { optimist, pessimist, editor }, aggregate: 'editor' });
 */
export function parallelTeam(options: ParallelTeamOptions): TeamDefinition {
  const team = resolveTeamOptions(options);
  const aggregate = options.aggregate;
  if (typeof aggregate === 'string') assertMembers(team, [aggregate], 'aggregate');
  else if (typeof aggregate !== 'function')
    throw new InvalidOptionsError('aggregate', 'expected a member name or a function');
  const workers = [...(options.workers ?? [...team.members.keys()].filter((m) => m !== aggregate))];
  assertMembers(team, workers, 'workers');
  if (workers.length === 0) throw new InvalidOptionsError('workers', 'expected at least one worker');
  const prompt = options.prompt ?? ((input: string) => input);
  const combinePrompt = options.aggregatePrompt ?? aggregatePrompt;
  return defineTeamWith(team, async (run) => {
    run.rounds = 1;
    const outputs = await Promise.all(workers.map((w) => run.ask(w, prompt(run.input, w), { round: 1 })));
    const answers: Record<string, unknown> = {};
    for (const [i, w] of workers.entries()) answers[w] = outputs[i];
    const output =
      typeof aggregate === 'string'
        ? await run.ask(aggregate, combinePrompt(run.input, answers), { round: 1 })
        : await aggregate(answers, run.input);
    return { output, reason: 'done' };
  });
}
