// Deterministic embeddings by feature hashing: each word and each of its character trigrams is hashed into one
// of `dimensions` buckets with a hashed sign, and the vector is L2-normalised. Texts that share words (or word
// stems) get a high cosine similarity; unrelated texts land near 0. No model, same vector on every machine.

/** The dimensions `/v1/embeddings` returns when the request names none. */
export const DEFAULT_EMBEDDING_DIMENSIONS = 256;

/** FNV-1a, 32 bits: small, fast and stable across platforms. */
function fnv1a(text: string, seed = 0x811c9dc5): number {
  let h = seed;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function add(vector: Float32Array, feature: string, weight: number): void {
  const h = fnv1a(feature);
  const sign = (fnv1a(feature, 0x9747b28c) & 1) === 0 ? 1 : -1;
  const i = h % vector.length;
  vector[i] = (vector[i] ?? 0) + sign * weight;
}

/** The unit vector of `text` in `dimensions` dimensions. An empty text maps to the first basis vector. */
export function embedText(text: string, dimensions = DEFAULT_EMBEDDING_DIMENSIONS): Float32Array {
  const vector = new Float32Array(dimensions);
  const words = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  for (const word of words) {
    add(vector, `w:${word}`, 1);
    const padded = `^${word}$`;
    for (let i = 0; i + 3 <= padded.length; i++) add(vector, `t:${padded.slice(i, i + 3)}`, 0.5);
  }
  let norm = 0;
  for (const v of vector) norm += v * v;
  if (norm === 0) {
    vector[0] = 1;
    return vector;
  }
  const scale = 1 / Math.sqrt(norm);
  for (let i = 0; i < vector.length; i++) vector[i] = (vector[i] ?? 0) * scale;
  return vector;
}

/** Cosine similarity of two vectors of the same length. */
export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}

/** The texts of an embeddings `input`: a string, strings, or token arrays (each token id read as a word). */
export function inputTexts(input: unknown): string[] | undefined {
  if (typeof input === 'string') return [input];
  if (!Array.isArray(input) || input.length === 0) return undefined;
  if (input.every((x) => typeof x === 'string')) return input as string[];
  if (input.every((x) => typeof x === 'number')) return [input.join(' ')];
  if (input.every((x) => Array.isArray(x) && x.every((t) => typeof t === 'number'))) {
    return (input as number[][]).map((tokens) => tokens.join(' '));
  }
  return undefined;
}

/** A vector in the wire form the request asked for: floats, or base64 of little-endian float32s. */
export function encodeEmbedding(vector: Float32Array, format: 'float' | 'base64'): number[] | string {
  if (format === 'float') return Array.from(vector);
  return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('base64');
}
