// Graphs from JSON definitions: nodes by registered type, reducers by name, conditions in the safe expression
// language (expression.ts). Nothing in a definition is ever evaluated as code.

import { graph } from './builder.js';
import type { CompiledGraph } from './compiled.js';
import { WorkflowError, WorkflowErrorCode } from './errors.js';
import { type Expression, parseExpression } from './expression.js';
import { append, merge, type Reducer, replace, sum } from './reducers.js';
import { type Channel, END, type NodeSpec } from './types.js';

export type JsonState = Record<string, unknown>;

export interface GraphDefinition {
  /** Field -> reducer name (`replace`, `append`, `sum`, `merge` or a registered one), or `{ reducer?, default? }`. */
  state: Record<string, string | { reducer?: string; default?: unknown }>;
  /** `type` names a registered node factory; `agent` makes an agent node instead. */
  nodes: { name: string; type?: string; agent?: string; config?: unknown }[];
  edges?: { from: string | string[]; to: string | string[]; maxLoops?: number }[];
  /** The first branch whose `when` holds is taken; none: `otherwise`, else END. */
  conditionalEdges?: {
    from: string;
    branches: { when: string; to: string | string[] }[];
    otherwise?: string | string[];
    maxLoops?: number;
  }[];
}

export interface GraphRegistry {
  /** Node factories by type: build a node from its `config`. */
  nodes: Record<string, (config: unknown, name: string) => NodeSpec<JsonState>>;
  /** Extra reducers by name. */
  reducers?: Record<string, Reducer<unknown>>;
}

const STOCK: Record<string, () => Reducer<unknown>> = {
  replace: () => replace(),
  append: () => append() as Reducer<unknown>,
  sum: () => sum() as Reducer<unknown>,
  merge: () => merge() as Reducer<unknown>,
};

function invalid(message: string, data?: unknown): WorkflowError {
  return new WorkflowError(WorkflowErrorCode.Invalid, message, data === undefined ? {} : { data });
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const asTargets = (v: unknown): string[] =>
  typeof v === 'string' ? [v] : Array.isArray(v) ? (v as string[]) : [];

function reducerOf(name: string, registry: GraphRegistry): Reducer<unknown> {
  if (registry.reducers && Object.hasOwn(registry.reducers, name))
    return registry.reducers[name] as Reducer<unknown>;
  if (Object.hasOwn(STOCK, name)) return (STOCK[name] as () => Reducer<unknown>)();
  throw invalid(`unknown reducer "${name}"`, { reducer: name });
}

/** Builds (and validates) a graph from a JSON definition; throws coded {@link WorkflowError}s. */
export function graphFromJson(def: GraphDefinition, registry: GraphRegistry): CompiledGraph<JsonState> {
  if (!isObject(def) || !isObject(def.state) || !Array.isArray(def.nodes))
    throw invalid('a graph definition needs a "state" object and a "nodes" array');
  const state: Record<string, Channel<unknown>> = {};
  for (const [field, spec] of Object.entries(def.state)) {
    if (typeof spec === 'string') state[field] = { reducer: reducerOf(spec, registry) };
    else if (isObject(spec)) {
      const initial = spec.default;
      state[field] = {
        reducer: reducerOf(typeof spec.reducer === 'string' ? spec.reducer : 'replace', registry),
        ...(initial === undefined ? {} : { default: () => structuredClone(initial) }),
      };
    } else throw invalid(`state field "${field}" needs a reducer name or { reducer, default }`, { field });
  }
  const g = graph<JsonState>({ state });
  for (const node of def.nodes) {
    if (!isObject(node) || typeof node.name !== 'string')
      throw invalid('every node needs a "name"', { node });
    if (typeof node.agent === 'string') g.addNode(node.name, { agent: node.agent });
    else if (typeof node.type === 'string' && Object.hasOwn(registry.nodes, node.type))
      g.addNode(
        node.name,
        (registry.nodes[node.type] as GraphRegistry['nodes'][string])(node.config, node.name),
      );
    else
      throw invalid(`node "${node.name}" has no registered type ("${String(node.type)}")`, {
        node: node.name,
      });
  }
  for (const edge of def.edges ?? []) {
    if (!isObject(edge)) throw invalid('an edge must be an object', { edge });
    g.addEdge(
      asTargets(edge.from),
      asTargets(edge.to),
      edge.maxLoops === undefined ? {} : { maxLoops: edge.maxLoops },
    );
  }
  for (const cond of def.conditionalEdges ?? []) {
    if (!isObject(cond) || typeof cond.from !== 'string' || !Array.isArray(cond.branches))
      throw invalid('a conditional edge needs "from" and "branches"', { edge: cond });
    const branches: [Expression, string[]][] = cond.branches.map((b) => [
      parseExpression(b.when),
      asTargets(b.to),
    ]);
    const otherwise = cond.otherwise === undefined ? [END] : asTargets(cond.otherwise);
    const targets = [...new Set([...branches.flatMap(([, to]) => to), ...otherwise])];
    g.addConditionalEdge(
      cond.from,
      (s) => {
        for (const [when, to] of branches) if (when(s)) return to;
        return otherwise;
      },
      cond.maxLoops === undefined ? { targets } : { targets, maxLoops: cond.maxLoops },
    );
  }
  return g.build();
}
