// Splits a large document into overlapping chunks that each embed well: embedders truncate long inputs, and one
// vector for a whole book matches nothing in particular.

import { MemoryError, MemoryErrorCode } from './errors.js';

/** How documents are chunked. */
export interface ChunkOptions {
  /** Largest chunk, in characters. @defaultValue 2000 */
  maxChars?: number;
  /** Characters a chunk repeats from the end of the previous one, so a sentence cut in two is whole in one. @defaultValue 200 */
  overlap?: number;
}

/**
 * `text` in chunks of at most `maxChars`, cut at a paragraph, line, sentence or word boundary when one lies in
 * the chunk's second half, each starting `overlap` characters before the previous one ended. A text that fits is
 * one chunk.
 */
export function chunkText(text: string, options: ChunkOptions = {}): string[] {
  const maxChars = options.maxChars ?? 2000;
  const overlap = options.overlap ?? 200;
  if (!Number.isInteger(maxChars) || maxChars < 1)
    throw new MemoryError(
      MemoryErrorCode.Invalid,
      `chunk maxChars must be a positive integer, got ${maxChars}`,
    );
  if (!Number.isInteger(overlap) || overlap < 0 || overlap >= maxChars)
    throw new MemoryError(MemoryErrorCode.Invalid, `chunk overlap must be in [0, maxChars), got ${overlap}`);
  if (text.length <= maxChars) return [text];
  const chunks: string[] = [];
  let start = 0;
  while (start < text.length) {
    let end = Math.min(start + maxChars, text.length);
    if (end < text.length) end = boundary(text, start, end);
    chunks.push(text.slice(start, end));
    if (end >= text.length) break;
    // Always move forward, even when the overlap reaches back past the chunk's start.
    start = Math.max(end - overlap, start + 1);
  }
  return chunks;
}

/** The best cut in text[start, end): the last paragraph, line, sentence or space in its second half, else `end`. */
function boundary(text: string, start: number, end: number): number {
  const min = start + Math.floor((end - start) / 2);
  for (const sep of ['\n\n', '\n', '. ', ' ']) {
    const at = text.lastIndexOf(sep, end - sep.length);
    if (at >= min) return at + sep.length;
  }
  return end;
}
