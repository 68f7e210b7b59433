// Embedders turn texts into vectors. Every vector store collection is named after the embedder's id and dimension,
// so the write path and the read path of one embedder always agree, and a different embedder never silently reads
// an index built by another (it fails with MEMORY_DIMENSION_MISMATCH instead, see semantic.ts).

import type { ModelRouter } from '../models/index.js';
import { MemoryError, MemoryErrorCode } from './errors.js';

/** Texts to vectors, all of `dimension` numbers. */
export interface Embedder {
  /** Names the vector space: two embedders with the same id and dimension must produce comparable vectors. */
  readonly id: string;
  readonly dimension: number;
  /** One vector per text, in order. */
  embed(texts: readonly string[], opts?: { signal?: AbortSignal }): Promise<number[][]>;
}

function checkDimension(dimension: number): void {
  if (!Number.isInteger(dimension) || dimension < 1)
    throw new MemoryError(
      MemoryErrorCode.Invalid,
      `embedder dimension must be a positive integer, got ${dimension}`,
    );
}

/** FNV-1a, 32 bits: fast, stable across processes and versions (the vectors are persisted). */
function fnv1a(text: string, seed: number): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

const WORD = /[\p{L}\p{N}]+/gu;

/** The L2-normalised feature-hashed vector of `text`: words and word pairs, log-scaled counts, hashed signs. */
function hashText(text: string, dimension: number): number[] {
  const vector = new Array<number>(dimension).fill(0);
  const words = text.toLowerCase().match(WORD) ?? [];
  const counts = new Map<string, number>();
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    counts.set(w, (counts.get(w) ?? 0) + 1);
    // Pairs weigh half: they sharpen phrase matches without drowning single-word recall.
    if (i > 0) counts.set(`${words[i - 1]} ${w}`, (counts.get(`${words[i - 1]} ${w}`) ?? 0) + 0.5);
  }
  for (const [feature, count] of counts) {
    const h = fnv1a(feature, 0x811c9dc5);
    const sign = (fnv1a(feature, 0x9747b28c) & 1) === 0 ? 1 : -1;
    vector[h % dimension]! += sign * (1 + Math.log(count + 1));
  }
  let norm = 0;
  for (const v of vector) norm += v * v;
  // A text without words gets the first basis vector: a zero vector has no cosine distance.
  if (norm === 0) {
    vector[0] = 1;
    return vector;
  }
  norm = Math.sqrt(norm);
  for (let i = 0; i < dimension; i++) vector[i]! /= norm;
  return vector;
}

/**
 * A deterministic offline embedder (feature hashing of words and word pairs): no model, no network. Texts that
 * share words are close; it knows no synonyms. For tests, demos and lexical recall.
 */
export function hashingEmbedder(options: { dimension?: number } = {}): Embedder {
  const dimension = options.dimension ?? 256;
  checkDimension(dimension);
  return {
    id: 'hash-v1',
    dimension,
    embed: async (texts) => texts.map((t) => hashText(t, dimension)),
  };
}

/** Options of {@link routerEmbedder}. */
export interface RouterEmbedderOptions {
  /** The vectors' length: asked of the model (`dimensions`) and checked on every answer. */
  dimension: number;
  /** Texts per request. @defaultValue 64 */
  batchSize?: number;
  /** The embedder's id (names the collections). @defaultValue `${group}` */
  id?: string;
  /**
   * Send `dimensions` to the server (models such as text-embedding-3 shorten their vectors); turn off for models
   * with a fixed size that reject the field. @defaultValue true
   */
  sendDimensions?: boolean;
}

/**
 * Embeddings through the models layer's router (`router.embed(group, texts)`): its retries, fallbacks, budgets
 * and tracing apply. Texts go in batches of `batchSize`; a vector of another length than `dimension` is a
 * MEMORY_DIMENSION_MISMATCH error (the model is not the one the collection was built with).
 */
export function routerEmbedder(router: ModelRouter, group: string, options: RouterEmbedderOptions): Embedder {
  const { dimension, batchSize = 64, sendDimensions = true } = options;
  checkDimension(dimension);
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new MemoryError(MemoryErrorCode.Invalid, `batchSize must be a positive integer, got ${batchSize}`);
  const id = options.id ?? group;
  return {
    id,
    dimension,
    async embed(texts, opts = {}) {
      const out: number[][] = [];
      for (let start = 0; start < texts.length; start += batchSize) {
        const batch = texts.slice(start, start + batchSize);
        const result = await router.embed(group, batch, {
          ...(opts.signal === undefined ? {} : { signal: opts.signal }),
          ...(sendDimensions ? { dimensions: dimension } : {}),
        });
        if (result.vectors.length !== batch.length)
          throw new MemoryError(
            MemoryErrorCode.Invalid,
            `embedder ${id}: ${batch.length} texts gave ${result.vectors.length} vectors`,
          );
        for (const v of result.vectors) {
          if (v.length !== dimension)
            throw new MemoryError(
              MemoryErrorCode.DimensionMismatch,
              `embedder ${id} is configured for ${dimension} dimensions but model ${result.model} returned ${v.length}`,
              { data: { expected: dimension, actual: v.length, model: result.model } },
            );
          out.push(v);
        }
      }
      return out;
    },
  };
}

/** Characters Chroma (and most stores) accept in a collection name. */
const UNSAFE = /[^a-zA-Z0-9._-]+/g;

/** The name part of a collection name: safe characters only, no leading/trailing separators. */
export function sanitizeName(part: string): string {
  // Runs of `_` shrink to one, so `__` only ever separates the parts.
  return (
    part
      .replace(UNSAFE, '-')
      .replace(/_{2,}/g, '_')
      .replace(/^[^a-zA-Z0-9]+|[^a-zA-Z0-9]+$/g, '') || 'x'
  );
}

/**
 * The collection that holds `base`'s vectors made by `embedder`: `${base}__${id}__${dimension}`, sanitised. Both
 * the write and the read path call this, so they cannot disagree.
 */
export function collectionName(base: string, embedder: Pick<Embedder, 'id' | 'dimension'>): string {
  return `${sanitizeName(base)}__${sanitizeName(embedder.id)}__${embedder.dimension}`;
}
