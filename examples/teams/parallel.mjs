// A parallel team: three analysts answer at once, an editor agent combines their answers; runs offline.
//   node examples/teams/parallel.mjs
import { agentKit } from 'troupe/agents';
import { modelRouter } from 'troupe/models';
import { createSystem } from 'troupe/runtime';
import { startLlmServer } from 'troupe/testing';
import { parallelTeam } from 'troupe/workflows';

const llm = await startLlmServer();
// Each analyst takes 300 ms: asked at once, the three take about 300 ms, not 900.
llm.script('market', [{ text: 'Demand is growing 8% a year.', delayMs: 300 }]);
llm.script('cost', [{ text: 'Unit cost falls below price at 10k units.', delayMs: 300 }]);
llm.script('risk', [{ text: 'Main risk: one supplier.', delayMs: 300 }]);
llm.script('editor', (req) => {
  const answers = [...req.lastUserText.matchAll(/(\w+) answered:\n(.*)/g)].map((m) => `${m[1]}: ${m[2]}`);
  return `Summary. ${answers.join(' ')}`;
});

const names = ['market', 'cost', 'risk', 'editor'];
const router = modelRouter({
  groups: Object.fromEntries(names.map((n) => [n, { deployments: [{ id: n, baseURL: llm.url, model: n }] }])),
});
const kit = agentKit({ router });
const system = await createSystem({ nodeId: 'example' });
try {
  const members = Object.fromEntries(
    names.map((n) => [n, kit.defineAgent({ name: n, model: n, instructions: `You are the ${n} analyst.` })]),
  );
  const team = system.spawn(parallelTeam({ name: 'analysts', members, aggregate: 'editor' }), {
    name: 'analysts',
  });
  const started = Date.now();
  const result = await team.ask(
    { type: 'run', input: 'Should we make the widget?', runId: 'widget-1' },
    { timeout: 60_000 },
  );
  for (const turn of result.transcript) console.log(`${turn.member}: ${turn.output}`);
  console.log(`workers ran at once: ${Date.now() - started < 800}`);
  console.log(`result (${result.reason}): ${result.output}`);
} finally {
  await system.close();
  await router.close();
  await llm.close();
}
