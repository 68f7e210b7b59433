// Hierarchical decision making: a CEO agent plans and delegates to two departments that are teams themselves
// (finance: analysts in parallel, their numbers added by a function; engineering: a sequential architect ->
// reviewer), then decides. Each team supervises its own members: a tree of supervised actors. Runs offline.
//   node examples/teams/hierarchical.mjs
import { agentKit } from 'troupe/agents';
import { modelRouter } from 'troupe/models';
import { createSystem } from 'troupe/runtime';
import { startLlmServer } from 'troupe/testing';
import { orchestratorTeam, parallelTeam, sequentialTeam } from 'troupe/workflows';
import { z } from 'zod';

const llm = await startLlmServer();
llm.script('ceo', [
  {
    json: {
      tasks: [
        { worker: 'finance', task: 'Estimate the yearly cost of a new data centre' },
        { worker: 'engineering', task: 'Can we run on the existing cloud instead?' },
      ],
    },
  },
]);
llm.script('ceo', (req) => ({
  json: {
    tasks: [],
    answer: req.lastUserText.includes('cloud is enough')
      ? 'Decision: stay on the cloud.'
      : 'Decision: build.',
  },
}));
llm.script('capex', ['1200']);
llm.script('opex', ['300']);
llm.script('architect', ['The cloud is enough for 3 years at current growth.']);
llm.script('reviewer', (req) => `Reviewed: ${req.lastUserText.split('answered:\n')[1]}`);

const names = ['ceo', 'capex', 'opex', 'architect', 'reviewer'];
const router = modelRouter({
  groups: Object.fromEntries(names.map((n) => [n, { deployments: [{ id: n, baseURL: llm.url, model: n }] }])),
});
const kit = agentKit({ router });
const agent = (name, instructions, extra = {}) =>
  kit.defineAgent({ name, model: name, instructions, ...extra });
const plan = z.object({
  tasks: z.array(z.object({ worker: z.string(), task: z.string() })),
  answer: z.string().optional(),
});
const finance = parallelTeam({
  name: 'finance',
  members: {
    capex: agent('capex', 'Estimate capital cost, k$/year.'),
    opex: agent('opex', 'Estimate running cost, k$/year.'),
  },
  aggregate: (answers) => `total ${Number(answers.capex) + Number(answers.opex)} k$/year`,
});
const engineering = sequentialTeam({
  name: 'engineering',
  members: {
    architect: agent('architect', 'Assess the options.'),
    reviewer: agent('reviewer', 'Check the assessment.'),
  },
});
const company = orchestratorTeam({
  name: 'company',
  members: {
    ceo: agent('ceo', 'Decide; delegate to finance and engineering.', { output: plan }),
    finance,
    engineering,
  },
  orchestrator: 'ceo',
  maxRounds: 2,
});
const system = await createSystem({ nodeId: 'example' });
try {
  const ref = system.spawn(company, { name: 'company' });
  const result = await ref.ask(
    { type: 'run', input: 'Build a data centre?', runId: 'dc-1' },
    { timeout: 60_000 },
  );
  const show = (turns, depth) => {
    for (const t of turns) {
      const out = typeof t.output === 'string' ? t.output : JSON.stringify(t.output);
      console.log(`${'  '.repeat(depth)}${t.member} (${t.runId}): ${out}`);
      if (t.turns) show(t.turns, depth + 1);
    }
  };
  show(result.transcript, 0);
  // The supervision tree: each team supervises its members, the departments inside the company.
  const tree = (n) => (n.children.length === 0 ? n.type : `${n.type}(${n.children.map(tree).join(',')})`);
  console.log(`tree: ${system.tree().map(tree).join(' ')}`);
  console.log(`result (${result.reason}): ${result.output}`);
} finally {
  await system.close();
  await router.close();
  await llm.close();
}
