// One team run: what the pattern sees. `ask` runs a member with a runId derived from the team run's, retries
// it after a failure (the member restarted meanwhile), keeps the transcript in the order the pattern asked, and
// turns a budget refusal into the team's own failure.

import { createHash } from 'node:crypto';
import { type AnyActorRef, type Replier, TroupeError } from '../../runtime/index.js';
import { TeamError, TeamErrorCode } from './errors.js';
import type { ResolvedTeamOptions } from './options.js';
import type { TeamFinishReason, TeamResult, TeamTurn } from './protocol.js';

/** What a pattern ends with. */
export interface TeamOutcome {
  output: unknown;
  reason: TeamFinishReason;
}

/** A team's pattern: runs the members through `run.ask` and ends with an output. */
export type TeamPattern = (run: TeamRun) => Promise<TeamOutcome>;

export interface AskMemberOptions {
  /** The pattern's round (1-based), for the transcript. */
  round: number;
  /** The last part of the member's runId. @defaultValue the round */
  key?: string;
}

/** Codes a member answers with by itself: asking it again gives the same answer, so they are never retried. */
const FINAL = new Set([
  'INVALID_OPTIONS',
  // Stopped by its own decider: it comes back at the team's next run, not within this one.
  'ACTOR_STOPPED',
  'AGENT_OUTPUT_INVALID',
  'AGENT_REPAIRS_EXHAUSTED',
  'AGENT_REFUSED',
  TeamErrorCode.BadReply,
  TeamErrorCode.MemberFailed,
  TeamErrorCode.UnknownMember,
]);

const BUDGET = new Set(['BUDGET_EXCEEDED', TeamErrorCode.BudgetExceeded]);

const codeOf = (err: unknown): string =>
  TroupeError.is(err) ? err.code : err instanceof Error ? err.name : 'ERROR';

export class TeamRun {
  readonly runId: string;
  readonly input: string;
  readonly tenant: string | undefined;
  /** Rounds the pattern went through: patterns set it as they go. */
  rounds = 0;
  retries = 0;
  readonly #transcript: (TeamTurn | undefined)[] = [];
  readonly #options: ResolvedTeamOptions;
  readonly #refOf: (member: string) => AnyActorRef | undefined;
  readonly #abort = new AbortController();
  readonly #waiters: Replier<TeamResult>[] = [];
  #turns = 0;

  constructor(
    options: ResolvedTeamOptions,
    refOf: (member: string) => AnyActorRef | undefined,
    run: { runId: string; input: string; tenant: string | undefined },
  ) {
    this.#options = options;
    this.#refOf = refOf;
    this.runId = run.runId;
    this.input = run.input;
    this.tenant = run.tenant;
  }

  /** The team's name. */
  get team(): string {
    return this.#options.name;
  }

  /** Aborted when the team stops: the run's pending asks give up. */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /** Member runs asked for so far (retries not counted). */
  get turns(): number {
    return this.#turns;
  }

  /** The member runs that answered, in the order they were asked for. */
  transcript(): TeamTurn[] {
    return this.#transcript.filter((t): t is TeamTurn => t !== undefined);
  }

  /**
   * Runs `member` on `input` and resolves with its answer. Its runId is `<runId>:<member>:<key>`, so this run
   * asked again (after a crash too) asks the same member runs, which journaled agents answer from their journal.
   */
  async ask(member: string, input: string, options: AskMemberOptions): Promise<unknown> {
    const ref = this.#refOf(member);
    if (ref === undefined)
      throw new TeamError(TeamErrorCode.UnknownMember, `team ${this.team} has no member ${member}`, {
        data: { member, round: options.round },
      });
    const maxTurns = this.#options.budget.maxTurns;
    if (maxTurns !== undefined && this.#turns >= maxTurns)
      throw new TeamError(
        TeamErrorCode.BudgetExceeded,
        `team ${this.team} run ${this.runId} reached its budget of ${maxTurns} member runs`,
        { data: { member, round: options.round, measure: 'turns', limit: maxTurns } },
      );
    this.#turns++;
    const slot = this.#transcript.length;
    this.#transcript.push(undefined);
    const runId = memberRunId(this.runId, member, options.key ?? String(options.round));
    const message: { type: 'run'; input: string; runId: string; tenant?: string } = {
      type: 'run',
      input,
      runId,
    };
    if (this.tenant !== undefined) message.tenant = this.tenant;
    for (let attempt = 0; ; attempt++) {
      this.#throwIfAborted();
      try {
        const reply: unknown = await ref.ask(message as never, {
          timeout: this.#options.memberTimeoutMs,
          signal: this.#abort.signal,
        });
        const turn: TeamTurn = { member, round: options.round, runId, input, output: reply };
        if (isTeamResult(reply)) {
          turn.output = reply.output;
          turn.turns = reply.transcript;
        }
        this.#transcript[slot] = turn;
        return turn.output;
      } catch (err) {
        this.#throwIfAborted();
        const code = codeOf(err);
        const where = { member, round: options.round, runId, code };
        if (BUDGET.has(code))
          throw new TeamError(
            TeamErrorCode.BudgetExceeded,
            `team ${this.team}: member ${member} was refused by its budget in round ${options.round}`,
            { cause: err, data: { ...where, ...budgetData(err) } },
          );
        if (FINAL.has(code) || attempt >= this.#options.memberRetries)
          throw new TeamError(
            TeamErrorCode.MemberFailed,
            `team ${this.team}: member ${member} failed in round ${options.round} (${code}): ${(err as Error)?.message ?? String(err)}`,
            { cause: err, data: { ...where, attempts: attempt + 1 } },
          );
        this.retries++;
      }
    }
  }

  /** Adds an asker of this run. */
  join(replier: Replier<TeamResult> | undefined): void {
    if (replier !== undefined) this.#waiters.push(replier);
  }

  /** Runs the pattern; resolves with how the run ended (never rejects). */
  async execute(
    pattern: TeamPattern,
  ): Promise<{ ok: true; result: TeamResult } | { ok: false; error: unknown }> {
    try {
      const outcome = await pattern(this);
      this.#throwIfAborted();
      const result: TeamResult = {
        team: this.team,
        runId: this.runId,
        output: outcome.output,
        reason: outcome.reason,
        rounds: this.rounds,
        transcript: this.transcript(),
        retries: this.retries,
      };
      for (const w of this.#waiters.splice(0)) w.reply(result);
      return { ok: true, result };
    } catch (err) {
      const error = this.#abort.signal.aborted ? this.#abort.signal.reason : err;
      // Asks still under way (parallel members) are given up: the run has failed already.
      this.abort(error);
      for (const w of this.#waiters.splice(0)) w.fail(error);
      return { ok: false, error };
    }
  }

  /** Stops the run: its pending asks give up and its askers get `reason`. */
  abort(reason: unknown): void {
    if (!this.#abort.signal.aborted) this.#abort.abort(reason);
  }

  #throwIfAborted(): void {
    if (this.#abort.signal.aborted) throw this.#abort.signal.reason;
  }
}

/** Agents and teams take runIds of at most this many characters. */
const MAX_RUN_ID = 200;

/**
 * The runId of a member run: `<runId>:<member>:<key>`; past 200 characters (teams nested deep), its head and a
 * hash of the whole, so it stays valid and still derives from the team run alone.
 */
export function memberRunId(runId: string, member: string, key: string): string {
  const id = `${runId}:${member}:${key}`;
  if (id.length <= MAX_RUN_ID) return id;
  return `${id.slice(0, MAX_RUN_ID - 33)}=${createHash('sha256').update(id).digest('hex').slice(0, 32)}`;
}

/** Stops every run in progress with `TEAM_STOPPED` (the team stops, restarts, or fails). */
export function stopRuns(runs: Iterable<TeamRun>, cause?: unknown): void {
  for (const run of runs)
    run.abort(
      new TeamError(
        TeamErrorCode.Stopped,
        `team ${run.team} stopped during run ${run.runId}; ask again with its runId to resume`,
        cause === undefined ? {} : { cause },
      ),
    );
}

/** A reply that is a team's result (a member that is itself a team): its output is the member's answer. */
function isTeamResult(value: unknown): value is TeamResult {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<TeamResult>;
  return (
    typeof v.team === 'string' && typeof v.runId === 'string' && Array.isArray(v.transcript) && 'output' in v
  );
}

function budgetData(err: unknown): Record<string, unknown> {
  const data = TroupeError.is(err) ? err.data : undefined;
  if (typeof data !== 'object' || data === null) return {};
  const out: Record<string, unknown> = {};
  for (const key of ['scope', 'id', 'measure', 'limit', 'used'])
    if (key in data) out[key] = (data as Record<string, unknown>)[key];
  return out;
}
