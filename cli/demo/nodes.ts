// The demo's nodes: the worker (the executor agent and the heavy tool's task runner), node-a and node-b (the
// coordinator, planner and knowledge agents) and the capped knowledge agent of the budget act. Built here once,
// both for the embedded demo (every node in this process) and for each child process of `--nats`.

import { agentKit } from '../../agents/index.js';
import { type BudgetLedger, budgetLedger } from '../../models/index.js';
import {
  type ActorRef,
  type ActorSystem,
  createSystem,
  type Decider,
  type KeyValueStore,
  type Reply,
} from '../../runtime/index.js';
import { decider } from '../../supervisor/index.js';
import { describeError } from '../args.js';
import { type Crashable, crashable } from './crash.js';
import { demoAgents, demoTools, type FleetAddresses, taskHooks } from './fleet.js';
import type { DemoEnv } from './setup.js';

type Run = { run: { input: string; runId?: string } & Reply<unknown> };
export type AgentRef = ActorRef<Run & { subscribe: { to: string } }>;

/**
 * The knowledge agent's budget in act 3: its first run (two calls, 128 tokens) fits; the next call's reservation
 * (128 spent + 339 estimated) does not.
 */
export const BUDGET_TOKENS = 440;

/** The ledger of act 3, on the fleet's KV store: the agent's node spends it, the narrator reads it. */
export const demoLedger = (store: KeyValueStore): BudgetLedger =>
  budgetLedger({
    store,
    limits: [{ scope: 'agent', id: 'knowledge', window: 'hour', maxTokens: BUDGET_TOKENS }],
  });

export const EXECUTOR = 'worker/executor';

/** The worker node: the executor agent, on the node whose task runner works the heavy tool's tasks. */
export async function workerNode(env: DemoEnv, narrator: string): Promise<ActorSystem> {
  const system = await createSystem({
    nodeId: 'worker',
    transport: env.transport(),
    tasks: env.tasks,
    logger: env.logger,
  });
  const kit = agentKit({
    logger: env.logger,
    router: env.router(),
    tools: demoTools(env.tasks, env.audit, env.logger),
    journal: env.journal,
  });
  const at = { planner: 'node-a/planner', knowledge: 'node-a/knowledge', executor: EXECUTOR };
  const executor = system.spawn(demoAgents(kit, at).executor, { name: 'executor' }) as never as AgentRef;
  executor.tell({ type: 'subscribe', to: narrator });
  return system;
}

export interface FrontNode {
  system: ActorSystem;
  coordinator: AgentRef;
  /** The node's view of the journal's stores, to kill in place (embedded only). */
  stores: Crashable;
}

/** A node hosting the coordinator, the planner and the knowledge agent, each streaming to the narrator. */
export async function frontNode(env: DemoEnv, nodeId: string, narrator: string): Promise<FrontNode> {
  const system = await createSystem({ nodeId, transport: env.transport(), logger: env.logger });
  const stores = crashable(env.journal);
  const kit = agentKit({
    logger: env.logger,
    router: env.router(),
    tools: demoTools(env.tasks, env.audit, env.logger),
    journal: stores.journal,
  });
  const at: FleetAddresses = {
    planner: `${nodeId}/planner`,
    knowledge: `${nodeId}/knowledge`,
    executor: EXECUTOR,
  };
  const agents = demoAgents(kit, at);
  const refs: AgentRef[] = [];
  for (const name of ['planner', 'knowledge', 'coordinator'] as const)
    refs.push(system.spawn(agents[name], { name }) as never as AgentRef);
  for (const ref of refs) ref.tell({ type: 'subscribe', to: narrator });
  return { system, coordinator: refs[2]!, stores };
}

export interface CappedAgent {
  address: string;
  /** The supervisor's decision, once made (`CODE -> directive`). */
  decision(): string | undefined;
  /** Whether the supervisor stopped the agent (false after 5 s without). */
  stopped: Promise<boolean>;
}

/** Act 3's knowledge agent on `node`, on a router with the ledger; its supervisor stops it on BUDGET_EXCEEDED. */
export function cappedAgent(
  env: DemoEnv,
  node: ActorSystem,
  narrator: string,
  onDecision?: (decision: string) => void,
): CappedAgent {
  const kit = agentKit({
    logger: env.logger,
    router: env.router(demoLedger(env.journal.blobs)),
    tools: demoTools(env.tasks, env.audit, env.logger),
    journal: env.journal,
    audit: env.audit,
  });
  let decision: string | undefined;
  const rules = decider([['BUDGET_EXCEEDED', 'stop']], 'restart');
  const supervisor: Decider = (err, failure) => {
    const directive = rules(err, failure);
    decision = `${describeError(err).code} -> ${directive}`; // told by the narrator, once the asker has heard
    onDecision?.(decision);
    return directive;
  };
  const at = { planner: `${node.nodeId}/planner`, knowledge: `${node.nodeId}/knowledge`, executor: EXECUTOR };
  const def = demoAgents(kit, at, { knowledge: { supervision: { decider: supervisor } } }).knowledge;
  const agent = node.spawn(def, { name: 'knowledge-capped' }) as never as AgentRef;
  agent.tell({ type: 'subscribe', to: narrator });
  const stopped = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 5000);
    node.onLifecycle((e) => {
      if (e.type === 'stopped' && e.address === agent.address) {
        clearTimeout(timer);
        resolve(true);
      }
    });
  });
  return { address: agent.address, decision: () => decision, stopped };
}

/** The demo's nodes as the story drives them, wherever they run. */
export interface DemoNodes {
  /** The child processes (multi-process only), with how each exited if it did (node-a: `SIGKILL`). */
  readonly processes: { role: string; pid: number; exit?: string | number }[] | undefined;
  /** What the crash is, as the story tells it. */
  readonly crashNote: string;
  /** The coordinator on `node`, to ask from the narrator's side. */
  coordinator(node: 'node-a' | 'node-b'): AgentRef;
  /** `hook` runs when the heavy task starts (attempt `runs`), and the task waits for it. */
  onTaskStart(hook: (runs: number) => Promise<void>): void;
  /** How many times the heavy task ran. */
  taskRuns(): number;
  /** node-a crashes; resolves with what became of its pending `ask`, as a line of the story. */
  crash(ask: Promise<{ answer: unknown } | { err: unknown }>): Promise<string>;
  startNodeB(): Promise<void>;
  /** Spawns act 3's capped knowledge agent on node-b. */
  capped(): Promise<CappedAgent>;
  /** Writes out node-b's audit log buffer. */
  flushAudit(): Promise<void>;
  close(): Promise<void>;
}

/** Every node in this process, on the local transport (or NATS with `--redis` alone). */
export async function embeddedNodes(env: DemoEnv, narrator: string): Promise<DemoNodes> {
  const systems: ActorSystem[] = [];
  systems.push(await workerNode(env, narrator));
  const nodeA = await frontNode(env, 'node-a', narrator);
  systems.push(nodeA.system);
  let nodeB: FrontNode | undefined;
  taskHooks.runs = 0;
  return {
    processes: undefined,
    crashNote: 'it writes nothing more; its system goes down',
    coordinator: (node) => {
      if (node === 'node-a') return nodeA.coordinator;
      if (nodeB === undefined) throw new Error('node-b has not started');
      return nodeB.coordinator;
    },
    onTaskStart(hook) {
      taskHooks.onStart = hook;
    },
    taskRuns: () => taskHooks.runs,
    async crash(ask) {
      nodeA.stores.crash(); // from now on node-a writes nothing, as a killed process would not
      await nodeA.system.close();
      const lost = (await ask) as { err?: unknown };
      return `the ask to node-a/coordinator fails: ${describeError(lost.err).code}`;
    },
    async startNodeB() {
      nodeB = await frontNode(env, 'node-b', narrator);
      systems.push(nodeB.system);
    },
    async capped() {
      if (nodeB === undefined) throw new Error('node-b has not started');
      return cappedAgent(env, nodeB.system, narrator);
    },
    flushAudit: () => env.audit.flush(),
    async close() {
      taskHooks.onStart = undefined;
      for (const system of systems.reverse()) await system.close().catch(() => {});
    },
  };
}
