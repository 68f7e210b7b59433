// `enrich()`: adds a data-enrichment stage to a graph: one fetch node per data point, all run in parallel
// (fan-out), joined, then a pipeline of transform steps, one node each, in order.

import { randomUUID } from 'node:crypto';
import { executeTool, type ToolRegistry } from '../../agents/index.js';
import { InvalidOptionsError } from '../../runtime/index.js';
import type { GraphBuilder } from '../graph/builder.js';
import { END, type NodeContext, type NodeFn, START } from '../graph/types.js';
import type { EnrichmentCache } from './cache.js';
import { cacheKeyOf, type DataPoint } from './data-point.js';
import { EnrichmentError, EnrichmentErrorCode } from './errors.js';

/** One step of the transform pipeline: a pure function of the state to a partial update. */
export interface TransformStep<S> {
  readonly name: string;
  readonly run: NodeFn<S>;
}

/** A transform step named `name` (its node is `<prefix>.<name>`). */
export function transform<S>(name: string, run: NodeFn<S>): TransformStep<S> {
  if (typeof name !== 'string' || !NAME.test(name))
    throw new InvalidOptionsError('name', 'expected 1-64 characters of [-_a-zA-Z0-9]');
  if (typeof run !== 'function')
    throw new InvalidOptionsError('run', `transform ${name}: expected a function`);
  return Object.freeze({ name, run });
}

/** What {@link enrich} takes. */
export interface EnrichOptions<S> {
  /** The data points to fetch, in parallel. At least one. */
  points: readonly DataPoint<S>[];
  /**
   * The state field that collects fetched values as `{ [point.name]: value }`: declare it with the `merge()`
   * reducer, so parallel fetches add up.
   */
  into: keyof S & string;
  /** Runs the data points' tools (permissions, rate limits, timeouts, audit: as for an agent). */
  tools: ToolRegistry;
  /** Serves fresh values instead of calling tools. @defaultValue none: every run fetches */
  cache?: EnrichmentCache;
  /** Steps run one after another once every data point is in. @defaultValue none */
  transforms?: readonly TransformStep<S>[];
  /** The node the stage starts after. @defaultValue START */
  after?: string;
  /** The node the stage leads to. @defaultValue END */
  then?: string;
  /** Prefix of the stage's node names: `<prefix>.fetch.<point>`, `<prefix>.<transform>`. @defaultValue `enrich` */
  prefix?: string;
  /** Who calls the tools, for the registry's permissions and the audit log. @defaultValue `enrichment` */
  agent?: string;
  /** Scopes granted to the tool calls. @defaultValue none */
  grants?: readonly string[];
  /** Tenant of the tool calls (per-tenant rate limits). */
  tenant?: string;
}

const NAME = /^[-_a-zA-Z0-9]{1,64}$/;

/** Fetches one data point: from the cache when fresh, else through its tool; a failed call throws its code. */
function fetchNode<S>(point: DataPoint<S>, options: EnrichOptions<S>): NodeFn<S> {
  const { tools, cache, into } = options;
  const agent = options.agent ?? 'enrichment';
  return async (state: Readonly<S>, ctx: NodeContext) => {
    const input = point.input(state);
    const call = async (): Promise<unknown> => {
      const outcome = await executeTool(
        tools,
        { name: point.tool, arguments: JSON.stringify(input), callId: point.name },
        {
          agent,
          // Unique per call: a heavy tool's task is keyed `<runId>:<callId>` across the fleet.
          runId: `enrich-${randomUUID()}`,
          signal: ctx.signal,
          ...(options.grants === undefined ? {} : { grants: options.grants }),
          ...(options.tenant === undefined ? {} : { tenant: options.tenant }),
        },
      );
      if (outcome.ok) return outcome.value;
      throw new EnrichmentError(
        EnrichmentErrorCode.FetchFailed,
        `data point ${point.name}: ${outcome.code}: ${outcome.message}`,
        {
          data: { point: point.name, tool: point.tool, toolCode: outcome.code, retryable: outcome.retryable },
        },
      );
    };
    const value =
      cache === undefined
        ? await call()
        : await cache.fetch(point.name, cacheKeyOf(point, state, input), point.ttlMs, call);
    return { [into]: { [point.name]: value } } as Partial<S>;
  };
}

/**
 * Adds an enrichment stage to `builder` between `after` and `then`: a fetch node per data point (they run at
 * once), joined, then the transforms in order. Returns the builder, to go on adding nodes and edges.
 *
 * @example
 * type Lead = { email: string; data: Record<string, unknown>; score: number };
 * const g = enrich(graph<Lead>({ state: { email: replace(), data: merge(), score: replace() } }), {
 *   points: [company, social],
 *   into: 'data',
 *   tools,
 *   cache,
 *   transforms: [transform('score', (s) => ({ score: scoreOf(s.data) }))],
 * }).build();
 * const lead = await g.run({ email: 'ada@example.com' });
 */
export function enrich<S>(builder: GraphBuilder<S>, options: EnrichOptions<S>): GraphBuilder<S> {
  if (typeof options !== 'object' || options === null)
    throw new InvalidOptionsError('options', 'expected an object');
  const { points, tools } = options;
  if (!Array.isArray(points) || points.length === 0)
    throw new InvalidOptionsError('points', 'expected at least one data point');
  const names = new Set<string>();
  for (const p of points) {
    if (typeof p?.name !== 'string' || typeof p.input !== 'function')
      throw new InvalidOptionsError('points', 'expected data points from dataPoint()');
    if (names.has(p.name)) throw new InvalidOptionsError('points', `data point ${p.name} is listed twice`);
    names.add(p.name);
  }
  if (typeof options.into !== 'string' || options.into === '')
    throw new InvalidOptionsError('into', 'expected the name of a state field');
  if (typeof tools?.get !== 'function') throw new InvalidOptionsError('tools', 'expected a ToolRegistry');
  for (const p of points)
    if (tools.get(p.tool) === undefined)
      throw new InvalidOptionsError(
        'points',
        `data point ${p.name}: no tool named ${p.tool} in the registry`,
      );
  const transforms = options.transforms ?? [];
  if (!Array.isArray(transforms) || transforms.some((t) => typeof t?.run !== 'function'))
    throw new InvalidOptionsError('transforms', 'expected steps from transform()');
  const prefix = options.prefix ?? 'enrich';
  if (typeof prefix !== 'string' || !NAME.test(prefix))
    throw new InvalidOptionsError('prefix', 'expected 1-64 characters of [-_a-zA-Z0-9]');

  const fetches = points.map((p) => `${prefix}.fetch.${p.name}`);
  points.forEach((p, i) => {
    builder.addNode(fetches[i] as string, fetchNode(p, options));
  });
  builder.addEdge(options.after ?? START, fetches);
  // A join: the first step runs once every fetch has finished.
  let last: readonly string[] = fetches;
  for (const t of transforms) {
    const name = `${prefix}.${t.name}`;
    builder.addNode(name, t.run);
    builder.addEdge(last, name);
    last = [name];
  }
  builder.addEdge(last, options.then ?? END);
  return builder;
}
