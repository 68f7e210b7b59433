// Multi-agent debate: an optimist and a sceptic argue in rounds, each seeing the other's arguments; a judge
// (structured output: a verdict) may end it early, and must decide at the round limit. The team spends one
// team budget in the model router's ledger. Runs offline.
//   node examples/teams/debate.mjs
import { agentKit } from 'troupe/agents';
import { budgetLedger, modelRouter } from 'troupe/models';
import { createSystem, memoryKeyValue } from 'troupe/runtime';
import { startLlmServer } from 'troupe/testing';
import { debateTeam } from 'troupe/workflows';
import { z } from 'zod';

const llm = await startLlmServer();
llm.script('optimist', ['Remote work widens hiring and saves commuting.', 'Async tools close the gap.']);
llm.script('sceptic', ['Remote work weakens mentoring.', 'Tools do not replace hallway talk.']);
llm.script('judge', [
  { json: { done: false, verdict: 'Both have a point; go on.' } },
  { json: { done: true, verdict: 'Hybrid: remote by default, mentoring in person.', winner: 'optimist' } },
]);

const names = ['optimist', 'sceptic', 'judge'];
// The debate's budget: 20k tokens an hour for the whole team, shared by its members.
const ledger = budgetLedger({
  store: memoryKeyValue(),
  limits: [{ scope: 'team', id: 'debate', window: 'hour', maxTokens: 20_000 }],
});
const router = modelRouter({
  groups: Object.fromEntries(names.map((n) => [n, { deployments: [{ id: n, baseURL: llm.url, model: n }] }])),
  budget: ledger,
});
const kit = agentKit({ router });
const verdict = z.object({ done: z.boolean(), verdict: z.string(), winner: z.string().optional() });
const agent = (name, instructions, extra = {}) =>
  kit.defineAgent({ name, model: name, instructions, budget: { team: 'debate' }, ...extra });
const system = await createSystem({ nodeId: 'example' });
try {
  const team = debateTeam({
    name: 'debate',
    members: {
      optimist: agent('optimist', 'Argue for.'),
      sceptic: agent('sceptic', 'Argue against.'),
      judge: agent('judge', 'Judge the debate.', { output: verdict }),
    },
    judge: 'judge',
    maxRounds: 3,
    budget: { team: 'debate' },
  });
  const debate = system.spawn(team, { name: 'debate' });
  const result = await debate.ask(
    { type: 'run', input: 'Is remote work better?', runId: 'remote-1' },
    { timeout: 60_000 },
  );
  for (const t of result.transcript)
    console.log(
      `[round ${t.round}] ${t.member}: ${typeof t.output === 'string' ? t.output : t.output.verdict}`,
    );
  console.log(
    `verdict (${result.reason} after ${result.rounds} rounds): ${result.output.verdict} winner=${result.output.winner}`,
  );
  console.log(`team budget spent: ${(await ledger.usage('team', 'debate')).tokens} tokens`);
} finally {
  await system.close();
  await router.close();
  await llm.close();
}
