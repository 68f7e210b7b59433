// A 3-node decision graph: `assess` scores a loan application, then a conditional edge picks `approve` or
// `refer` (a human looks at it). Runs offline: every node is a plain function.
//   npm run build && node examples/graphs/decision.mjs
import { END, graph, replace, START } from 'troupe/workflows';

/** The state: the application in, the risk score and the decision out. */
const loans = graph({
  state: { amount: replace(), income: replace(), risk: replace(), decision: replace(), reason: replace() },
})
  .addNode('assess', (s) => ({ risk: Math.min(1, s.amount / (s.income * 4)) }))
  .addNode('approve', (s) => ({ decision: 'approved', reason: `risk ${s.risk.toFixed(2)} is within policy` }))
  .addNode('refer', (s) => ({ decision: 'referred', reason: `risk ${s.risk.toFixed(2)} needs a human` }))
  .addEdge(START, 'assess')
  .addConditionalEdge('assess', (s) => (s.risk <= 0.5 ? 'approve' : 'refer'), {
    targets: ['approve', 'refer'],
  })
  .addEdge('approve', END)
  .addEdge('refer', END)
  .build();

const results = [];
for (const application of [
  { amount: 20_000, income: 60_000 },
  { amount: 150_000, income: 50_000 },
]) {
  const { decision, reason } = await loans.run(application);
  results.push({ ...application, decision, reason });
}
console.log(JSON.stringify({ example: 'decision', results }));
