// Team patterns through the real `openai` client against the offline model server: each pattern's transcript
// and order checked against what the server received, round limits, a failing member restarted by the team (or
// failing the run with a code), the member restart intensity, the team's budget (the router's ledger and the
// team's turn cap), and a run asked again answering from its members' journals.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type AgentDefinition, agentKit } from '../../agents/index.js';
import { budgetLedger, type ModelRouter, modelRouter } from '../../models/index.js';
import {
  type ActorRef,
  type ActorSystem,
  createSystem,
  memoryAppendLog,
  memoryKeyValue,
  TroupeError,
} from '../../runtime/index.js';
import { type LlmServer, startLlmServer } from '../../testing/index.js';
import {
  debateTeam,
  defineTeam,
  memberRunId,
  orchestratorTeam,
  parallelTeam,
  peerReviewTeam,
  sequentialTeam,
  type TeamDefinition,
  type TeamProtocol,
  type TeamResult,
  type TeamStatus,
} from '../../workflows/teams/index.js';
import { on } from '../helpers/models.js';

const NAMES = ['researcher', 'writer', 'editor', 'a', 'b', 'c', 'pro', 'con', 'judge', 'author', 'r1', 'r2'];

let server: LlmServer;
let system: ActorSystem;
let router: ModelRouter;
beforeEach(async () => {
  server = await startLlmServer();
  system = await createSystem({ nodeId: 'n' });
  router = routerWith();
});
afterEach(async () => {
  await system.close();
  await router.close();
  await server.close();
});

/** One model group per member name, each served by the model of that name (scripted per member). */
function routerWith(extra: Partial<Parameters<typeof modelRouter>[0]> = {}): ModelRouter {
  return modelRouter({
    groups: Object.fromEntries(NAMES.map((n) => [n, { deployments: [on(server, n)] }])),
    ...extra,
  });
}

type Kit = ReturnType<typeof agentKit>;
function members(kit: Kit, names: string[], budget?: { team: string }): Record<string, AgentDefinition> {
  return Object.fromEntries(
    names.map((name) => [
      name,
      kit.defineAgent({
        name,
        model: name,
        instructions: `You are ${name}.`,
        ...(budget === undefined ? {} : { budget }),
      }),
    ]),
  );
}

/** The chat requests the server got, as [model, last user message]. */
const calls = () =>
  server.requests
    .filter((r) => r.endpoint === 'chat')
    .map((r) => {
      const messages = (r.body as { messages: { role: string; content: string }[] }).messages;
      return [r.model, messages.filter((m) => m.role === 'user').at(-1)?.content ?? ''] as const;
    });
const callsOf = (model: string) => calls().filter(([m]) => m === model);

async function run(team: TeamDefinition, input: string, runId: string, name = 'team') {
  const ref = system.spawn(team, { name }) as ActorRef<TeamProtocol>;
  return { ref, result: await ref.ask({ type: 'run', input, runId }, { timeout: 20_000 }) };
}

async function codeOf(
  p: Promise<unknown>,
): Promise<{ code: string; data: Record<string, unknown>; cause: unknown }> {
  try {
    await p;
  } catch (err) {
    if (!TroupeError.is(err)) throw err;
    return { code: err.code, data: (err.data ?? {}) as Record<string, unknown>, cause: err.cause };
  }
  throw new Error('expected a failure');
}

const json = (v: unknown) => ({ text: JSON.stringify(v) });

describe('sequential', () => {
  it('runs members in order, each on the previous answer; the last answer is the output', async () => {
    server.script('researcher', ['facts: tides follow the moon']);
    server.script('writer', ['draft about tides']);
    server.script('editor', ['polished draft']);
    const kit = agentKit({ router });
    const team = sequentialTeam({
      name: 'pipeline',
      members: members(kit, ['researcher', 'writer', 'editor']),
    });
    const { result } = await run(team, 'Explain tides', 's1');
    expect(result.output).toBe('polished draft');
    expect(result.reason).toBe('done');
    expect(result.transcript.map((t) => [t.member, t.runId, t.output])).toEqual([
      ['researcher', 's1:researcher:1', 'facts: tides follow the moon'],
      ['writer', 's1:writer:1', 'draft about tides'],
      ['editor', 's1:editor:1', 'polished draft'],
    ]);
    const seen = calls();
    expect(seen.map(([m]) => m)).toEqual(['researcher', 'writer', 'editor']);
    expect(seen[0]![1]).toBe('Explain tides');
    expect(seen[1]![1]).toContain('facts: tides follow the moon');
    expect(seen[2]![1]).toContain('draft about tides');
    expect(seen[2]![1]).not.toContain('facts: tides');
  });

  it('askers of a run in progress join it: one run, one set of model calls', async () => {
    server.script('a', [{ text: 'slow answer', delayMs: 200 }]);
    const kit = agentKit({ router });
    const ref = system.spawn(sequentialTeam({ name: 'solo', members: members(kit, ['a']) }), {
      name: 'solo',
    }) as ActorRef<TeamProtocol>;
    const [one, two] = await Promise.all([
      ref.ask({ type: 'run', input: 'x', runId: 'same' }),
      ref.ask({ type: 'run', input: 'x', runId: 'same' }),
    ]);
    expect(one).toEqual(two);
    expect(one.output).toBe('slow answer');
    expect(calls()).toHaveLength(1);
  });

  it('answers a runId asked again with the same result, without a model call', async () => {
    server.script('a', ['one']);
    const kit = agentKit({ router });
    const { ref, result } = await run(
      sequentialTeam({ name: 'solo', members: members(kit, ['a']) }),
      'x',
      'again',
    );
    expect(await ref.ask({ type: 'run', input: 'x', runId: 'again' })).toEqual(result);
    expect(calls()).toHaveLength(1);
  });
});

describe('parallel', () => {
  it('asks the workers at once and an aggregating member gets every answer', async () => {
    for (const w of ['a', 'b', 'c']) server.script(w, [{ text: `answer ${w}`, delayMs: 300 }]);
    server.script('editor', ['combined']);
    const kit = agentKit({ router });
    const team = parallelTeam({
      name: 'panel',
      members: members(kit, ['a', 'b', 'c', 'editor']),
      aggregate: 'editor',
    });
    const started = Date.now();
    const { result } = await run(team, 'Name a colour', 'p1');
    // Three 300 ms answers at once, then the aggregator: well under the 900 ms of one after the other.
    expect(Date.now() - started).toBeLessThan(850);
    expect(result.output).toBe('combined');
    expect(result.transcript.map((t) => t.member)).toEqual(['a', 'b', 'c', 'editor']);
    const [, aggregated] = callsOf('editor')[0]!;
    for (const w of ['a', 'b', 'c']) expect(aggregated).toContain(`${w} answered:\nanswer ${w}`);
    expect(callsOf('a')[0]![1]).toBe('Name a colour');
  });

  it('aggregates with a function', async () => {
    server.script('a', ['3']);
    server.script('b', ['4']);
    const kit = agentKit({ router });
    const team = parallelTeam({
      name: 'adders',
      members: members(kit, ['a', 'b']),
      aggregate: (answers) => Object.values(answers).reduce((s: number, v) => s + Number(v), 0),
    });
    const { result } = await run(team, 'a number', 'p2');
    expect(result.output).toBe(7);
    expect(calls()).toHaveLength(2);
  });
});

describe('orchestrator and workers', () => {
  it('plans, delegates, collects and synthesises', async () => {
    server.script('judge', [
      json({
        tasks: [
          { worker: 'a', task: 'cost' },
          { worker: 'b', task: 'risk' },
        ],
      }),
      json({ tasks: [], answer: 'go: cheap and safe' }),
    ]);
    server.script('a', ['cheap']);
    server.script('b', ['safe']);
    const kit = agentKit({ router });
    const team = orchestratorTeam({
      name: 'board',
      members: members(kit, ['judge', 'a', 'b']),
      orchestrator: 'judge',
    });
    const { result } = await run(team, 'Should we build it?', 'o1');
    expect(result).toMatchObject({ output: 'go: cheap and safe', reason: 'done', rounds: 2 });
    expect(result.transcript.map((t) => [t.member, t.round, t.runId])).toEqual([
      ['judge', 1, 'o1:judge:1'],
      ['a', 1, 'o1:a:1.1'],
      ['b', 1, 'o1:b:1.2'],
      ['judge', 2, 'o1:judge:2'],
    ]);
    expect(callsOf('a')[0]![1]).toContain('cost');
    expect(callsOf('b')[0]![1]).toContain('risk');
    const secondPlan = callsOf('judge')[1]![1];
    expect(secondPlan).toContain('a (cost): cheap');
    expect(secondPlan).toContain('b (risk): safe');
  });

  it('bounds the plan rounds: past maxRounds the orchestrator must answer', async () => {
    server.script('judge', (req) =>
      req.lastUserText.includes('Answer now')
        ? json({ tasks: [], answer: 'forced' })
        : json({ tasks: [{ worker: 'a', task: 'more' }] }),
    );
    server.script('a', 'more data', { repeat: true });
    const kit = agentKit({ router });
    const team = orchestratorTeam({
      name: 'board',
      members: members(kit, ['judge', 'a']),
      orchestrator: 'judge',
      maxRounds: 2,
    });
    const { result } = await run(team, 'Decide', 'o2');
    expect(result).toMatchObject({ output: 'forced', reason: 'max-rounds', rounds: 2 });
    expect(callsOf('judge')).toHaveLength(3);
    expect(callsOf('a')).toHaveLength(2);
  });

  it('fails with TEAM_UNKNOWN_MEMBER when the plan names no worker of the team, and TEAM_BAD_REPLY on prose', async () => {
    server.script('judge', [
      json({ tasks: [{ worker: 'nobody', task: 'x' }] }),
      'I think we should go ahead.',
    ]);
    const kit = agentKit({ router });
    const team = orchestratorTeam({
      name: 'board',
      members: members(kit, ['judge', 'a']),
      orchestrator: 'judge',
    });
    const ref = system.spawn(team, { name: 'board' }) as ActorRef<TeamProtocol>;
    const unknown = await codeOf(ref.ask({ type: 'run', input: 'x', runId: 'u1' }, { timeout: 10_000 }));
    expect(unknown.code).toBe('TEAM_UNKNOWN_MEMBER');
    expect(unknown.data).toMatchObject({ worker: 'nobody', round: 1 });
    const prose = await codeOf(ref.ask({ type: 'run', input: 'x', runId: 'u2' }, { timeout: 10_000 }));
    expect(prose.code).toBe('TEAM_BAD_REPLY');
    expect(prose.data).toMatchObject({ member: 'judge', round: 1 });
    expect(callsOf('a')).toHaveLength(0);
  });
});

describe('debate', () => {
  it('debaters argue in rounds seeing the earlier ones; the judge ends it with a verdict', async () => {
    server.script('pro', ['pro 1', 'pro 2']);
    server.script('con', ['con 1', 'con 2']);
    server.script('judge', [
      json({ done: false, verdict: 'undecided' }),
      json({ done: true, verdict: 'pro argued better', winner: 'pro' }),
    ]);
    const kit = agentKit({ router });
    const team = debateTeam({
      name: 'debate',
      members: members(kit, ['pro', 'con', 'judge']),
      judge: 'judge',
    });
    const { result } = await run(team, 'Cats or dogs', 'd1');
    expect(result).toMatchObject({
      output: { done: true, verdict: 'pro argued better', winner: 'pro' },
      reason: 'verdict',
      rounds: 2,
    });
    expect(result.transcript.map((t) => `${t.member}@${t.round}`)).toEqual([
      'pro@1',
      'con@1',
      'judge@1',
      'pro@2',
      'con@2',
      'judge@2',
    ]);
    const [pro1, pro2] = callsOf('pro').map(([, text]) => text);
    expect(pro1).not.toContain('con 1');
    expect(pro2).toContain('[round 1] con: con 1');
    expect(pro2).not.toContain('con 2'); // one round's debaters argue at once
    expect(callsOf('judge')[1]![1]).toContain('[round 2] con: con 2');
  });

  it('as a group chat, members speak in turn and each sees what was said before it in the round', async () => {
    server.script('pro', ['pro 1']);
    server.script('con', ['con 1']);
    server.script('judge', [json({ done: true, verdict: 'settled' })]);
    const kit = agentKit({ router });
    const team = debateTeam({
      name: 'chat',
      members: members(kit, ['pro', 'con', 'judge']),
      judge: 'judge',
      speaking: 'in-turn',
    });
    const { result } = await run(team, 'Lunch?', 'g1');
    expect(result).toMatchObject({ reason: 'verdict', rounds: 1 });
    expect(callsOf('con')[0]![1]).toContain('[round 1] pro: pro 1');
    expect(calls().map(([m]) => m)).toEqual(['pro', 'con', 'judge']);
  });

  it('stops at maxRounds: the judge must decide, and no debater is asked again', async () => {
    server.script('pro', 'pro', { repeat: true });
    server.script('con', 'con', { repeat: true });
    server.script('judge', (req) =>
      req.lastUserText.includes('last round')
        ? json({ done: false, verdict: 'a draw' })
        : json({ done: false, verdict: 'go on' }),
    );
    const kit = agentKit({ router });
    const team = debateTeam({
      name: 'debate',
      members: members(kit, ['pro', 'con', 'judge']),
      judge: 'judge',
      maxRounds: 2,
    });
    const { result } = await run(team, 'Tabs or spaces', 'd2');
    expect(result).toMatchObject({ output: { verdict: 'a draw' }, reason: 'max-rounds', rounds: 2 });
    expect([callsOf('pro').length, callsOf('con').length, callsOf('judge').length]).toEqual([2, 2, 2]);
  });
});

describe('peer review', () => {
  it('the author revises on the comments until every reviewer approves', async () => {
    server.script('author', ['draft 1', 'draft 2']);
    server.script('r1', [
      json({ approved: true, comments: 'fine' }),
      json({ approved: true, comments: 'fine' }),
    ]);
    server.script('r2', [
      json({ approved: false, comments: 'cite sources' }),
      json({ approved: true, comments: 'ok' }),
    ]);
    const kit = agentKit({ router });
    const team = peerReviewTeam({
      name: 'paper',
      members: members(kit, ['author', 'r1', 'r2']),
      author: 'author',
    });
    const { result } = await run(team, 'Write on tides', 'r1');
    expect(result).toMatchObject({ output: 'draft 2', reason: 'approved', rounds: 2 });
    expect(result.transcript.map((t) => `${t.member}@${t.round}`)).toEqual([
      'author@1',
      'r1@1',
      'r2@1',
      'author@2',
      'r1@2',
      'r2@2',
    ]);
    const revise = callsOf('author')[1]![1];
    expect(revise).toContain('r2: cite sources');
    expect(revise).not.toContain('r1: fine'); // only what was not approved goes back
    expect(callsOf('r1')[1]![1]).toContain('draft 2');
  });

  it('ends with the last draft at the round limit', async () => {
    server.script('author', ['d1', 'd2', 'd3']);
    server.script('r1', json({ approved: false, comments: 'no' }), { repeat: true });
    const kit = agentKit({ router });
    const team = peerReviewTeam({
      name: 'paper',
      members: members(kit, ['author', 'r1']),
      author: 'author',
      maxRounds: 2,
    });
    const { result } = await run(team, 'Write', 'r2');
    expect(result).toMatchObject({ output: 'd2', reason: 'max-rounds', rounds: 2 });
    expect([callsOf('author').length, callsOf('r1').length]).toEqual([2, 2]);
  });
});

describe('failing members', () => {
  it('a member whose model call fails is restarted by the team and asked again with the same runId', async () => {
    server.script('a', ['first']);
    server.script('b', ['second']);
    server.fault('b', 'auth', { times: 1 });
    const kit = agentKit({ router });
    const team = sequentialTeam({ name: 'pair', members: members(kit, ['a', 'b']) });
    const { ref, result } = await run(team, 'go', 'f1');
    expect(result).toMatchObject({ output: 'second', retries: 1 });
    expect(result.transcript.map((t) => t.runId)).toEqual(['f1:a:1', 'f1:b:1']);
    expect(server.requests.filter((r) => r.model === 'b').map((r) => r.status)).toEqual([401, 200]);
    const status = (await ref.ask({ type: 'status' })) as TeamStatus;
    expect(status.members.find((m) => m.name === 'b')).toMatchObject({ status: 'running', restarts: 1 });
    expect(status.members.find((m) => m.name === 'a')).toMatchObject({ restarts: 0 });
  });

  it('a member that keeps failing fails the run with TEAM_MEMBER_FAILED after memberRetries', async () => {
    server.fault('b', 'auth');
    const kit = agentKit({ router });
    const team = sequentialTeam({
      name: 'pair',
      members: members(kit, ['a', 'b']),
      memberRetries: 2,
      intensity: { maxRestarts: 10, withinMs: 60_000 },
    });
    const ref = system.spawn(team, { name: 'pair' }) as ActorRef<TeamProtocol>;
    const failed = await codeOf(ref.ask({ type: 'run', input: 'go', runId: 'f2' }, { timeout: 10_000 }));
    expect(failed.code).toBe('TEAM_MEMBER_FAILED');
    expect(failed.data).toMatchObject({ member: 'b', round: 1, code: 'MODEL_AUTH', attempts: 3 });
    expect(server.requests.filter((r) => r.model === 'b')).toHaveLength(3);
    // The team lives on: the next run works once the model does.
    server.clearFaults();
    server.script('b', ['fixed']);
    expect((await ref.ask({ type: 'run', input: 'go', runId: 'f3' }, { timeout: 10_000 })).output).toBe(
      'fixed',
    );
  });

  it('past the members restart intensity the team fails, and its asker hears TEAM_STOPPED', async () => {
    server.fault('b', 'auth');
    const kit = agentKit({ router });
    const team = sequentialTeam({
      name: 'pair',
      members: members(kit, ['a', 'b']),
      memberRetries: 5,
      intensity: { maxRestarts: 1, withinMs: 60_000 },
    });
    const ref = system.spawn(team, { name: 'pair' }) as ActorRef<TeamProtocol>;
    const stopped = new Promise<void>((resolve) =>
      system.onLifecycle((e) => {
        if (e.type === 'stopped' && e.address === ref.address) resolve();
      }),
    );
    const failed = await codeOf(ref.ask({ type: 'run', input: 'go', runId: 'f4' }, { timeout: 10_000 }));
    expect(failed.code).toBe('TEAM_STOPPED');
    expect(TroupeError.is(failed.cause, 'RESTART_INTENSITY_EXCEEDED')).toBe(true);
    await stopped;
    expect(server.requests.filter((r) => r.model === 'b').length).toBeLessThanOrEqual(3);
  });
});

describe('budgets', () => {
  it("a member refused by the team's budget stops the run with TEAM_BUDGET_EXCEEDED", async () => {
    await router.close();
    const ledger = budgetLedger({
      store: memoryKeyValue(),
      // Each call reserves its estimate (a few hundred tokens) and settles at 50: the first fits, the second not.
      limits: [{ scope: 'team', id: 'crew', window: 'hour', maxTokens: 300 }],
    });
    router = routerWith({ budget: ledger });
    for (const n of ['a', 'b', 'c'])
      server.script(n, { text: n, usage: { inputTokens: 40, outputTokens: 10 } });
    const kit = agentKit({ router });
    const team = sequentialTeam({
      name: 'crew',
      members: members(kit, ['a', 'b', 'c'], { team: 'crew' }),
      budget: { team: 'crew' },
    });
    const ref = system.spawn(team, { name: 'crew' }) as ActorRef<TeamProtocol>;
    const failed = await codeOf(ref.ask({ type: 'run', input: 'go', runId: 'b1' }, { timeout: 10_000 }));
    expect(failed.code).toBe('TEAM_BUDGET_EXCEEDED');
    expect(failed.data).toMatchObject({ member: 'b', round: 1, scope: 'team', id: 'crew' });
    expect(TroupeError.is(failed.cause, 'BUDGET_EXCEEDED')).toBe(true);
    expect(calls().map(([m]) => m)).toEqual(['a']); // the refused call never reached the model, c never ran
    expect((await ledger.usage('team', 'crew'))?.tokens).toBe(50);
  });

  it("passes the run's tenant on to every member run, whose calls spend the tenant's budget", async () => {
    await router.close();
    const ledger = budgetLedger({
      store: memoryKeyValue(),
      limits: [{ scope: 'tenant', id: 'acme', window: 'hour', maxTokens: 100_000 }],
    });
    router = routerWith({ budget: ledger });
    server.script('a', { text: 'x', usage: { inputTokens: 40, outputTokens: 10 } });
    server.script('b', { text: 'y', usage: { inputTokens: 40, outputTokens: 10 } });
    const kit = agentKit({ router });
    const ref = system.spawn(sequentialTeam({ name: 'pair', members: members(kit, ['a', 'b']) }), {
      name: 'pair',
    }) as ActorRef<TeamProtocol>;
    await ref.ask({ type: 'run', input: 'go', runId: 't1', tenant: 'acme' }, { timeout: 10_000 });
    expect((await ledger.usage('tenant', 'acme'))?.tokens).toBe(100);
  });

  it('refuses a member definition that does not spend the team budget', () => {
    const kit = agentKit({ router });
    expect(() =>
      sequentialTeam({ name: 'crew', members: members(kit, ['a']), budget: { team: 'crew' } }),
    ).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTIONS', message: expect.stringContaining('members.a') }),
    );
  });

  it('caps the member runs of one team run with budget.maxTurns', async () => {
    server.script('pro', 'p', { repeat: true });
    server.script('con', 'c', { repeat: true });
    server.script('judge', json({ done: false, verdict: 'go on' }), { repeat: true });
    const kit = agentKit({ router });
    const team = debateTeam({
      name: 'debate',
      members: members(kit, ['pro', 'con', 'judge']),
      judge: 'judge',
      maxRounds: 5,
      budget: { maxTurns: 3 },
    });
    const ref = system.spawn(team, { name: 'debate' }) as ActorRef<TeamProtocol>;
    const failed = await codeOf(ref.ask({ type: 'run', input: 'x', runId: 'b2' }, { timeout: 10_000 }));
    expect(failed.code).toBe('TEAM_BUDGET_EXCEEDED');
    expect(failed.data).toMatchObject({ measure: 'turns', limit: 3, round: 2, member: 'pro' });
    expect(calls()).toHaveLength(3); // pro, con, judge of round 1; round 2 asks nobody
  });
});

describe('runs asked again', () => {
  it('a failed run asked again re-asks only what failed: journaled members answer from their journals', async () => {
    server.script('researcher', ['notes']);
    server.script('writer', ['draft']);
    server.script('editor', ['final']);
    server.fault('editor', 'auth', { times: 1 });
    const kit = agentKit({ router, journal: { log: memoryAppendLog(), blobs: memoryKeyValue() } });
    const team = sequentialTeam({
      name: 'pipeline',
      members: members(kit, ['researcher', 'writer', 'editor']),
      memberRetries: 0,
    });
    const ref = system.spawn(team, { name: 'pipeline' }) as ActorRef<TeamProtocol>;
    expect((await codeOf(ref.ask({ type: 'run', input: 'go', runId: 'j1' }, { timeout: 10_000 }))).code).toBe(
      'TEAM_MEMBER_FAILED',
    );
    const result = (await ref.ask(
      { type: 'run', input: 'go', runId: 'j1' },
      { timeout: 10_000 },
    )) as TeamResult;
    expect(result.output).toBe('final');
    expect(calls().map(([m]) => m)).toEqual(['researcher', 'writer', 'editor', 'editor']);
  });

  it('rejects bad run messages with INVALID_OPTIONS and bad options at definition', async () => {
    const kit = agentKit({ router });
    const ref = system.spawn(sequentialTeam({ name: 'solo', members: members(kit, ['a']) }), {
      name: 'solo',
    }) as ActorRef<TeamProtocol>;
    expect((await codeOf(ref.ask({ type: 'run', input: 'x', runId: 'no spaces' }))).code).toBe(
      'INVALID_OPTIONS',
    );
    expect((await codeOf(ref.ask({ type: 'run', input: 42 as never }))).code).toBe('INVALID_OPTIONS');
    expect(() => debateTeam({ name: 'd', members: members(kit, ['pro']), judge: 'judge' })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTIONS' }),
    );
    expect(() =>
      debateTeam({ name: 'd', members: members(kit, ['pro', 'judge']), judge: 'judge', maxRounds: 0 }),
    ).toThrow(expect.objectContaining({ code: 'INVALID_OPTIONS' }));
    expect(() => sequentialTeam({ name: 'bad name', members: members(kit, ['a']) })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTIONS' }),
    );
    expect(calls()).toHaveLength(0);
  });
});

describe('teams of teams', () => {
  it('a team is a member of another: its output is the member answer, its turns nested', async () => {
    server.script('a', ['alpha']);
    server.script('b', ['beta']);
    server.script('editor', ['summary of alpha and beta']);
    const kit = agentKit({ router });
    const inner = parallelTeam({ name: 'inner', members: members(kit, ['a', 'b']), aggregate: (x) => x });
    const outer = sequentialTeam({ name: 'outer', members: { inner, ...members(kit, ['editor']) } });
    const { result } = await run(outer, 'go', 'n1', 'outer');
    expect(result.output).toBe('summary of alpha and beta');
    expect(result.transcript[0]).toMatchObject({
      member: 'inner',
      runId: 'n1:inner:1',
      output: { a: 'alpha', b: 'beta' },
    });
    expect(result.transcript[0]!.turns!.map((t) => t.runId)).toEqual(['n1:inner:1:a:1', 'n1:inner:1:b:1']);
    expect(callsOf('editor')[0]![1]).toContain('"a":"alpha"');
  });

  it('a member given by address is asked there, not supervised by the team', async () => {
    server.script('a', ['from the team member']);
    server.script('b', ['from the outside agent']);
    const kit = agentKit({ router });
    const outside = system.spawn(kit.defineAgent({ name: 'b', model: 'b', instructions: '' }), {
      name: 'outside',
    });
    const team = sequentialTeam({ name: 'mixed', members: { ...members(kit, ['a']), b: outside.address } });
    const { ref, result } = await run(team, 'go', 'm1', 'mixed');
    expect(result.output).toBe('from the outside agent');
    expect(calls().map(([m]) => m)).toEqual(['a', 'b']);
    const status = (await ref.ask({ type: 'status' })) as TeamStatus;
    expect(status.members).toEqual([
      expect.objectContaining({ name: 'a', address: 'n/mixed/a', status: 'running' }),
      expect.objectContaining({ name: 'b', address: outside.address, status: 'remote' }),
    ]);
  });

  it('member runIds past 200 characters (deep nesting) stay valid and derived from the run alone', async () => {
    server.script('a', 'ok', { repeat: true });
    const kit = agentKit({ router });
    const inner = sequentialTeam({ name: 'inner', members: members(kit, ['a']) });
    const outer = sequentialTeam({ name: 'outer', members: { inner } });
    const long = 'r'.repeat(190);
    const { result } = await run(outer, 'go', long, 'outer');
    const innerRun = result.transcript[0]!.runId;
    const agentRun = result.transcript[0]!.turns![0]!.runId;
    expect(innerRun).toBe(`${long}:inner:1`); // 198 characters: as it is
    expect(agentRun).toHaveLength(200); // 202 characters: its head and a hash
    expect(agentRun).toMatch(/^r{167}=[0-9a-f]{32}$/);
    expect(agentRun).toBe(memberRunId(innerRun, 'a', '1'));
    expect(memberRunId(innerRun, 'b', '1')).not.toBe(agentRun);
  });

  it('defineTeam takes a pattern of its own', async () => {
    server.script('writer', ['w']);
    server.script('editor', ['e']);
    const kit = agentKit({ router });
    const pair = defineTeam({
      name: 'pair',
      members: members(kit, ['writer', 'editor']),
      pattern: async (r) => {
        r.rounds = 1;
        const draft = await r.ask('writer', r.input, { round: 1 });
        return {
          output: [draft, await r.ask('editor', String(draft), { round: 1, key: 'edit' })],
          reason: 'done',
        };
      },
    });
    const { result } = await run(pair, 'go', 'c1');
    expect(result.output).toEqual(['w', 'e']);
    expect(result.transcript.map((t) => t.runId)).toEqual(['c1:writer:1', 'c1:editor:edit']);
  });
});
