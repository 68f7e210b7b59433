// The VectorStore port over Chroma (the `chromadb` client, HTTP to `chroma run` or a Chroma server). troupe
// computes every vector itself, so collections have no embedding function; the space is cosine.

import {
  ChromaClient,
  ChromaConnectionError,
  type Metadata as ChromaMetadata,
  ChromaNotFoundError,
  ChromaServerError,
  type Where as ChromaWhere,
  type Collection,
} from 'chromadb';
import { MemoryError, MemoryErrorCode } from '../errors.js';
import type { CollectionInfo, Metadata, VectorCollection, VectorStore } from '../vector-store.js';

export interface ChromaStoreOptions {
  /** `http://127.0.0.1:8000`. Ignored when `client` is given. */
  url?: string;
  client?: ChromaClient;
  /** Records per request on writes. @defaultValue 1000 */
  batchSize?: number;
}

/** Chroma's errors as MemoryErrors: an unreachable server, a wrong dimension, a missing collection. */
export function toMemoryError(err: unknown, what: string): MemoryError {
  if (err instanceof MemoryError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (/dimension/i.test(message))
    return new MemoryError(MemoryErrorCode.DimensionMismatch, `${what}: ${message}`, { cause: err });
  if (err instanceof ChromaNotFoundError || /does not exist|not found/i.test(message))
    return new MemoryError(MemoryErrorCode.NotFound, `${what}: ${message}`, { cause: err });
  if (
    err instanceof ChromaConnectionError ||
    err instanceof ChromaServerError ||
    (err instanceof TypeError && /fetch/i.test(message)) ||
    /ECONNREFUSED|ECONNRESET|socket|network|connect/i.test(message)
  )
    return new MemoryError(MemoryErrorCode.Unavailable, `${what}: chroma unavailable: ${message}`, {
      cause: err,
    });
  return new MemoryError(MemoryErrorCode.Invalid, `${what}: ${message}`, { cause: err });
}

async function guard<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toMemoryError(err, what);
  }
}

function clientFor(url: string): ChromaClient {
  const u = new URL(url);
  const ssl = u.protocol === 'https:';
  return new ChromaClient({ host: u.hostname, port: Number(u.port || (ssl ? 443 : 80)), ssl });
}

function plainMetadata(m: ChromaMetadata | null | undefined): Metadata {
  const out: Metadata = {};
  if (m === null || m === undefined) return out;
  for (const [k, v] of Object.entries(m))
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = v;
  return out;
}

function wrap(c: Collection, batchSize: number): VectorCollection {
  const label = `chroma collection ${c.name}`;
  return {
    name: c.name,
    metadata: plainMetadata(c.metadata as ChromaMetadata | undefined),
    upsert: (records) =>
      guard(`${label} upsert`, async () => {
        for (let i = 0; i < records.length; i += batchSize) {
          const batch = records.slice(i, i + batchSize);
          await c.upsert({
            ids: batch.map((r) => r.id),
            embeddings: batch.map((r) => r.vector),
            documents: batch.map((r) => r.text),
            metadatas: batch.map((r) => r.metadata),
          });
        }
      }),
    delete: (ids) =>
      guard(`${label} delete`, async () => {
        for (let i = 0; i < ids.length; i += batchSize) await c.delete({ ids: ids.slice(i, i + batchSize) });
      }),
    ids: (where) =>
      guard(`${label} get`, async () => (await c.get({ where: where as ChromaWhere, include: [] })).ids),
    query: (vector, k, where) =>
      guard(`${label} query`, async () => {
        const r = await c.query({
          queryEmbeddings: [[...vector]],
          nResults: k,
          ...(where === undefined ? {} : { where: where as ChromaWhere }),
          include: ['documents', 'metadatas', 'distances'],
        });
        const ids = r.ids[0] ?? [];
        return ids.map((id, i) => ({
          id,
          text: r.documents[0]?.[i] ?? '',
          metadata: plainMetadata(r.metadatas[0]?.[i]),
          distance: r.distances[0]?.[i] ?? Number.POSITIVE_INFINITY,
        }));
      }),
    count: () => guard(`${label} count`, () => c.count()),
  };
}

/** A {@link VectorStore} on Chroma. */
export function chromaStore(options: ChromaStoreOptions): VectorStore {
  if (options.client === undefined && options.url === undefined)
    throw new MemoryError(MemoryErrorCode.Invalid, 'chromaStore needs a url or a client');
  const client = options.client ?? clientFor(options.url!);
  const batchSize = options.batchSize ?? 1000;
  return {
    open: (name, { create, metadata }) =>
      guard(`chroma open ${name}`, async () => {
        if (create) {
          const c = await client.getOrCreateCollection({
            name,
            metadata,
            embeddingFunction: null,
            configuration: { hnsw: { space: 'cosine' } },
          });
          return wrap(c, batchSize);
        }
        try {
          return wrap(await client.getCollection({ name }), batchSize);
        } catch (err) {
          const e = toMemoryError(err, `chroma open ${name}`);
          if (e.code === MemoryErrorCode.NotFound) return undefined;
          throw e;
        }
      }),
    list: (prefix) =>
      guard('chroma list', async () => {
        const out: CollectionInfo[] = [];
        for (let offset = 0; ; offset += 100) {
          const page = await client.listCollections({ limit: 100, offset });
          for (const c of page)
            if (c.name.startsWith(prefix))
              out.push({ name: c.name, metadata: plainMetadata(c.metadata as ChromaMetadata | undefined) });
          if (page.length < 100) return out;
        }
      }),
    drop: (name) =>
      guard(`chroma drop ${name}`, async () => {
        try {
          await client.deleteCollection({ name });
          return true;
        } catch (err) {
          if (toMemoryError(err, name).code === MemoryErrorCode.NotFound) return false;
          throw err;
        }
      }),
    close: async () => {},
  };
}
