// Data enrichment as graph steps: data points defined once (which tool fetches them, how long a value stays
// fresh), fetched in parallel through tools with a TTL cache, then run through a pipeline of transforms. With
// NATS_URL set, the cache is a NATS KV bucket the whole fleet shares; without, it lives in this process.
//   npm run build && node examples/enrichment/leads.mjs
//   NATS_URL=nats://127.0.0.1:4222 node examples/enrichment/leads.mjs
import { memoryKeyValue } from 'troupe';
import { defineTool, ToolRegistry } from 'troupe/agents';
import { natsKeyValue } from 'troupe/transport';
import { dataPoint, enrich, enrichmentCache, graph, merge, replace, transform } from 'troupe/workflows';
import { z } from 'zod';

// Tools stand in for real lookups (a company registry, a traffic API): each counts its calls.
const calls = { company: 0, traffic: 0 };
const tools = new ToolRegistry()
  .register(
    defineTool({
      name: 'company',
      description: 'Company facts of a web domain',
      input: z.object({ domain: z.string() }),
      run: ({ domain }) => {
        calls.company++;
        return { name: domain.split('.')[0].toUpperCase(), employees: domain.length * 40 };
      },
    }),
  )
  .register(
    defineTool({
      name: 'traffic',
      description: 'Monthly visits of a web domain',
      input: z.object({ domain: z.string() }),
      run: ({ domain }) => {
        calls.traffic++;
        return { visits: domain.length * 12_500 };
      },
    }),
  );

// Defined once, used by any graph that needs them.
const company = dataPoint({
  name: 'company',
  tool: 'company',
  input: (s) => ({ domain: s.domain }),
  ttlMs: 86_400_000,
});
const traffic = dataPoint({
  name: 'traffic',
  tool: 'traffic',
  input: (s) => ({ domain: s.domain }),
  ttlMs: 3_600_000,
});

const store = process.env.NATS_URL
  ? await natsKeyValue({ servers: process.env.NATS_URL, bucket: process.env.BUCKET ?? 'enrichment' })
  : memoryKeyValue();
const cache = enrichmentCache({ store });

const leads = enrich(
  graph({
    state: {
      domain: replace(),
      data: { reducer: merge(), default: () => ({}) },
      score: replace(),
      tier: replace(),
    },
  }),
  {
    points: [company, traffic],
    into: 'data',
    tools,
    cache,
    transforms: [
      transform('score', (s) => ({ score: s.data.company.employees / 100 + s.data.traffic.visits / 50_000 })),
      transform('tier', (s) => ({ tier: s.score >= 5 ? 'A' : 'B' })),
    ],
  },
).build();

try {
  const results = [];
  // The second lead repeats the first domain: its data points come from the cache.
  for (const domain of ['acme.io', 'globex-corporation.com', 'acme.io']) {
    const { score, tier } = await leads.run({ domain });
    results.push({ domain, score, tier });
  }
  console.log(JSON.stringify({ example: 'enrichment', results, calls, cache: cache.stats }));
} finally {
  await store.close();
}
