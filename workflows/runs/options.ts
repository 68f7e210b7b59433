// What a graph's durable runs are configured with.

import { type AppendLog, type Logger, silentLogger } from '../../runtime/index.js';
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

const DEFAULT_AGENT_TIMEOUT_MS = 300_000;
const DEFAULT_MAX_STEPS = 1000;
const DEFAULT_STEP_SLICE_MS = 100;

/** @internal The options with their defaults filled in (`defineGraphRun` has checked them). */
export type ResolvedGraphRunOptions<S> = Required<
  Pick<GraphRunOptions<S>, 'log' | 'agentTimeoutMs' | 'stepSliceMs' | 'maxSteps' | 'logger'>
> &
  Pick<GraphRunOptions<S>, 'invokeAgent'>;

/** @internal Fills in the defaults; never mutates `options`. */
export function resolveGraphRunOptions<S>(options: GraphRunOptions<S>): ResolvedGraphRunOptions<S> {
  return {
    log: options.log,
    agentTimeoutMs: options.agentTimeoutMs ?? DEFAULT_AGENT_TIMEOUT_MS,
    stepSliceMs: options.stepSliceMs ?? DEFAULT_STEP_SLICE_MS,
    maxSteps: options.maxSteps ?? DEFAULT_MAX_STEPS,
    logger: options.logger ?? silentLogger,
    ...(options.invokeAgent === undefined ? {} : { invokeAgent: options.invokeAgent }),
  };
}
