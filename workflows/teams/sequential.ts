// The sequential pattern: members in order, each given the previous member's answer; the last one's is the
// team's.

import { InvalidOptionsError } from '../../runtime/index.js';
import { defineTeamWith, type TeamDefinition } from './define.js';
import { assertMembers, resolveTeamOptions, type TeamOptions } from './options.js';
import { textOf } from './replies.js';

/** What a sequential member is asked. */
export interface SequentialStep {
  /** The team run's input. */
  input: string;
  /** 0-based position in the order. */
  index: number;
  /** The member before (undefined for the first) and its answer. */
  previous: { member: string; output: unknown } | undefined;
}

export interface SequentialTeamOptions extends TeamOptions {
  /** The order members run in. @defaultValue the order of `members` */
  order?: readonly string[];
  /** @defaultValue the input for the first; the input and the previous answer for the others */
  prompt?: (step: SequentialStep) => string;
}

export function sequentialPrompt(step: SequentialStep): string {
  if (step.previous === undefined) return step.input;
  return `Task: ${step.input}\n\n${step.previous.member} answered:\n${textOf(step.previous.output)}`;
}

/**
 * A team whose members run one after the other, each on the previous one's answer.
 *
 * @example
 * const pipeline = sequentialTeam({ name: 'pipeline', members: { researcher, writer, editor } });
 * const { output, transcript } = await system.spawn(pipeline).ask({ type: 'run', input: 'Tides', runId: 't1' });
 */
export function sequentialTeam(options: SequentialTeamOptions): TeamDefinition {
  const team = resolveTeamOptions(options);
  const order = [...(options.order ?? team.members.keys())];
  assertMembers(team, order, 'order');
  if (order.length === 0) throw new InvalidOptionsError('order', 'expected at least one member');
  const prompt = options.prompt ?? sequentialPrompt;
  return defineTeamWith(team, async (run) => {
    run.rounds = 1;
    let previous: SequentialStep['previous'];
    for (const [index, member] of order.entries()) {
      const output = await run.ask(member, prompt({ input: run.input, index, previous }), { round: 1 });
      previous = { member, output };
    }
    return { output: previous?.output, reason: 'done' };
  });
}
