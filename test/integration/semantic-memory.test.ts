// Semantic memory against a real `chroma run` server: recall, the embedder/collection check, re-embedding on
// update, chunking, metadata filters, an outage, and context assembly within the window.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assembleContext,
  chromaStore,
  collectionName,
  hashingEmbedder,
  MemoryErrorCode,
  messageTokens,
  routerEmbedder,
  type SemanticMemory,
  semanticMemory,
  type VectorStore,
} from '../../memory/index.js';
import type { ChatMessage } from '../../models/index.js';
import { modelRouter } from '../../models/index.js';
import { type LlmServer, type ServerProcess, startChroma, startLlmServer } from '../../testing/index.js';

let chroma: ServerProcess;
let store: VectorStore;
let n = 0;
const fresh = (): string => `test-${process.pid}-${++n}`;

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code;
  }
}

beforeAll(async () => {
  chroma = await startChroma();
  store = chromaStore({ url: chroma.url });
}, 30_000);

afterAll(async () => {
  await store?.close();
  await chroma?.stop();
});

const DOCS = [
  { id: 'cats', text: 'Cats are small domestic felines that purr, chase mice and sleep most of the day.' },
  {
    id: 'rust',
    text: 'Rust is a systems programming language with ownership, borrowing and no garbage collector.',
  },
  {
    id: 'bread',
    text: 'Sourdough bread rises with a wild yeast starter, flour, water and salt, baked in a hot oven.',
  },
  { id: 'tides', text: 'Ocean tides are caused by the gravity of the moon and the sun pulling on the seas.' },
];

describe('semantic memory on chroma', () => {
  it('recalls the relevant document first', async () => {
    const memory = semanticMemory({ store, embedder: hashingEmbedder(), collection: fresh() });
    await memory.add(DOCS);
    const hits = await memory.search('how does the moon pull the ocean tides?', { k: 2 });
    expect(hits.map((h) => h.id)[0]).toBe('tides');
    expect(hits[0]!.text).toBe(DOCS[3]!.text);
    expect(hits[0]!.score).toBeGreaterThan(hits[1]!.score);
    expect((await memory.search('baking sourdough bread', { k: 1 }))[0]!.id).toBe('bread');
    expect(await codeOf(memory.add([DOCS[0]!]))).toBe(MemoryErrorCode.Invalid);
    await memory.deleteCollection();
  });

  it('names collections after the embedder; reading with another dimension fails with a code', async () => {
    const base = fresh();
    expect(collectionName(base, hashingEmbedder({ dimension: 256 }))).toBe(`${base}__hash-v1__256`);
    expect(collectionName('a b/c__d', { id: 'text-embedding-3-small', dimension: 128 })).toBe(
      'a-b-c_d__text-embedding-3-small__128',
    );
    const writer = semanticMemory({ store, embedder: hashingEmbedder({ dimension: 256 }), collection: base });
    await writer.add(DOCS);
    const sameReader = semanticMemory({
      store,
      embedder: hashingEmbedder({ dimension: 256 }),
      collection: base,
    });
    expect(sameReader.collection).toBe(writer.collection);
    expect((await sameReader.search('rust ownership', { k: 1 }))[0]!.id).toBe('rust');

    const other = semanticMemory({ store, embedder: hashingEmbedder({ dimension: 128 }), collection: base });
    expect(await codeOf(other.search('rust ownership'))).toBe(MemoryErrorCode.DimensionMismatch);
    expect(await codeOf(other.count())).toBe(MemoryErrorCode.DimensionMismatch);
    // An empty, never-written memory is just empty.
    const nothing = semanticMemory({ store, embedder: hashingEmbedder(), collection: fresh() });
    expect(await nothing.search('anything')).toEqual([]);
    await writer.deleteCollection();
  });

  it('re-embeds a document whose text changed', async () => {
    const memory = semanticMemory({ store, embedder: hashingEmbedder(), collection: fresh() });
    await memory.add(DOCS);
    await memory.upsert([{ id: 'cats', text: 'Quantum chromodynamics describes quarks and gluons.' }]);
    const old = await memory.search('domestic felines purr and chase mice', { k: 1 });
    expect(old[0]!.id).not.toBe('cats');
    const updated = await memory.search('quarks and gluons', { k: 1 });
    expect(updated[0]).toMatchObject({
      id: 'cats',
      text: 'Quantum chromodynamics describes quarks and gluons.',
    });
    // The stored vector is the new text's own: the exact text scores 1.
    const exact = await memory.search('Quantum chromodynamics describes quarks and gluons.', { k: 1 });
    expect(exact[0]!.score).toBeCloseTo(1, 5);
    await memory.delete(['cats']);
    expect((await memory.search('quarks and gluons', { k: 1 }))[0]!.id).not.toBe('cats');
    expect(await memory.count()).toBe(3);
    await memory.deleteCollection();
  });

  it('chunks large documents, finds a late chunk, and drops chunks a shorter text no longer has', async () => {
    const memory = semanticMemory({
      store,
      embedder: hashingEmbedder(),
      collection: fresh(),
      chunk: { maxChars: 300, overlap: 50 },
    });
    const filler = Array.from({ length: 40 }, (_, i) => `Paragraph ${i} talks about weather and rain.`).join(
      '\n\n',
    );
    const book = `${filler}\n\nThe secret ingredient of the recipe is cardamom with orange zest.`;
    await memory.add([{ id: 'book', text: book, metadata: { kind: 'book' } }, DOCS[0]!]);
    const chunks = await memory.count();
    expect(chunks).toBeGreaterThan(5);
    const hits = await memory.search('secret ingredient cardamom orange zest', { k: 2 });
    expect(hits[0]).toMatchObject({ id: 'book', metadata: { kind: 'book' } });
    expect(hits[0]!.chunk).toBeGreaterThan(0);
    expect(hits[0]!.text).toContain('cardamom');
    // Each document at most once, even when many of its chunks are near.
    const weather = await memory.search('weather and rain paragraph', { k: 2 });
    expect(weather.map((h) => h.id).sort()).toEqual(['book', 'cats']);
    await memory.upsert([{ id: 'book', text: 'A short book now.' }]);
    expect(await memory.count()).toBe(2);
    await memory.deleteCollection();
  });

  it('notices a collection dropped elsewhere: reads it as empty, writes create it again', async () => {
    const base = fresh();
    const a = semanticMemory({ store, embedder: hashingEmbedder(), collection: base });
    const b = semanticMemory({ store, embedder: hashingEmbedder(), collection: base });
    await a.add(DOCS);
    expect(await a.count()).toBe(4);
    await b.deleteCollection();
    expect(await a.search('rust ownership')).toEqual([]);
    await a.add([DOCS[1]!]);
    expect((await b.search('rust ownership', { k: 1 }))[0]!.id).toBe('rust');
    await a.deleteCollection();
  });

  it('filters by metadata', async () => {
    const memory = semanticMemory({ store, embedder: hashingEmbedder(), collection: fresh() });
    await memory.add([
      { id: 'en-1', text: 'release notes for version two', metadata: { lang: 'en', year: 2024 } },
      { id: 'en-2', text: 'release notes for version one', metadata: { lang: 'en', year: 2020 } },
      { id: 'de-1', text: 'release notes for version two', metadata: { lang: 'de', year: 2024 } },
    ]);
    const de = await memory.search('release notes version two', { k: 3, where: { lang: 'de' } });
    expect(de.map((h) => h.id)).toEqual(['de-1']);
    expect(de[0]!.metadata).toEqual({ lang: 'de', year: 2024 });
    const recentEn = await memory.search('release notes', {
      k: 3,
      where: { lang: 'en', year: { $gte: 2022 } },
    });
    expect(recentEn.map((h) => h.id)).toEqual(['en-1']);
    expect(await codeOf(memory.add([{ id: 'x', text: 'x', metadata: { troupe_doc: 'y' } }]))).toBe(
      MemoryErrorCode.Invalid,
    );
    await memory.deleteCollection();
  });

  it('embeds through the model router in batches, and rejects vectors of the wrong size', async () => {
    const llm: LlmServer = await startLlmServer();
    try {
      const router = modelRouter({
        groups: { emb: { deployments: [{ id: 'e', baseURL: llm.url, model: 'emb' }] } },
      });
      const embedder = routerEmbedder(router, 'emb', { dimension: 64, batchSize: 2 });
      expect(embedder).toMatchObject({ id: 'emb', dimension: 64 });
      const memory = semanticMemory({ store, embedder, collection: fresh() });
      await memory.add(DOCS.concat({ id: 'extra', text: 'an extra document about chess openings' }));
      const embeds = llm.requests.filter((r) => r.endpoint === 'embeddings');
      expect(embeds).toHaveLength(3);
      expect(embeds.map((r) => (r.body as { input: string[]; dimensions: number }).input.length)).toEqual([
        2, 2, 1,
      ]);
      expect((embeds[0]!.body as { dimensions: number }).dimensions).toBe(64);
      expect((await memory.search('the gravity of the moon and the seas', { k: 1 }))[0]!.id).toBe('tides');
      await memory.deleteCollection();

      // A model that ignores the requested size (no `dimensions` sent): its vectors are not the collection's.
      const wrong = routerEmbedder(router, 'emb', { dimension: 64, sendDimensions: false });
      expect(await codeOf(wrong.embed(['hello']))).toBe(MemoryErrorCode.DimensionMismatch);
    } finally {
      await llm.close();
    }
  });
});

describe('assembleContext', () => {
  // A small seeded generator: failures reproduce.
  let seed = 42;
  const rand = (): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const text = (max: number): string => 'word '.repeat(Math.floor(rand() * max)).trim();

  it('never exceeds maxTokens over random conversations and documents', () => {
    for (let round = 0; round < 500; round++) {
      const messages: ChatMessage[] = [];
      if (rand() < 0.7) messages.push({ role: 'system', content: text(80) });
      const turns = Math.floor(rand() * 12);
      for (let i = 0; i < turns; i++) {
        const r = rand();
        if (r < 0.4) messages.push({ role: 'user', content: text(200) });
        else if (r < 0.7) messages.push({ role: 'assistant', content: text(200) });
        else {
          messages.push({
            role: 'assistant',
            content: null,
            toolCalls: [{ id: `c${i}`, name: 'f', arguments: text(20) }],
          });
          messages.push({ role: 'tool', toolCallId: `c${i}`, content: text(100) });
        }
      }
      messages.push({ role: 'user', content: text(60) });
      const retrieved = Array.from({ length: Math.floor(rand() * 8) }, (_, i) => ({
        id: `d${i}`,
        text: text(400),
      }));
      const maxTokens = Math.floor(rand() * 600);
      const total = (ms: ChatMessage[]): number => ms.reduce((s, m) => s + messageTokens(m), 0);
      let out: ChatMessage[];
      try {
        out = assembleContext({ messages, retrieved, maxTokens });
      } catch (err) {
        // Only when what must be kept does not fit.
        expect((err as { code: string }).code).toBe(MemoryErrorCode.Invalid);
        const mustKeep = messages.filter(
          (m, i) => i === messages.length - 1 || (m.role === 'system' && i === 0),
        );
        expect(total(mustKeep)).toBeGreaterThan(maxTokens);
        continue;
      }
      expect(total(out)).toBeLessThanOrEqual(maxTokens);
      expect(out[out.length - 1]).toBe(messages[messages.length - 1]);
      // No tool result without the call before it.
      out.forEach((m, i) => {
        if (m.role === 'tool') expect(['tool', 'assistant']).toContain(out[i - 1]?.role);
      });
    }
  });

  it('puts the best documents first and the newest history last, within the window', () => {
    const messages: ChatMessage[] = [
      { role: 'system', content: 'You are helpful.' },
      { role: 'user', content: 'old question '.repeat(40) },
      { role: 'assistant', content: 'old answer '.repeat(40) },
      { role: 'user', content: 'recent question' },
      { role: 'assistant', content: 'recent answer' },
      { role: 'user', content: 'now?' },
    ];
    const out = assembleContext({
      messages,
      retrieved: [{ text: 'best doc' }, { text: 'second doc' }],
      maxTokens: 60,
    });
    expect(out[0]).toBe(messages[0]);
    expect(out[1]).toEqual({ role: 'system', content: 'Relevant memory:\n\n[1] best doc\n\n[2] second doc' });
    expect(out.slice(2)).toEqual(messages.slice(3));
    expect(out.reduce((s, m) => s + messageTokens(m), 0)).toBeLessThanOrEqual(60);
  });
});

describe('semantic memory under load and outage', () => {
  let memory: SemanticMemory;

  it('answers 10k-document queries quickly (hashing embedder)', async () => {
    memory = semanticMemory({ store, embedder: hashingEmbedder(), collection: fresh(), chunk: false });
    const vocab = Array.from({ length: 5000 }, (_, i) => `w${i.toString(36)}`);
    let s = 7;
    const pick = (): string => {
      s = (s * 1103515245 + 12345) & 0x7fffffff;
      return vocab[s % vocab.length]!;
    };
    const doc = (): string => Array.from({ length: 30 }, pick).join(' ');
    for (let b = 0; b < 10; b++)
      await memory.add(Array.from({ length: 1000 }, (_, i) => ({ id: `d${b * 1000 + i}`, text: doc() })));
    expect(await memory.count()).toBe(10_000);
    const times: number[] = [];
    for (let q = 0; q < 200; q++) {
      const started = performance.now();
      const hits = await memory.search(doc(), { k: 5 });
      times.push(performance.now() - started);
      expect(hits).toHaveLength(5);
    }
    times.sort((a, b) => a - b);
    const p50 = times[Math.floor(times.length * 0.5)]!;
    const p99 = times[Math.floor(times.length * 0.99)]!;
    process.stdout.write(`semantic query at 10k docs: p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms\n`);
    expect(p50).toBeLessThan(200);
  }, 120_000);

  it('fails with MEMORY_UNAVAILABLE while chroma is down, then recovers with its data', async () => {
    const probe = 'w1 w2 w3';
    const before = await memory.search(probe, { k: 3 });
    const restarting = chroma.restart(1500);
    let code: string | undefined;
    const deadline = Date.now() + 6000;
    while (code === undefined && Date.now() < deadline) {
      code = await codeOf(memory.search(probe, { k: 3 }));
      if (code === undefined) await new Promise((r) => setTimeout(r, 50));
    }
    expect(code).toBe(MemoryErrorCode.Unavailable);
    await restarting;
    expect((await memory.search(probe, { k: 3 })).map((h) => h.id)).toEqual(before.map((h) => h.id));
    expect(await memory.count()).toBe(10_000);
    await memory.deleteCollection();
  }, 60_000);
});
