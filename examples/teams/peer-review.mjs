// Peer review: an author drafts, two reviewers review (structured output: approved and comments), the author
// revises on what was not approved, until both approve or the round limit. Runs offline.
//   node examples/teams/peer-review.mjs
import { agentKit } from 'troupe/agents';
import { modelRouter } from 'troupe/models';
import { createSystem } from 'troupe/runtime';
import { startLlmServer } from 'troupe/testing';
import { peerReviewTeam } from 'troupe/workflows';
import { z } from 'zod';

const llm = await startLlmServer();
llm.script('author', [
  'Abstract: we show caching halves latency.',
  'Abstract: on 3 workloads, caching halves p50 latency (n=30 runs each).',
]);
// The methods reviewer wants numbers; it approves a draft that has them.
llm.script('methods', (req) =>
  /n=\d+/.test(req.lastUserText)
    ? { json: { approved: true, comments: 'Sample sizes given.' } }
    : { json: { approved: false, comments: 'Give the workloads and the number of runs.' } },
);
llm.script('style', { json: { approved: true, comments: 'Clear.' } }, { repeat: true });

const names = ['author', 'methods', 'style'];
const router = modelRouter({
  groups: Object.fromEntries(names.map((n) => [n, { deployments: [{ id: n, baseURL: llm.url, model: n }] }])),
});
const kit = agentKit({ router });
const review = z.object({ approved: z.boolean(), comments: z.string() });
const system = await createSystem({ nodeId: 'example' });
try {
  const members = {
    author: kit.defineAgent({
      name: 'author',
      model: 'author',
      instructions: 'Write and revise the abstract.',
    }),
    methods: kit.defineAgent({
      name: 'methods',
      model: 'methods',
      instructions: 'Review the methods.',
      output: review,
    }),
    style: kit.defineAgent({
      name: 'style',
      model: 'style',
      instructions: 'Review the style.',
      output: review,
    }),
  };
  const paper = system.spawn(peerReviewTeam({ name: 'paper', members, author: 'author', maxRounds: 3 }), {
    name: 'paper',
  });
  const result = await paper.ask(
    { type: 'run', input: 'An abstract on caching', runId: 'paper-1' },
    { timeout: 60_000 },
  );
  for (const t of result.transcript)
    console.log(
      `[round ${t.round}] ${t.member}: ${typeof t.output === 'string' ? t.output : JSON.stringify(t.output)}`,
    );
  console.log(`result (${result.reason} in round ${result.rounds}): ${result.output}`);
} finally {
  await system.close();
  await router.close();
  await llm.close();
}
