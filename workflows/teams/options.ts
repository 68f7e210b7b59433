// What every team pattern takes: its name, its members (agent definitions it spawns and supervises, other teams,
// or addresses of agents that run elsewhere), its budget, and how member failures are handled.

import type { AgentDefinition } from '../../agents/index.js';
import { type ActorDefinition, InvalidOptionsError, type SupervisionOptions } from '../../runtime/index.js';
import {
  type BackoffOptions,
  type IntensityOptions,
  resolveBackoffOptions,
  resolveIntensityOptions,
} from '../../supervisor/index.js';
import type { TeamProtocol } from './protocol.js';

/**
 * A member: an agent definition (`kit.defineAgent`) or a team definition, spawned as a supervised child of the
 * team; or the address of an agent (or team) that runs elsewhere (`node/path`, `$v/<type>/<id>`), asked by
 * address and not supervised by this team.
 */
// biome-ignore lint/suspicious/noExplicitAny: any member definition of the agent protocol's `run` will do
export type TeamMember = AgentDefinition | ActorDefinition<TeamProtocol, any> | string;

/** A team's budget. */
export interface TeamBudget {
  /**
   * The budget id of the team in the router's `budgetLedger` (limits with `scope: 'team'`). Every member
   * definition must spend it (`defineAgent({ budget: { team } })`, checked here); a member refused by it
   * stops the team run with `TEAM_BUDGET_EXCEEDED`.
   */
  team?: string;
  /** Most member runs one team run may ask for (retries not counted); one more fails it with `TEAM_BUDGET_EXCEEDED`. */
  maxTurns?: number;
}

export interface TeamOptions {
  /** The team's name: its actor type, and the name in its results. */
  name: string;
  /** Members by name (the name is the child actor's name and part of each member runId). */
  members: Readonly<Record<string, TeamMember>>;
  budget?: TeamBudget;
  /** How long one member run may take before its ask fails (`ASK_TIMEOUT`, then retried). @defaultValue 120000 */
  memberTimeoutMs?: number;
  /**
   * A member run that fails (a model error, a crash: the member is restarted by the team) is asked again with
   * the same runId this many times; journaled members resume where they were. Budget failures and the
   * member's own verdicts (a refusal, an invalid output) are never retried. @defaultValue 2
   */
  memberRetries?: number;
  /**
   * The members' restart intensity: one restart more within the window and the team itself fails (to its
   * supervisor, or its own `supervision`). @defaultValue `{ maxRestarts: 3, withinMs: 5000 }`
   */
  intensity?: IntensityOptions;
  /** Delays between a member's restarts. @defaultValue none: at once */
  backoff?: BackoffOptions;
  /** The team actor's own supervision, when it has no supervisor above it. */
  supervision?: SupervisionOptions;
}

export interface ResolvedTeamOptions {
  name: string;
  members: ReadonlyMap<string, TeamMember>;
  budget: TeamBudget;
  memberTimeoutMs: number;
  memberRetries: number;
  intensity: IntensityOptions;
  backoff: BackoffOptions | undefined;
  supervision: SupervisionOptions | undefined;
}

export const DEFAULT_MEMBER_TIMEOUT_MS = 120_000;
export const DEFAULT_MEMBER_RETRIES = 2;

const NAME = /^[a-zA-Z0-9_-]{1,64}$/;

/** Checks and resolves the options every pattern shares; never mutates `options`. */
export function resolveTeamOptions(options: TeamOptions): ResolvedTeamOptions {
  if (typeof options !== 'object' || options === null)
    throw new InvalidOptionsError('options', 'expected an object');
  if (typeof options.name !== 'string' || !NAME.test(options.name))
    throw new InvalidOptionsError('name', 'expected 1-64 characters of [a-zA-Z0-9_-]');
  if (typeof options.members !== 'object' || options.members === null || Array.isArray(options.members))
    throw new InvalidOptionsError('members', 'expected an object of member name -> definition or address');
  const budget = { ...(options.budget ?? {}) };
  if (budget.team !== undefined && (typeof budget.team !== 'string' || budget.team === ''))
    throw new InvalidOptionsError('budget.team', 'expected a budget id');
  if (budget.maxTurns !== undefined && !(Number.isInteger(budget.maxTurns) && budget.maxTurns > 0))
    throw new InvalidOptionsError(
      'budget.maxTurns',
      `expected a positive integer, got ${String(budget.maxTurns)}`,
    );
  const members = new Map<string, TeamMember>();
  for (const [name, member] of Object.entries(options.members)) {
    if (!NAME.test(name))
      throw new InvalidOptionsError(`members.${name}`, 'expected a name of 1-64 characters of [a-zA-Z0-9_-]');
    if (typeof member === 'string') {
      if (member === '') throw new InvalidOptionsError(`members.${name}`, 'expected an address');
    } else if (typeof member !== 'object' || member === null || typeof member.handlers?.run !== 'function')
      throw new InvalidOptionsError(
        `members.${name}`,
        'expected an agent or team definition (one that handles `run`), or an address',
      );
    const spends = typeof member === 'object' && 'agent' in member ? member.agent.budget.team : undefined;
    if (
      budget.team !== undefined &&
      typeof member === 'object' &&
      'agent' in member &&
      spends !== budget.team
    )
      throw new InvalidOptionsError(
        `members.${name}`,
        `spends team budget ${String(spends)}; give it budget: { team: '${budget.team}' }`,
      );
    members.set(name, member);
  }
  if (members.size === 0) throw new InvalidOptionsError('members', 'expected at least one member');
  const memberTimeoutMs = options.memberTimeoutMs ?? DEFAULT_MEMBER_TIMEOUT_MS;
  if (!(Number.isInteger(memberTimeoutMs) && memberTimeoutMs > 0))
    throw new InvalidOptionsError(
      'memberTimeoutMs',
      `expected a positive integer, got ${String(memberTimeoutMs)}`,
    );
  const memberRetries = options.memberRetries ?? DEFAULT_MEMBER_RETRIES;
  if (!(Number.isInteger(memberRetries) && memberRetries >= 0))
    throw new InvalidOptionsError('memberRetries', `expected 0 or more, got ${String(memberRetries)}`);
  resolveIntensityOptions(options.intensity);
  if (options.backoff !== undefined) resolveBackoffOptions(options.backoff);
  return {
    name: options.name,
    members,
    budget,
    memberTimeoutMs,
    memberRetries,
    intensity: { ...(options.intensity ?? {}) },
    backoff: options.backoff,
    supervision: options.supervision,
  };
}

/** Checks that `names` are members of the team (`field` names the option in the error). */
export function assertMembers(team: ResolvedTeamOptions, names: readonly string[], field: string): void {
  if (!Array.isArray(names)) throw new InvalidOptionsError(field, 'expected an array of member names');
  for (const [i, name] of names.entries())
    if (!team.members.has(name))
      throw new InvalidOptionsError(`${field}[${i}]`, `${String(name)} is not a member of team ${team.name}`);
}

/** Checks a pattern's round limit. */
export function roundsOption(value: number | undefined, field: string, fallback: number): number {
  const n = value ?? fallback;
  if (!(Number.isInteger(n) && n > 0 && n <= 100))
    throw new InvalidOptionsError(field, `expected an integer from 1 to 100, got ${String(value)}`);
  return n;
}
