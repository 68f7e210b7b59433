// The orchestrator-and-workers pattern: an orchestrator plans (structured output: tasks for named workers),
// the workers run their tasks at once, the orchestrator sees their results and plans again or answers; a
// bounded number of plan rounds, then it must answer.

import { InvalidOptionsError } from '../../runtime/index.js';
import { defineTeamWith, type TeamDefinition } from './define.js';
import { TeamError, TeamErrorCode } from './errors.js';
import { assertMembers, resolveTeamOptions, roundsOption, type TeamOptions } from './options.js';
import { readPlan, type TeamPlan, textOf } from './replies.js';

/** A worker's result, as the orchestrator sees it. */
export interface OrchestratorResult {
  round: number;
  worker: string;
  task: string;
  output: unknown;
}

/** What the orchestrator is asked in a round. */
export interface OrchestratorStep {
  input: string;
  round: number;
  workers: readonly string[];
  results: readonly OrchestratorResult[];
  /** No more delegation: this round's plan must answer. */
  final: boolean;
}

export interface OrchestratorTeamOptions extends TeamOptions {
  /** The member that plans and answers; it must answer a plan (`TEAM_REPLY_SCHEMAS.plan`). */
  orchestrator: string;
  /** @defaultValue every other member */
  workers?: readonly string[];
  /** Plan rounds with delegation; then one more ask for the answer. @defaultValue 3 */
  maxRounds?: number;
  prompt?: (step: OrchestratorStep) => string;
  /** What a worker is asked. @defaultValue the team's input and its task */
  taskPrompt?: (input: string, task: string) => string;
}

export function orchestratorPrompt(step: OrchestratorStep): string {
  const lines = [`Task: ${step.input}`, `Workers: ${step.workers.join(', ')}`];
  if (step.results.length > 0)
    lines.push(
      'Results so far:',
      ...step.results.map((r) => `- round ${r.round}, ${r.worker} (${r.task}): ${textOf(r.output)}`),
    );
  lines.push(
    step.final
      ? 'Answer now, delegating nothing: {"tasks": [], "answer": "..."}'
      : 'Reply with JSON {"tasks": [{"worker": "...", "task": "..."}]} to delegate, or {"tasks": [], "answer": "..."} to answer.',
  );
  return lines.join('\n');
}

/**
 * A team whose orchestrator plans, delegates to workers and synthesises their results.
 *
 * @example
 * const board = orchestratorTeam({ name: 'board', members: { ceo, finance, tech }, orchestrator: 'ceo' });
 */
export function orchestratorTeam(options: OrchestratorTeamOptions): TeamDefinition {
  const team = resolveTeamOptions(options);
  const orchestrator = options.orchestrator;
  assertMembers(team, [orchestrator], 'orchestrator');
  const workers = [...(options.workers ?? [...team.members.keys()].filter((m) => m !== orchestrator))];
  assertMembers(team, workers, 'workers');
  if (workers.length === 0 || workers.includes(orchestrator))
    throw new InvalidOptionsError('workers', 'expected at least one worker, not the orchestrator');
  const maxRounds = roundsOption(options.maxRounds, 'maxRounds', 3);
  const prompt = options.prompt ?? orchestratorPrompt;
  const taskPrompt =
    options.taskPrompt ?? ((input: string, task: string) => `${task}\n\n(Part of: ${input})`);
  return defineTeamWith(team, async (run) => {
    const results: OrchestratorResult[] = [];
    const where = (round: number) => ({ team: team.name, member: orchestrator, round });
    for (let round = 1; round <= maxRounds + 1; round++) {
      const final = round > maxRounds;
      if (!final) run.rounds = round;
      const step = { input: run.input, round, workers, results: [...results], final };
      const plan: TeamPlan = readPlan(await run.ask(orchestrator, prompt(step), { round }), where(round));
      if (plan.tasks.length === 0 || final)
        return { output: plan.answer ?? '', reason: final ? 'max-rounds' : 'done' };
      for (const t of plan.tasks)
        if (!workers.includes(t.worker))
          throw new TeamError(
            TeamErrorCode.UnknownMember,
            `team ${team.name}: the plan of round ${round} names ${t.worker}, not one of its workers`,
            { data: { member: orchestrator, round, worker: t.worker } },
          );
      const outputs = await Promise.all(
        plan.tasks.map((t, i) =>
          run.ask(t.worker, taskPrompt(run.input, t.task), { round, key: `${round}.${i + 1}` }),
        ),
      );
      for (const [i, t] of plan.tasks.entries())
        results.push({ round, worker: t.worker, task: t.task, output: outputs[i] });
    }
    throw new Error('unreachable: the final round always answers');
  });
}
