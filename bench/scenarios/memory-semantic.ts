// The semantic part of scenario `memory`: search latency (p50, p99) of semanticMemory on a private `chroma run`
// at 10k and 100k documents (hashing embedder, 256 dimensions), against the raw chromadb client querying the same
// collection with a precomputed vector (what troupe adds: the query's embedding, over-fetch and per-document merge).
// 100k documents take about a minute to load, so `--quick` measures 10k only.

import type { Collection } from 'chromadb';
import { ChromaClient } from 'chromadb';
import {
  chromaStore,
  type Embedder,
  hashingEmbedder,
  type SemanticMemory,
  semanticMemory,
} from '../../memory/index.js';
import { type ServerProcess, startChroma } from '../../testing/index.js';
import { wallNow } from '../load.js';
import type { Figure, MetricSpec, RoundBudget, ScenarioContext } from '../scenario.js';
import { quantile } from '../stats.js';

const SIZES = [10_000, 100_000] as const;
const LOAD_BATCH = 1000;
const K = 5;
const WORDS_PER_DOC = 30;

const label = (size: number): string => `${size / 1000}k`;

export const SEMANTIC_METRICS: MetricSpec[] = SIZES.flatMap((size) =>
  (['p50', 'p99'] as const).map(
    (q): MetricSpec => ({
      id: `semantic-${q}-${label(size)}`,
      label: `semantic search(k=${K}) ${q} at ${label(size)} docs vs chromadb query with a precomputed vector`,
      unit: 'ms',
      kind: 'latency',
      better: 'lower',
    }),
  ),
);

/** Deterministic word soup over a 5000-word vocabulary: every query shares words with some documents. */
function textSource(seed: number): () => string {
  let s = seed;
  return () => {
    const words: string[] = [];
    for (let i = 0; i < WORDS_PER_DOC; i++) {
      s = (s * 1103515245 + 12345) & 0x7fffffff;
      words.push(`w${(s % 5000).toString(36)}`);
    }
    return words.join(' ');
  };
}

interface Loaded {
  size: number;
  memory: SemanticMemory;
  raw: Collection;
}

async function load(
  ctx: ScenarioContext,
  url: string,
  embedder: Embedder,
  size: number,
  client: ChromaClient,
): Promise<Loaded> {
  const memory = semanticMemory({
    store: chromaStore({ url }),
    embedder,
    collection: `${ctx.namespace}-semantic-${label(size)}`,
    chunk: false,
  });
  const next = textSource(size);
  for (let i = 0; i < size; i += LOAD_BATCH) {
    if (ctx.signal.aborted) throw new Error('aborted while loading documents');
    if (i % 10_000 === 0) ctx.progress(`semantic: loading ${label(size)} documents (${i})`);
    await memory.add(
      Array.from({ length: Math.min(LOAD_BATCH, size - i) }, (_, j) => ({ id: `d${i + j}`, text: next() })),
    );
  }
  const raw = await client.getCollection({ name: memory.collection });
  return { size, memory, raw };
}

/** p50 and p99 in ms of `query` run one at a time until `total` samples or the deadline. */
async function latencies(
  total: number,
  deadline: number,
  query: (i: number) => Promise<unknown>,
): Promise<[number, number]> {
  const times: number[] = [];
  for (let i = 0; i < total && (i < 20 || wallNow() < deadline); i++) {
    const started = performance.now();
    await query(i);
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return [quantile(times, 0.5), quantile(times, 0.99)];
}

export async function openSemantic(ctx: ScenarioContext): Promise<{
  round(budget: RoundBudget): Promise<Record<string, Figure>>;
  close(): Promise<void>;
}> {
  const server: ServerProcess = await startChroma();
  const loaded: Loaded[] = [];
  try {
    const u = new URL(server.url);
    const client = new ChromaClient({ host: u.hostname, port: Number(u.port) });
    const embedder = hashingEmbedder({ dimension: 256 });
    for (const size of ctx.settings.quick ? SIZES.slice(0, 1) : SIZES)
      loaded.push(await load(ctx, server.url, embedder, size, client));
    const queries = Array.from({ length: 256 }, textSource(99));
    const vectors = await embedder.embed(queries);
    return {
      async round(budget) {
        const figures: Record<string, Figure> = {};
        const total = ctx.count(300, 1000, budget);
        for (const { size, memory, raw } of loaded) {
          ctx.progress(`semantic: ${total} searches at ${label(size)}`);
          const [p50, p99] = await latencies(total, budget.deadline(), (i) =>
            memory.search(queries[i % queries.length]!, { k: K }),
          );
          ctx.progress(`semantic baseline: ${total} chromadb queries at ${label(size)}`);
          const [b50, b99] = await latencies(total, budget.deadline(), (i) =>
            raw.query({
              queryEmbeddings: [vectors[i % vectors.length]!],
              nResults: K,
              include: ['documents', 'metadatas', 'distances'],
            }),
          );
          figures[`semantic-p50-${label(size)}`] = { troupe: p50, baseline: b50 };
          figures[`semantic-p99-${label(size)}`] = { troupe: p99, baseline: b99 };
        }
        return figures;
      },
      async close() {
        await server.stop();
      },
    };
  } catch (err) {
    await server.stop();
    throw err;
  }
}
