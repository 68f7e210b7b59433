// An orchestrator and workers: a lead agent plans (structured output: tasks for named workers), the workers
// run their tasks at once, the lead reads their results and answers; at most three plan rounds. Runs offline.
//   node examples/teams/orchestrator.mjs
import { agentKit } from 'troupe/agents';
import { modelRouter } from 'troupe/models';
import { createSystem } from 'troupe/runtime';
import { startLlmServer } from 'troupe/testing';
import { orchestratorTeam } from 'troupe/workflows';
import { z } from 'zod';

const llm = await startLlmServer();
// The lead's first two plans delegate; its third (a function, once the queue is used up) answers, quoting the
// coder's last result.
llm.script('lead', [
  {
    json: {
      tasks: [
        { worker: 'coder', task: 'Write a function that adds two numbers' },
        { worker: 'tester', task: 'List edge cases of adding two numbers' },
      ],
    },
  },
  { json: { tasks: [{ worker: 'coder', task: 'Handle the edge cases: NaN and Infinity' }] } },
]);
llm.script('lead', (req) => ({
  json: { tasks: [], answer: `Shipped: ${req.lastUserText.match(/coder \(Handle[^)]*\): (.*)/)?.[1]}` },
}));
llm.script('coder', [
  'const add = (a, b) => a + b;',
  'const add = (a, b) => (Number.isFinite(a + b) ? a + b : 0);',
]);
llm.script('tester', ['NaN, Infinity, -0']);

const names = ['lead', 'coder', 'tester'];
const router = modelRouter({
  groups: Object.fromEntries(names.map((n) => [n, { deployments: [{ id: n, baseURL: llm.url, model: n }] }])),
});
const kit = agentKit({ router });
// The plan's shape (TEAM_REPLY_SCHEMAS.plan) as the lead's structured output: its answer is parsed and checked.
const plan = z.object({
  tasks: z.array(z.object({ worker: z.string(), task: z.string() })),
  answer: z.string().optional(),
});
const system = await createSystem({ nodeId: 'example' });
try {
  const members = {
    lead: kit.defineAgent({ name: 'lead', model: 'lead', instructions: 'Plan and delegate.', output: plan }),
    coder: kit.defineAgent({ name: 'coder', model: 'coder', instructions: 'Write code.' }),
    tester: kit.defineAgent({ name: 'tester', model: 'tester', instructions: 'Find edge cases.' }),
  };
  const team = system.spawn(orchestratorTeam({ name: 'dev', members, orchestrator: 'lead', maxRounds: 3 }), {
    name: 'dev',
  });
  const result = await team.ask(
    { type: 'run', input: 'Add two numbers safely', runId: 'dev-1' },
    { timeout: 60_000 },
  );
  for (const t of result.transcript)
    console.log(
      `[round ${t.round}] ${t.member}: ${typeof t.output === 'string' ? t.output : JSON.stringify(t.output)}`,
    );
  console.log(`result (${result.reason}, ${result.rounds} rounds): ${result.output}`);
} finally {
  await system.close();
  await router.close();
  await llm.close();
}
