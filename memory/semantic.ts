// Semantic memory: documents embedded into a vector store and recalled by meaning. Every write embeds the text it
// stores (an updated document never keeps its old vector), large documents are chunked, and the collection is
// named after the embedder, so reading with another embedder fails with MEMORY_DIMENSION_MISMATCH instead of
// returning nothing.

import { type ChunkOptions, chunkText } from './chunking.js';
import { collectionName, type Embedder, sanitizeName } from './embedder.js';
import { MemoryError, MemoryErrorCode } from './errors.js';
import type { Metadata, VectorCollection, VectorRecord, VectorStore, Where } from './vector-store.js';

/** A document to remember. */
export interface SemanticDocument {
  id: string;
  text: string;
  /** Filterable fields; keys starting with `troupe_` are reserved. */
  metadata?: Metadata;
}

/** A recalled document: the chunk that matched best, with its document's id and metadata. */
export interface SemanticHit {
  id: string;
  text: string;
  metadata: Metadata;
  /** Cosine similarity, 1 = same direction. */
  score: number;
  /** Which chunk of the document matched (0 for unchunked documents). */
  chunk: number;
}

export interface SearchOptions {
  /** Documents to return. @defaultValue 5 */
  k?: number;
  where?: Where;
  signal?: AbortSignal;
}

export interface SemanticMemoryOptions {
  store: VectorStore;
  embedder: Embedder;
  /** The base name; the store's collection is `collectionName(collection, embedder)`. */
  collection: string;
  /** How large documents are split; `false` stores every document whole. @defaultValue {} (2000 chars, 200 overlap) */
  chunk?: ChunkOptions | false;
}

export interface SemanticMemory {
  /** The store's collection name (derived from the base name and the embedder). */
  readonly collection: string;
  readonly embedder: Embedder;
  /** Adds new documents; an id that is already stored (or twice in `docs`) is MEMORY_INVALID. */
  add(docs: readonly SemanticDocument[], options?: { signal?: AbortSignal }): Promise<void>;
  /** Adds or replaces documents: the text is embedded again, chunks the new text no longer has are deleted. */
  upsert(docs: readonly SemanticDocument[], options?: { signal?: AbortSignal }): Promise<void>;
  /** Deletes documents (all their chunks); unknown ids are ignored. */
  delete(ids: readonly string[]): Promise<void>;
  /** The `k` documents nearest to `query` (best chunk each), best first. */
  search(query: string, options?: SearchOptions): Promise<SemanticHit[]>;
  /** Stored chunks (documents count once per chunk). */
  count(): Promise<number>;
  deleteCollection(): Promise<void>;
  close(): Promise<void>;
}

const DOC = 'troupe_doc';
const CHUNK = 'troupe_chunk';
const CHUNKS = 'troupe_chunks';
const EMBEDDER = 'troupe_embedder';
const DIMENSION = 'troupe_dimension';

/** Plain fields side by side mean all of them; Chroma wants that spelled as `$and`. */
function normalizeWhere(where: Where): Where {
  const keys = Object.keys(where);
  if (keys.length <= 1) return where;
  return { $and: keys.map((key) => ({ [key]: where[key] })) };
}

function userMetadata(metadata: Metadata): Metadata {
  const out: Metadata = {};
  for (const [key, value] of Object.entries(metadata)) if (!key.startsWith('troupe_')) out[key] = value;
  return out;
}

/**
 * Semantic memory over `store` in the collection `collectionName(collection, embedder)`. Writes create it (tagged
 * with the embedder's id and dimension); reads of a base name that only another embedder wrote fail with
 * MEMORY_DIMENSION_MISMATCH. Re-indexing with a new embedder is writing the documents again: a new collection.
 */
export function semanticMemory(options: SemanticMemoryOptions): SemanticMemory {
  const { store, embedder, chunk = {} } = options;
  const name = collectionName(options.collection, embedder);
  const siblingPrefix = `${sanitizeName(options.collection)}__`;
  let opened: VectorCollection | undefined;

  const verify = (c: VectorCollection): VectorCollection => {
    const id = c.metadata[EMBEDDER];
    const dimension = c.metadata[DIMENSION];
    if (
      (id !== undefined && id !== embedder.id) ||
      (dimension !== undefined && dimension !== embedder.dimension)
    )
      throw new MemoryError(
        MemoryErrorCode.DimensionMismatch,
        `collection ${c.name} was built by embedder ${String(id)}/${String(dimension)}, not ${embedder.id}/${embedder.dimension}`,
        { data: { collection: c.name, expected: { id, dimension }, actual: embedder } },
      );
    return c;
  };

  const forWrite = async (): Promise<VectorCollection> => {
    if (opened !== undefined) return opened;
    const c = await store.open(name, {
      create: true,
      metadata: { [EMBEDDER]: embedder.id, [DIMENSION]: embedder.dimension },
    });
    opened = verify(c!);
    return opened;
  };

  /** The collection, or undefined when nothing was written with this embedder; written by another: an error. */
  const forRead = async (): Promise<VectorCollection | undefined> => {
    if (opened !== undefined) return opened;
    const c = await store.open(name, { create: false, metadata: {} });
    if (c !== undefined) {
      opened = verify(c);
      return opened;
    }
    const others = (await store.list(siblingPrefix)).map((o) => o.name);
    if (others.length > 0)
      throw new MemoryError(
        MemoryErrorCode.DimensionMismatch,
        `semantic memory '${options.collection}' was written by another embedder (${others.join(', ')}); ` +
          `this one (${embedder.id}, ${embedder.dimension} dimensions) reads ${name}: use the same embedder or re-index`,
        { data: { collection: name, existing: others } },
      );
    return undefined;
  };

  /**
   * Runs `fn` on the collection (none: `empty`). A collection dropped elsewhere since it was opened answers
   * MEMORY_NOT_FOUND: the handle is forgotten and `fn` runs once more on a fresh open.
   */
  const using = async <T>(
    open: () => Promise<VectorCollection | undefined>,
    empty: T,
    fn: (c: VectorCollection) => Promise<T>,
  ): Promise<T> => {
    for (let attempt = 0; ; attempt++) {
      const c = await open();
      if (c === undefined) return empty;
      try {
        return await fn(c);
      } catch (err) {
        if (attempt > 0 || !(err instanceof MemoryError) || err.code !== MemoryErrorCode.NotFound) throw err;
        opened = undefined;
      }
    }
  };

  const write = async (
    docs: readonly SemanticDocument[],
    mode: 'add' | 'upsert',
    signal: AbortSignal | undefined,
  ): Promise<void> => {
    if (docs.length === 0) return;
    const seen = new Set<string>();
    const texts: string[] = [];
    const records: VectorRecord[] = [];
    for (const doc of docs) {
      if (typeof doc.id !== 'string' || doc.id === '' || typeof doc.text !== 'string')
        throw new MemoryError(
          MemoryErrorCode.Invalid,
          'a document needs a non-empty string id and a string text',
        );
      if (seen.has(doc.id)) throw new MemoryError(MemoryErrorCode.Invalid, `document ${doc.id} given twice`);
      seen.add(doc.id);
      const meta = doc.metadata ?? {};
      for (const key of Object.keys(meta))
        if (key.startsWith('troupe_'))
          throw new MemoryError(MemoryErrorCode.Invalid, `metadata key ${key} is reserved (troupe_*)`);
      const pieces = chunk === false ? [doc.text] : chunkText(doc.text, chunk);
      pieces.forEach((text, n) => {
        texts.push(text);
        records.push({
          id: pieces.length === 1 ? doc.id : `${doc.id}#${n}`,
          vector: [],
          text,
          metadata: { ...meta, [DOC]: doc.id, [CHUNK]: n, [CHUNKS]: pieces.length },
        });
      });
    }
    await using(forWrite, undefined, async (c) => {
      const existing = await c.ids({ [DOC]: { $in: [...seen] } });
      if (mode === 'add' && existing.length > 0)
        throw new MemoryError(
          MemoryErrorCode.Invalid,
          `documents already stored (use upsert): ${existing.join(', ')}`,
        );
      const vectors = await embedder.embed(texts, signal === undefined ? {} : { signal });
      records.forEach((r, i) => {
        const v = vectors[i];
        if (v === undefined || v.length !== embedder.dimension)
          throw new MemoryError(
            MemoryErrorCode.DimensionMismatch,
            `embedder ${embedder.id} returned a vector of ${v?.length} dimensions, not ${embedder.dimension}`,
          );
        r.vector = v;
      });
      await c.upsert(records);
      // Chunks the new texts no longer have: deleted after the new ones are in, so a reader never sees a gap.
      const fresh = new Set(records.map((r) => r.id));
      const stale = existing.filter((id) => !fresh.has(id));
      if (stale.length > 0) await c.delete(stale);
    });
  };

  return {
    collection: name,
    embedder,
    add: (docs, o = {}) => write(docs, 'add', o.signal),
    upsert: (docs, o = {}) => write(docs, 'upsert', o.signal),
    async delete(ids) {
      if (ids.length === 0) return;
      await using(forRead, undefined, async (c) => {
        const chunks = await c.ids({ [DOC]: { $in: [...ids] } });
        if (chunks.length > 0) await c.delete(chunks);
      });
    },
    async search(query, o = {}) {
      const k = o.k ?? 5;
      if (!Number.isInteger(k) || k < 1)
        throw new MemoryError(MemoryErrorCode.Invalid, `k must be a positive integer, got ${k}`);
      const where = o.where === undefined ? undefined : normalizeWhere(o.where);
      let vector: number[] | undefined;
      return using(forRead, [], async (c) => {
        vector ??= (await embedder.embed([query], o.signal === undefined ? {} : { signal: o.signal }))[0]!;
        // Several chunks of one document may be nearest: fetch more, keep each document's best.
        for (let n = k * 3; ; n *= 4) {
          const hits = await c.query(vector!, n, where);
          const best = new Map<string, SemanticHit>();
          for (const h of hits) {
            const doc = String(h.metadata[DOC] ?? h.id);
            if (best.has(doc)) continue;
            best.set(doc, {
              id: doc,
              text: h.text,
              metadata: userMetadata(h.metadata),
              score: 1 - h.distance,
              chunk: Number(h.metadata[CHUNK] ?? 0),
            });
            if (best.size === k) break;
          }
          if (best.size === k || hits.length < n || n >= k * 200) return [...best.values()];
        }
      });
    },
    async count() {
      return using(forRead, 0, (c) => c.count());
    },
    async deleteCollection() {
      opened = undefined;
      await store.drop(name);
    },
    close: () => store.close(),
  };
}
