// Conditional branching: `classify` routes a support ticket to one branch or several at once (a router that
// returns a list fans out); the technical branch drafts and checks its reply in a loop bounded by `maxLoops`.
// Runs offline: every node is a plain function.
//   npm run build && node examples/graphs/branching.mjs
import { append, END, graph, replace, START } from 'troupe/workflows';

const triage = graph({
  state: {
    ticket: replace(),
    labels: replace(),
    replies: { reducer: append(), default: () => [] },
    drafts: { reducer: (n, m) => n + m, default: () => 0 },
  },
})
  .addNode('classify', (s) => {
    const labels = [];
    if (/invoice|refund|charge/i.test(s.ticket)) labels.push('billing');
    if (/error|crash|bug/i.test(s.ticket)) labels.push('technical');
    return { labels: labels.length > 0 ? labels : ['general'] };
  })
  .addNode('billing', () => ({ replies: ['billing: a refund request was opened'] }))
  .addNode('general', () => ({ replies: ['general: thanks, we will get back to you'] }))
  .addNode('draft', (s) => ({ drafts: 1, replies: [`technical: draft ${s.drafts + 1}`] }))
  .addNode('check', () => undefined)
  .addEdge(START, 'classify')
  // Technical tickets start at `draft`; a ticket with two labels takes both branches at once.
  .addConditionalEdge('classify', (s) => s.labels.map((l) => (l === 'technical' ? 'draft' : l)), {
    targets: ['billing', 'draft', 'general'],
  })
  .addEdge('draft', 'check')
  // Redraft until the second draft, at most twice round the loop.
  .addConditionalEdge('check', (s) => (s.drafts < 2 ? 'draft' : END), {
    targets: ['draft', END],
    maxLoops: 2,
  })
  .addEdge('billing', END)
  .addEdge('general', END)
  .build();

const results = [];
for (const ticket of [
  'I was charged twice, please refund the invoice',
  'The app shows an error and then a crash, and I want a refund',
  'How do I change my avatar?',
]) {
  const { labels, replies, drafts } = await triage.run({ ticket });
  results.push({ ticket, labels, replies, drafts });
}
console.log(JSON.stringify({ example: 'branching', results }));
