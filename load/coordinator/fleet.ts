// Which nodes take part in a run: the in-process agent (embedded), or every member offering the load role.

import type { ActorRef, ActorSystem, Clock } from '../../runtime/index.js';
import { LOAD_AGENT_NAME, LOAD_ROLE, type LoadAgentProtocol } from '../agent/protocol.js';
import { LoadError, LoadErrorCode } from '../errors.js';

/** The load nodes a coordinator can see, and how to reach each one's agent. */
export interface LoadFleet {
  /** The load nodes alive now, sorted by id. */
  nodes(): string[];
  /** The load agent of `node`. */
  agent(node: string): ActorRef<LoadAgentProtocol>;
}

/** One node: this process's own agent. */
export function embeddedFleet(system: ActorSystem, agent: ActorRef<LoadAgentProtocol>): LoadFleet {
  return { nodes: () => [system.nodeId], agent: () => agent };
}

/** Every member of the cluster whose roles include `load`, its agent at `<nodeId>/troupe-load`. */
export function clusterFleet(system: ActorSystem): LoadFleet {
  return {
    nodes: () =>
      (system.transport?.members?.() ?? [])
        .filter((m) => m.roles.includes(LOAD_ROLE))
        .map((m) => m.id)
        .sort(),
    agent: (node) => system.ref<LoadAgentProtocol>(`${node}/${LOAD_AGENT_NAME}`),
  };
}

/** Options of {@link waitForLoadNodes}. */
export interface WaitForNodesOptions {
  /** Wait for this many (and use the first this many by id); without it, use all seen once the view settles. */
  count?: number;
  /** @defaultValue 15000 */
  timeoutMs?: number;
  /** Without `count`: how long the view must stay unchanged after the first node is seen. @defaultValue 1500 */
  settleMs?: number;
  clock: Clock;
  signal?: AbortSignal;
}

const sleep = (clock: Clock, ms: number): Promise<void> =>
  new Promise((resolve) => clock.setTimeout(resolve, ms));

/** Waits until enough load nodes are members; throws LOAD_NO_NODES naming how many were seen. */
export async function waitForLoadNodes(fleet: LoadFleet, options: WaitForNodesOptions): Promise<string[]> {
  const { clock, count } = options;
  const timeoutMs = options.timeoutMs ?? 15_000;
  const settleMs = options.settleMs ?? 1500;
  const deadline = clock.now() + timeoutMs;
  let seen: string[] = [];
  let stableSince = clock.now();
  for (;;) {
    if (options.signal?.aborted)
      throw new LoadError(LoadErrorCode.Stopped, 'interrupted while waiting for load nodes');
    const now = fleet.nodes();
    if (now.join(',') !== seen.join(',')) stableSince = clock.now();
    seen = now;
    if (count !== undefined && seen.length >= count) return seen.slice(0, count);
    if (count === undefined && seen.length > 0 && clock.now() - stableSince >= settleMs) return seen;
    if (clock.now() >= deadline)
      throw new LoadError(
        LoadErrorCode.NoNodes,
        `found ${seen.length} node(s) offering the "${LOAD_ROLE}" role within ${timeoutMs} ms` +
          `${count === undefined ? '' : `, need ${count}`}: start them with \`troupe node --role ${LOAD_ROLE} --nats URL\` on the same namespace`,
      );
    await sleep(clock, 100);
  }
}
