// `troupe demo`: four agents (coordinator, planner, knowledge, executor) answer a question across three nodes;
// the coordinator's node crashes mid-run and another node resumes the run from its journal without paying for a
// model call twice; then a budget runs out and the supervisor stops the agent. Embedded and offline by default.

import { randomBytes } from 'node:crypto';
import { agentKit, RunJournal } from '../agents/index.js';
import { budgetLedger } from '../models/index.js';
import {
  type ActorRef,
  type ActorSystem,
  createSystem,
  type Decider,
  type Reply,
  silentLogger,
  TroupeError,
} from '../runtime/index.js';
import { decider } from '../supervisor/index.js';
import { describeError, invocation, printJson, UsageError } from './args.js';
import { isSet } from './config.js';
import { type Crashable, crashable } from './demo/crash.js';
import {
  CRASH_FREE_MODEL_CALLS,
  demoAgents,
  demoTools,
  type FleetAddresses,
  QUESTION,
  taskHooks,
} from './demo/fleet.js';
import { clip, type DemoStep, type Narrator, narrator } from './demo/printer.js';
import { type DemoEnv, demoEnv } from './demo/setup.js';

const USAGE = `Usage: troupe demo [--nats URL] [--redis URL] [--openai [--model NAME]] [--json]

A multi-agent demo. A coordinator agent answers a question with a planner, a knowledge agent (which uses a
tool) and an executor (whose heavy tool runs as a task), each step streamed and printed. Mid-run the
coordinator's node crashes; another node resumes the run from its journal: no model call is made twice.
Then the knowledge agent runs out of budget: BUDGET_EXCEEDED, and its supervisor stops it.

Embedded by default: no servers, no keys (the offline model server with scripted replies, the local
transport, the journal in memory, the in-process task pool); a few seconds.
  --nats URL      nodes talk over NATS; the journal is on JetStream (natsAppendLog) with blobs in NATS KV
  --redis URL     the heavy tool's task runs on BullMQ (this process is the worker node too)
  --openai        a real model instead of the offline server: OPENAI_API_KEY, OPENAI_BASE_URL (default
                  https://api.openai.com/v1). Its answers are its own, so the story may differ; untested
                  in troupe's CI (no model API is reachable there).
  --model NAME    the model with --openai (default gpt-4o-mini)
  --json          print a machine-readable summary instead of the story
Exit code 0 when the story went as told (the run resumed with no repeated model call, the budget stop).
The runtime's own logs (the crash, the budget stop) go to stderr with --log-level info.
`;

type Run = { run: { input: string; runId?: string } & Reply<unknown> };
type AgentRef = ActorRef<Run & { subscribe: { to: string } }>;

/**
 * The knowledge agent's budget in act 3: its first run (two calls, 128 tokens) fits; the next call's reservation
 * (128 spent + 339 estimated) does not.
 */
const BUDGET_TOKENS = 440;

/** Runs the demo; resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const inv = await invocation(argv, { openai: { type: 'boolean' }, model: { type: 'string' } }, USAGE);
  if (typeof inv === 'number') return inv;
  if (inv.positionals.length > 0) throw new UsageError(`unexpected argument ${inv.positionals[0]}`);
  if (inv.values.model !== undefined && inv.values.openai !== true)
    throw new UsageError('--model goes with --openai');
  const env = await demoEnv({
    // Embedded unless NATS or Redis is configured (flag, environment or config file).
    nats: isSet(inv.config, 'nats') ? inv.config.values.nats : undefined,
    redis: isSet(inv.config, 'redis') ? inv.config.values.redis : undefined,
    openai: inv.values.openai === true ? { model: (inv.values.model as string) ?? 'gpt-4o-mini' } : undefined,
    // The story is on stdout; the runtime's own logs (the crash and the budget stop, told as warnings and errors)
    // only when asked for with --log-level, TROUPE_LOG_LEVEL or the config file.
    logger: isSet(inv.config, 'logLevel') ? inv.logger : silentLogger,
  });
  const systems: ActorSystem[] = [];
  const started = performance.now();
  // The runtime's timers (ask deadlines, retry backoffs) do not hold the process open; the demo does.
  const keepAlive = setInterval(() => {}, 60_000);
  try {
    const summary = await story(env, systems, inv.json);
    const ok = summary.ok;
    if (inv.json) printJson({ ...summary, durationMs: Math.round(performance.now() - started) });
    else
      process.stdout.write(
        `${ok ? 'demo finished: ok' : 'demo finished: unexpected results'} (${((performance.now() - started) / 1000).toFixed(1)} s)\n`,
      );
    return ok ? 0 : 1;
  } finally {
    clearInterval(keepAlive);
    taskHooks.onStart = undefined;
    for (const system of systems.reverse()) await system.close().catch(() => {});
    await env.close();
  }
}

/** A node hosting the coordinator, the planner and the knowledge agent, subscribed to by the narrator. */
async function frontNode(
  env: DemoEnv,
  nodeId: string,
  executor: string,
  tell: Narrator,
  systems: ActorSystem[],
): Promise<{ system: ActorSystem; coordinator: AgentRef; stores: Crashable }> {
  const system = await createSystem({ nodeId, transport: env.transport(), logger: env.logger });
  systems.push(system);
  const stores = crashable(env.journal);
  const kit = agentKit({
    logger: env.logger,
    router: env.router(),
    tools: demoTools(env.tasks, env.audit, env.logger),
    journal: stores.journal,
  });
  const at: FleetAddresses = { planner: `${nodeId}/planner`, knowledge: `${nodeId}/knowledge`, executor };
  const agents = demoAgents(kit, at);
  const refs: AgentRef[] = [];
  for (const name of ['planner', 'knowledge', 'coordinator'] as const)
    refs.push(system.spawn(agents[name], { name }) as never as AgentRef);
  for (const ref of refs) ref.tell({ type: 'subscribe', to: tell.address });
  return { system, coordinator: refs[2]!, stores };
}

interface Summary {
  ok: boolean;
  where: DemoEnv['where'];
  question: string;
  answer: unknown;
  crash: {
    runId: string;
    crashed: boolean;
    journaledModelCalls: number;
    resumedAtStep: number;
    pendingTool: string | undefined;
    modelCallsBeforeCrash: number;
    modelCalls: number;
    modelCallsRepeated: number | null;
    taskRuns: number;
  };
  budget: {
    agent: string;
    maxTokens: number;
    code: string | undefined;
    decision: string | undefined;
    stopped: boolean;
    audit: string[];
  };
  steps: DemoStep[];
}

async function story(env: DemoEnv, systems: ActorSystem[], json: boolean): Promise<Summary> {
  const consoleNode = await createSystem({
    nodeId: 'console',
    transport: env.transport(),
    logger: env.logger,
  });
  systems.push(consoleNode);
  const tell = narrator(consoleNode, json);
  const say = tell.say;
  say('troupe demo: four agents on three nodes');
  say(`  model:     ${env.where.model}`);
  say(`  transport: ${env.where.transport}`);
  say(`  journal:   ${env.where.journal}`);
  say(`  tasks:     ${env.where.tasks}`);

  // The worker node: the executor agent, and the task runner its heavy tool's task runs on.
  const worker = await createSystem({
    nodeId: 'worker',
    transport: env.transport(),
    tasks: env.tasks,
    logger: env.logger,
  });
  systems.push(worker);
  const workerKit = agentKit({
    logger: env.logger,
    router: env.router(),
    tools: demoTools(env.tasks, env.audit, env.logger),
    journal: env.journal,
  });
  const executor = worker.spawn(
    demoAgents(workerKit, {
      planner: 'node-a/planner',
      knowledge: 'node-a/knowledge',
      executor: 'worker/executor',
    }).executor,
    { name: 'executor' },
  ) as never as AgentRef;
  executor.tell({ type: 'subscribe', to: tell.address });
  const nodeA = await frontNode(env, 'node-a', executor.address, tell, systems);
  say(`spawned ${nodeA.coordinator.address}, node-a/planner, node-a/knowledge and ${executor.address}`);

  // Act 1: the run, and node-a crashing while the executor's task runs.
  const runId = `trip-${randomBytes(4).toString('hex')}`;
  say(`\n1. ask ${nodeA.coordinator.address} (run ${runId}): "${QUESTION}"`);
  let taskStarted!: () => void;
  const taskStart = new Promise<void>((resolve) => {
    taskStarted = resolve;
  });
  let openGate!: () => void;
  const gate = new Promise<void>((resolve) => {
    openGate = resolve;
  });
  taskHooks.runs = 0;
  taskHooks.onStart = async (runs) => {
    // The executor's step event may still be on its way to the narrator (over NATS): keep the story in order.
    await tell.seen((s) => s.agent === 'executor' && s.kind === 'step', 2000);
    say(`  ${'worker'.padEnd(12)} task demo-compute-cost starts (run ${runs})`);
    if (runs === 1) {
      taskStarted();
      await gate;
    }
  };
  const callsAtStart = env.modelCalls();
  const first = nodeA.coordinator
    .ask({ type: 'run', input: QUESTION, runId }, { timeout: 60_000 })
    .then((answer) => ({ answer }))
    .catch((err: unknown) => ({ err }));
  const beforeCrash = await Promise.race([taskStart.then(() => undefined), first]);
  let crashed = false;
  let modelCallsBeforeCrash = env.modelCalls() - callsAtStart;
  if (beforeCrash === undefined) {
    crashed = true;
    say(
      `\n  !! node-a crashes while the executor's task runs (it writes nothing more; its system goes down)`,
    );
    nodeA.stores.crash(); // from now on node-a writes nothing, as a killed process would not
    await nodeA.system.close();
    const lost = (await first) as { err?: unknown };
    say(`  the ask to node-a/coordinator fails: ${describeError(lost.err).code}`);
    say(`  model calls so far: ${modelCallsBeforeCrash}`);
    openGate(); // the worker node is fine: its task finishes, and the executor its run
    await tell.seen((s) => s.agent === 'executor' && (s.kind === 'finished' || s.kind === 'failed'), 10_000);
  } else {
    openGate();
    if ('err' in beforeCrash) throw beforeCrash.err; // the model is down, or refused the key
    say('  (the model answered without calling compute_cost: no crash to show)');
  }

  // What the journal holds of the coordinator's run now.
  const journal = await RunJournal.open(env.journal.log, env.journal.blobs, runId);
  const state = journal.replay();
  const pending = state.pendingToolCalls[0]?.name;
  say(
    `\n2. the journal of ${runId}: ${journal.entries().length} entries, ${state.modelCalls} model calls, ` +
      `${journal.stats.bytes} bytes; step ${state.step}'s call ${pending ?? '(none)'} has no result yet`,
  );
  const nodeB = await frontNode(env, 'node-b', executor.address, tell, systems);
  say(`   node-b starts; ask ${nodeB.coordinator.address} for run ${runId} again`);
  const answer = await nodeB.coordinator.ask({ type: 'run', input: QUESTION, runId }, { timeout: 60_000 });
  await tell.seen((s) => s.agent === 'coordinator' && s.kind === 'finished' && s.runId === runId, 2000);
  const modelCalls = env.modelCalls() - callsAtStart;
  const repeated = env.repeatedCalls(callsAtStart);
  say(`\n   answer: ${clip(String(answer), 200)}`);
  say(
    `   resumed from journal at step ${state.step}: ${repeated ?? 'n/a'} model calls repeated ` +
      `(model calls: ${modelCallsBeforeCrash} before the crash, ${modelCalls} in all` +
      `${env.server === undefined ? '' : `; a run without the crash makes ${CRASH_FREE_MODEL_CALLS}`})`,
  );
  say(`   compute_cost ran ${taskHooks.runs} time(s) as task demo-compute-cost on ${env.where.tasks}`);
  if (!crashed) modelCallsBeforeCrash = modelCalls;

  // Act 3: a budget. The knowledge agent on a router with a ledger: two calls fit, the third is refused.
  const budget = await budgetAct(env, nodeB.system, executor.address, tell);

  const ok =
    typeof answer === 'string' &&
    answer.length > 0 &&
    (!crashed || (repeated ?? 0) === 0) &&
    (env.server === undefined ||
      (crashed &&
        state.step === 3 &&
        pending === 'ask_executor' &&
        modelCalls === CRASH_FREE_MODEL_CALLS &&
        taskHooks.runs === 1)) &&
    budget.code === 'BUDGET_EXCEEDED' &&
    budget.decision === 'BUDGET_EXCEEDED -> stop' &&
    budget.stopped;
  return {
    ok,
    where: env.where,
    question: QUESTION,
    answer,
    crash: {
      runId,
      crashed,
      journaledModelCalls: state.modelCalls,
      resumedAtStep: state.step,
      pendingTool: pending,
      modelCallsBeforeCrash,
      modelCalls,
      modelCallsRepeated: repeated ?? null,
      taskRuns: taskHooks.runs,
    },
    budget,
    steps: tell.steps,
  };
}

async function budgetAct(
  env: DemoEnv,
  node: ActorSystem,
  executor: string,
  tell: Narrator,
): Promise<Summary['budget']> {
  const say = tell.say;
  say(`\n3. a budget: the knowledge agent may spend ${BUDGET_TOKENS} tokens an hour (a budgetLedger)`);
  const ledger = budgetLedger({
    store: env.journal.blobs,
    limits: [{ scope: 'agent', id: 'knowledge', window: 'hour', maxTokens: BUDGET_TOKENS }],
  });
  const kit = agentKit({
    logger: env.logger,
    router: env.router(ledger),
    tools: demoTools(env.tasks, env.audit, env.logger),
    journal: env.journal,
    audit: env.audit,
  });
  let decision: string | undefined;
  const rules = decider([['BUDGET_EXCEEDED', 'stop']], 'restart');
  const supervisor: Decider = (err, failure) => {
    const directive = rules(err, failure);
    decision = `${describeError(err).code} -> ${directive}`; // told below, once the asker has heard
    return directive;
  };
  const def = demoAgents(
    kit,
    { planner: 'node-b/planner', knowledge: 'node-b/knowledge', executor },
    { knowledge: { supervision: { decider: supervisor } } },
  ).knowledge;
  const agent = node.spawn(def, { name: 'knowledge-capped' }) as never as AgentRef;
  agent.tell({ type: 'subscribe', to: tell.address });
  const stopped = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 5000);
    node.onLifecycle((e) => {
      if (e.type === 'stopped' && e.address === agent.address) {
        clearTimeout(timer);
        resolve(true);
      }
    });
  });
  const prefix = `b-${randomBytes(3).toString('hex')}`;
  let code: string | undefined;
  for (const n of [1, 2]) {
    const input = 'What does gpt-4o-mini cost per million input and output tokens?';
    say(`  ask ${agent.address} (run ${prefix}-${n})`);
    try {
      await agent.ask({ type: 'run', input, runId: `${prefix}-${n}` }, { timeout: 30_000 });
      await tell.seen((s) => s.runId === `${prefix}-${n}` && s.kind === 'finished', 2000);
      const used = await ledger.usage('agent', 'knowledge');
      say(`  ${'ledger'.padEnd(12)} knowledge has spent ${used?.tokens ?? 0} of ${BUDGET_TOKENS} tokens`);
    } catch (err) {
      code = TroupeError.is(err) ? err.code : describeError(err).code;
      say(`  the ask fails: ${code}: ${clip(describeError(err).message, 120)}`);
      break;
    }
  }
  const wasStopped = await stopped;
  if (decision !== undefined) say(`  ${'supervisor'.padEnd(12)} decided ${decision}`);
  say(`  ${agent.address} ${wasStopped ? 'stopped by its supervisor' : 'still running'}`);
  await env.audit.flush();
  const records = await env.audit.query({ agent: 'knowledge', since: 0, limit: 1000 });
  const audit = records
    .filter((r) => (r.runId ?? '').startsWith(prefix))
    .map(
      (r) =>
        `${r.runId} ${r.kind === 'model' ? `model ${r.group}` : `tool ${r.tool}`}: ${r.outcome}${r.kind === 'model' && r.tokens !== undefined ? ` (${r.tokens} tokens)` : ''}`,
    );
  say('  audit log:');
  for (const line of audit) say(`    ${line}`);
  return {
    agent: 'knowledge',
    maxTokens: BUDGET_TOKENS,
    code,
    decision,
    stopped: wasStopped,
    audit,
  };
}
