// The debate (and group chat) pattern: debaters argue in rounds, seeing every earlier argument; after
// each round a judge answers a verdict, which may end the debate; at the round limit the judge must decide.

import { InvalidOptionsError } from '../../runtime/index.js';
import { defineTeamWith, type TeamDefinition } from './define.js';
import { assertMembers, resolveTeamOptions, roundsOption, type TeamOptions } from './options.js';
import { readVerdict, textOf } from './replies.js';

/** One argument made in the debate. */
export interface DebateArgument {
  round: number;
  member: string;
  output: unknown;
}

export interface DebateStep {
  topic: string;
  round: number;
  /** Every argument of the earlier rounds (and, for the judge, of this one), in order. */
  arguments: readonly DebateArgument[];
  /** For the judge: the last round, the verdict must decide. */
  final: boolean;
}

export interface DebateTeamOptions extends TeamOptions {
  /** The member that judges; it must answer a verdict (`TEAM_REPLY_SCHEMAS.verdict`). */
  judge: string;
  /** @defaultValue every other member, in the order of `members` */
  debaters?: readonly string[];
  /** @defaultValue 3 */
  maxRounds?: number;
  /**
   * `at-once`: a round's debaters argue together, each seeing the earlier rounds (a debate). `in-turn`: one
   * after the other, each seeing what was said before it in the round too (a group chat). @defaultValue 'at-once'
   */
  speaking?: 'at-once' | 'in-turn';
  /** What a debater is asked. */
  prompt?: (step: DebateStep, debater: string) => string;
  /** What the judge is asked. */
  judgePrompt?: (step: DebateStep) => string;
}

const argued = (args: readonly DebateArgument[]) =>
  args.map((a) => `[round ${a.round}] ${a.member}: ${textOf(a.output)}`).join('\n');

export function debatePrompt(step: DebateStep, debater: string): string {
  if (step.arguments.length === 0)
    return `Debate: ${step.topic}\nYou are ${debater}. Make your opening argument.`;
  return `Debate: ${step.topic}\nYou are ${debater}. The debate so far:\n${argued(step.arguments)}\nRound ${step.round}: answer the others.`;
}

export function judgePrompt(step: DebateStep): string {
  const ask = step.final
    ? 'This was the last round: decide. Reply with JSON {"done": true, "verdict": "...", "winner": "..."}.'
    : 'Reply with JSON {"done": true, "verdict": "...", "winner": "..."} to end the debate, or {"done": false, "verdict": "..."} to go on.';
  return `Debate: ${step.topic}\nRound ${step.round} of the debate:\n${argued(step.arguments)}\n${ask}`;
}

/**
 * A team whose debaters argue for at most `maxRounds` rounds and whose judge decides (or ends it earlier).
 * The team's output is the last verdict `{ done, verdict, winner? }`.
 *
 * @example
 * const debate = debateTeam({ name: 'debate', members: { pro, con, judge }, judge: 'judge', maxRounds: 3 });
 */
export function debateTeam(options: DebateTeamOptions): TeamDefinition {
  const team = resolveTeamOptions(options);
  const judge = options.judge;
  assertMembers(team, [judge], 'judge');
  const debaters = [...(options.debaters ?? [...team.members.keys()].filter((m) => m !== judge))];
  assertMembers(team, debaters, 'debaters');
  if (debaters.length === 0 || debaters.includes(judge))
    throw new InvalidOptionsError('debaters', 'expected at least one debater, not the judge');
  const maxRounds = roundsOption(options.maxRounds, 'maxRounds', 3);
  const speaking = options.speaking ?? 'at-once';
  if (speaking !== 'at-once' && speaking !== 'in-turn')
    throw new InvalidOptionsError('speaking', `expected at-once or in-turn, got ${String(speaking)}`);
  const prompt = options.prompt ?? debatePrompt;
  const judging = options.judgePrompt ?? judgePrompt;
  return defineTeamWith(team, async (run) => {
    const args: DebateArgument[] = [];
    for (let round = 1; ; round++) {
      run.rounds = round;
      const ask = (d: string, seen: DebateArgument[]) =>
        run.ask(d, prompt({ topic: run.input, round, arguments: seen, final: false }, d), { round });
      if (speaking === 'in-turn')
        for (const member of debaters) args.push({ round, member, output: await ask(member, [...args]) });
      else {
        const before = [...args];
        const outputs = await Promise.all(debaters.map((d) => ask(d, before)));
        for (const [i, member] of debaters.entries()) args.push({ round, member, output: outputs[i] });
      }
      const final = round >= maxRounds;
      const verdict = readVerdict(
        await run.ask(judge, judging({ topic: run.input, round, arguments: [...args], final }), { round }),
        { team: team.name, member: judge, round },
      );
      if (verdict.done) return { output: verdict, reason: 'verdict' };
      if (final) return { output: verdict, reason: 'max-rounds' };
    }
  });
}
