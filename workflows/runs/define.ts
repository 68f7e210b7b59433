// A graph's durable runs as a virtual actor type: one actor per run id, its records in an AppendLog, its steps
// driven by durable messages to itself, so a run whose node died is picked up by the shard's next owner.

import { defineVirtual, InvalidOptionsError, type VirtualType } from '../../runtime/index.js';
import type { CompiledGraph } from '../graph/compiled.js';
import { graphRunActor } from './actor.js';
import type { GraphRunOptions } from './options.js';
import type { GraphRunProtocol, RunCell } from './protocol.js';

export type { GraphRunOptions };

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
  const slice = options.stepSliceMs;
  if (slice !== undefined && !(Number.isInteger(slice) && slice >= 0))
    throw new InvalidOptionsError('stepSliceMs', 'expected a non-negative integer');
  const definition = graphRunActor(name, graph, options);
  const type = defineVirtual(name, definition, {
    durable: options.durable ?? true,
    ...(options.passivateAfterMs === undefined ? {} : { passivateAfterMs: options.passivateAfterMs }),
  });
  return Object.freeze({ ...type, graph }) as GraphRunType<S>;
}
