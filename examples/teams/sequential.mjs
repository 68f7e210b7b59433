// A sequential team: a researcher, a writer and an editor, each working on the one before's answer; runs
// offline (the model server is troupe's offline one, its replies scripted here).
//   node examples/teams/sequential.mjs
import { agentKit } from 'troupe/agents';
import { modelRouter } from 'troupe/models';
import { createSystem } from 'troupe/runtime';
import { startLlmServer } from 'troupe/testing';
import { sequentialTeam } from 'troupe/workflows';

const llm = await startLlmServer();
// One model per member, so each member's replies are scripted apart.
llm.script('researcher', ['Tides: the moon pulls the near ocean; two bulges; about 12 h 25 min apart.']);
llm.script(
  'writer',
  (req) => `Draft. ${req.lastUserText.split('answered:\n')[1]} That is why there are two tides a day.`,
);
llm.script('editor', (req) => req.lastUserText.split('answered:\n')[1].replace('Draft. ', ''));

const names = ['researcher', 'writer', 'editor'];
const router = modelRouter({
  groups: Object.fromEntries(names.map((n) => [n, { deployments: [{ id: n, baseURL: llm.url, model: n }] }])),
});
const kit = agentKit({ router });
const system = await createSystem({ nodeId: 'example' });
try {
  const members = {
    researcher: kit.defineAgent({ name: 'researcher', model: 'researcher', instructions: 'Collect facts.' }),
    writer: kit.defineAgent({ name: 'writer', model: 'writer', instructions: 'Write a paragraph.' }),
    editor: kit.defineAgent({ name: 'editor', model: 'editor', instructions: 'Tighten the text.' }),
  };
  const team = system.spawn(sequentialTeam({ name: 'pipeline', members }), { name: 'pipeline' });
  const result = await team.ask(
    { type: 'run', input: 'Why are there two tides a day?', runId: 'tides-1' },
    { timeout: 60_000 },
  );
  for (const turn of result.transcript) console.log(`${turn.member}: ${turn.output}`);
  console.log(`result (${result.reason}): ${result.output}`);
} finally {
  await system.close();
  await router.close();
  await llm.close();
}
