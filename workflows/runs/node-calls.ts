// How a durable run's agent and subgraph nodes call out: agents by asking the agent actor with a run id derived
// from the step (a journaled agent answers a repeat from its journal), subgraphs as durable child runs.

import { createHash } from 'node:crypto';
import { GraphInterrupt } from '../graph/interrupt.js';
import type { NodeCall } from '../graph/node-runner.js';
import type { AgentNode, NodeContext, SubgraphRunNode } from '../graph/types.js';
import type { ResolvedGraphRunOptions } from './options.js';
import type { GraphRunOutcome, RunContext } from './protocol.js';

type Bag = Record<string, unknown>;

/** A child run's id: `<runId>:<node>:<step>`, hashed when over the 128 characters an actor id may have. */
function childRunId(runId: string, node: string, step: number): string {
  const id = `${runId}:${node}:${step}`;
  return id.length <= 128 && /^[-\w:+=@~]+$/.test(id)
    ? id
    : `sub-${createHash('sha256')
        .update(id)
        .digest('base64url')
        .slice(0, 43)
        .replace(/[^-\w]/g, '_')}`;
}

/** @internal How node `node` of step `step` of the actor's run calls its agent or its child run. */
export function durableNodeCalls<S>(
  ctx: RunContext<S>,
  options: ResolvedGraphRunOptions<S>,
  runId: string,
  node: string,
  step: number,
): Required<Pick<NodeCall, 'invokeAgent' | 'invokeRun'>> {
  const timeout = options.agentTimeoutMs;
  const invokeAgent = async (
    agent: AgentNode<unknown>,
    state: Readonly<Bag>,
    nodeCtx: NodeContext,
  ): Promise<unknown> => {
    if (options.invokeAgent !== undefined)
      return options.invokeAgent(agent as AgentNode<S>, state as S, nodeCtx);
    const input = agent.input !== undefined ? agent.input(state) : JSON.stringify(state);
    return ctx
      .refFor(agent.agent)
      .ask({ type: 'run', input, runId: `${runId}.${node}.${step}` } as never, { timeout });
  };

  /**
   * Starts (idempotently) the child run `<runId>:<node>:<step>` and waits for its end. An interrupt in the child
   * stops this run too (its payload names the child); once this run is resumed, the value goes to the child.
   * The child runs on by itself meanwhile, crashes included, so it never starts over.
   */
  const invokeRun = async (
    sub: SubgraphRunNode<unknown>,
    state: Readonly<Bag>,
    nodeCtx: NodeContext,
  ): Promise<unknown> => {
    const childId = childRunId(runId, node, step);
    const child = ctx.refFor(`$v/${sub.run}/${childId}`);
    const input = sub.input !== undefined ? sub.input(state) : state;
    await child.ask({ type: 'start', input } as never, { timeout });
    let resumed = false;
    for (;;) {
      const out = (await child.ask({ type: 'result' } as never, { timeout })) as GraphRunOutcome<unknown>;
      if (out.status === 'done') return out.state;
      const payload = { subgraph: sub.run, runId: childId, interrupts: out.interrupts };
      // Resumed once already in this attempt: the child asks again, so this run waits again.
      if (resumed) throw new GraphInterrupt(node, payload);
      const value = nodeCtx.interrupt(payload);
      await child.ask({ type: 'resume', value } as never, { timeout });
      resumed = true;
    }
  };
  return { invokeAgent, invokeRun };
}
