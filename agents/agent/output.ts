// Structured output: the zod schema becomes the `json_schema` response format the model sees, and the model's
// final text is parsed and validated against it; what fails goes back to the model for a bounded repair.

import { z } from 'zod';
import type { ResponseFormat } from '../../models/index.js';

export interface OutputSpec {
  readonly schema: z.ZodType;
  readonly format: ResponseFormat;
}

/** The response format for `schema` (a JSON Schema derived by zod, without its `$schema` line). */
export function outputSpec(name: string, schema: z.ZodType): OutputSpec {
  const json = z.toJSONSchema(schema) as Record<string, unknown>;
  delete json.$schema;
  return { schema, format: { type: 'json_schema', name: formatName(name), schema: json } };
}

/** OpenAI takes `[a-zA-Z0-9_-]{1,64}` as a schema name. */
function formatName(name: string): string {
  return `${name.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, 56)}_output`;
}

export type Parsed = { ok: true; value: unknown } | { ok: false; issues: string };

/** Parses the model's text as JSON and validates it; the issues read as a short list the model can act on. */
export function parseOutput(spec: OutputSpec, text: string): Parsed {
  let value: unknown;
  try {
    value = JSON.parse(stripFence(text));
  } catch (err) {
    return { ok: false, issues: `not valid JSON (${(err as Error).message})` };
  }
  const result = spec.schema.safeParse(value);
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, issues: describeIssues(result.error) };
}

/** `path: message` per issue, joined. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((i) => `${i.path.length > 0 ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ');
}

/** Models sometimes wrap JSON in a ```json fence even when asked for JSON. */
function stripFence(text: string): string {
  const t = text.trim();
  if (!t.startsWith('```')) return t;
  return t
    .replace(/^```[a-zA-Z]*\s*/, '')
    .replace(/```$/, '')
    .trim();
}
