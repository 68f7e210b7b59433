// A graph's durable runs as a virtual actor type: one actor per run id, its records in an AppendLog, its steps
// driven by durable messages to itself, so a run whose node died is picked up by the shard's next owner.

import {
  type AppendLog,
  defineVirtual,
  InvalidOptionsError,
  type Logger,
  type VirtualType,
} from '../../runtime/index.js';
import type { CompiledGraph } from '../graph/compiled.js';
import type { AgentNode, NodeContext } from '../graph/types.js';
import { type GraphRunProtocol, graphRunActor, type RunCell } from './actor.js';

export interface GraphRunOptions<S> {
  /** Where each run's records go: `natsAppendLog` for a fleet, `memoryAppendLog` embedded. */
  log: AppendLog;
  /**
   * Calls an agent node. Default: ask the agent at `node.agent` to `run` with the node's input and the run id
   * `<runId>.<node>.<step>` (a journaled agent answers a repeated run id from its journal, paying nothing twice).
   */
  invokeAgent?: (node: AgentNode<S>, state: Readonly<S>, ctx: NodeContext) => Promise<unknown>;
  /** How long the default agent call waits. @defaultValue 300000 */
  agentTimeoutMs?: number;
  /** Most supersteps per run. @defaultValue 1000 */
  maxSteps?: number;
  /**
   * Keep each step's mail in the durable store (JetStream), so a run resumes when its node dies. Without a
   * durable transport it has no effect. @defaultValue true
   */
  durable?: boolean;
  /** Idle runs leave memory after this long (they reload from the log). @defaultValue the runtime's */
  passivateAfterMs?: number;
  logger?: Logger;
}

/** A graph's run type: register it on the nodes that run graphs, and reach runs through {@link graphRuns}. */
export type GraphRunType<S> = VirtualType<GraphRunProtocol<S>, RunCell> & {
  readonly graph: CompiledGraph<S>;
};

/**
 * Makes `graph`'s runs durable virtual actors of type `name`: `system.register(defineGraphRun('triage', g, { log }))`
 * on every node that may run them, then `graphRuns(system, type).start(runId, input)` from anywhere.
 */
export function defineGraphRun<S>(
  name: string,
  graph: CompiledGraph<S>,
  options: GraphRunOptions<S>,
): GraphRunType<S> {
  if (typeof options !== 'object' || options === null)
    throw new InvalidOptionsError('options', 'expected { log }');
  if (typeof options.log?.append !== 'function' || typeof options.log?.read !== 'function')
    throw new InvalidOptionsError('log', 'expected an AppendLog');
  for (const key of ['agentTimeoutMs', 'maxSteps'] as const) {
    const v = options[key];
    if (v !== undefined && !(Number.isInteger(v) && v > 0))
      throw new InvalidOptionsError(key, 'expected a positive integer');
  }
  const definition = graphRunActor(name, graph, options);
  const type = defineVirtual(name, definition, {
    durable: options.durable ?? true,
    ...(options.passivateAfterMs === undefined ? {} : { passivateAfterMs: options.passivateAfterMs }),
  });
  return Object.freeze({ ...type, graph }) as GraphRunType<S>;
}
