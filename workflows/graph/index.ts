// The graph builder: typed state with reducers, plain/conditional/fan-out edges, bounded cycles, JSON definitions.

export { GraphBuilder, graph } from './builder.js';
export { CompiledGraph } from './compiled.js';
export { WorkflowError, WorkflowErrorCode } from './errors.js';
export {
  type Expression,
  evaluate,
  MAX_EXPRESSION_DEPTH,
  MAX_EXPRESSION_LENGTH,
  parseExpression,
} from './expression.js';
export { type GraphDefinition, type GraphRegistry, graphFromJson, type JsonState } from './json.js';
export { append, merge, type Reducer, replace, sum } from './reducers.js';
export { fillTemplate, stockNodes, stringConfig } from './stock-nodes.js';
export {
  type AgentNode,
  type Channel,
  type ConditionalEdgeOptions,
  type EdgeOptions,
  END,
  type NodeContext,
  type NodeFn,
  type NodeSpec,
  type Router,
  type Runnable,
  type RunOptions,
  START,
  type StateSpec,
  type SubgraphRunNode,
} from './types.js';
