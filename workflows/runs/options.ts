// What a graph's durable runs are configured with.

import type { AppendLog, Logger } from '../../runtime/index.js';
import type { AgentNode, NodeContext } from '../graph/types.js';

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
  /**
   * How long a run goes from step to step under one step message before it sends itself the next: asks to the
   * run (status, cancel) wait at most this (plus a step). 0: one message per step. @defaultValue 100
   */
  stepSliceMs?: number;
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
