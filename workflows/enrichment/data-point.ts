// A data point, defined once: which tool fetches it, the tool's arguments from the state, and how long a fetched
// value may be served from the cache. Graphs add fetch nodes for a list of them with `enrich()`.

import { type AnyTool, canonicalJson } from '../../agents/index.js';
import { InvalidOptionsError } from '../../runtime/index.js';

/** What {@link dataPoint} takes. */
export interface DataPointSpec<S> {
  /** The value's name: its key in the enrichment field of the state and part of its node's name. */
  name: string;
  /** The tool that fetches it: a tool from `defineTool` or the name of one in the registry `enrich` is given. */
  tool: AnyTool | string;
  /** The tool's arguments, from the state as it is when the fetch runs. */
  input: (state: Readonly<S>) => Record<string, unknown>;
  /** How long a fetched value is served from the cache (ms); 0 never caches it. */
  ttlMs: number;
  /** The cache key; values of one data point with the same key are shared. @defaultValue the input's canonical JSON */
  key?: ((state: Readonly<S>) => string) | undefined;
}

/** A validated {@link DataPointSpec}. */
export interface DataPoint<S> {
  readonly name: string;
  readonly tool: string;
  readonly input: (state: Readonly<S>) => Record<string, unknown>;
  readonly ttlMs: number;
  readonly key: ((state: Readonly<S>) => string) | undefined;
}

// A graph node name part and a KV token at once (the cache keys use kvToken anyway).
const NAME = /^[-_a-zA-Z0-9]{1,64}$/;

/**
 * Defines a data point; throws `INVALID_OPTIONS` naming the bad field.
 *
 * @example
 * const weather = dataPoint<Trip>({
 *   name: 'weather',
 *   tool: 'weather',
 *   input: (s) => ({ city: s.city }),
 *   ttlMs: 10 * 60_000,
 * });
 */
export function dataPoint<S>(spec: DataPointSpec<S>): DataPoint<S> {
  if (typeof spec !== 'object' || spec === null)
    throw new InvalidOptionsError('dataPoint', 'expected an object');
  if (typeof spec.name !== 'string' || !NAME.test(spec.name))
    throw new InvalidOptionsError('name', 'expected 1-64 characters of [-_a-zA-Z0-9]');
  const tool = typeof spec.tool === 'string' ? spec.tool : spec.tool?.name;
  if (typeof tool !== 'string' || tool === '')
    throw new InvalidOptionsError('tool', `data point ${spec.name}: expected a tool or a tool's name`);
  if (typeof spec.input !== 'function')
    throw new InvalidOptionsError('input', `data point ${spec.name}: expected a function of the state`);
  if (typeof spec.ttlMs !== 'number' || !Number.isFinite(spec.ttlMs) || spec.ttlMs < 0)
    throw new InvalidOptionsError('ttlMs', `data point ${spec.name}: expected a non-negative number`);
  if (spec.key !== undefined && typeof spec.key !== 'function')
    throw new InvalidOptionsError('key', `data point ${spec.name}: expected a function of the state`);
  return Object.freeze({ name: spec.name, tool, input: spec.input, ttlMs: spec.ttlMs, key: spec.key });
}

/** The cache key of `point` for these arguments: its `key(state)`, or the arguments' canonical JSON. */
export function cacheKeyOf<S>(
  point: DataPoint<S>,
  state: Readonly<S>,
  input: Record<string, unknown>,
): string {
  return point.key === undefined ? canonicalJson(input) : point.key(state);
}
