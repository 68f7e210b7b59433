// Parallel evaluation: three judges score one answer at once (a fan-out), each a model call, and a join node
// folds their scores (collected by the `append` reducer) into a verdict. The models are the offline model
// server from `troupe/testing`, reached through the real `openai` client by the model router, so this runs
// without a network or a key.
//   npm run build && node examples/graphs/parallel-evaluation.mjs
import { modelRouter } from 'troupe/models';
import { startLlmServer } from 'troupe/testing';
import { append, END, graph, replace, START } from 'troupe/workflows';

const server = await startLlmServer();
// The offline judge: scores by what it is asked to look at (a real deployment would be a real model).
server.script('judge', (request) => {
  const prompt = String(request.messages.at(-1)?.content ?? '');
  const score = prompt.startsWith('clarity') ? 8 : prompt.startsWith('accuracy') ? 9 : 6;
  return JSON.stringify({ score });
});
const router = modelRouter({
  groups: { judges: { deployments: [{ id: 'judge', baseURL: server.url, model: 'judge' }] } },
});

/** A judge node: asks the model about one criterion and appends its score. */
const judge =
  (criterion) =>
  async (s, { signal }) => {
    const { text } = await router.chat(
      'judges',
      { messages: [{ role: 'user', content: `${criterion}: rate 0-10 as {"score": n}\n\n${s.answer}` }] },
      { signal },
    );
    return { scores: [{ criterion, score: JSON.parse(text).score }] };
  };

const evaluation = graph({
  state: { answer: replace(), scores: { reducer: append(), default: () => [] }, verdict: replace() },
})
  .addNode('clarity', judge('clarity'))
  .addNode('accuracy', judge('accuracy'))
  .addNode('tone', judge('tone'))
  .addNode('verdict', (s) => {
    const mean = s.scores.reduce((sum, x) => sum + x.score, 0) / s.scores.length;
    return { verdict: { mean: Math.round(mean * 100) / 100, pass: mean >= 7 } };
  })
  .addEdge(START, ['clarity', 'accuracy', 'tone'])
  .addEdge(['clarity', 'accuracy', 'tone'], 'verdict') // a join: runs once all three are in
  .addEdge('verdict', END)
  .build();

try {
  const out = await evaluation.run({ answer: 'Paris is the capital of France.' });
  const scores = Object.fromEntries(out.scores.map((x) => [x.criterion, x.score]));
  const calls = server.requests.filter((r) => r.endpoint === 'chat').length;
  console.log(JSON.stringify({ example: 'parallel-evaluation', scores, verdict: out.verdict, calls }));
} finally {
  await router.close();
  await server.close();
}
