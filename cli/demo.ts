// `troupe demo`: four agents (coordinator, planner, knowledge, executor) answer a question across three nodes;
// the coordinator's node crashes mid-run and another node resumes the run from its journal without paying for a
// model call twice; then a budget runs out and the supervisor stops the agent. Embedded and offline by default.

import { randomBytes } from 'node:crypto';
import { RunJournal } from '../agents/index.js';
import { type ActorSystem, createSystem, silentLogger, TroupeError } from '../runtime/index.js';
import { describeError, invocation, printJson, UsageError } from './args.js';
import { isSet } from './config.js';
import { natsAuth } from './connect.js';
import { CRASH_FREE_MODEL_CALLS, QUESTION } from './demo/fleet.js';
import type { NodeConfig } from './demo/ipc.js';
import {
  type AgentRef,
  BUDGET_TOKENS,
  type DemoNodes,
  demoLedger,
  EXECUTOR,
  embeddedNodes,
} from './demo/nodes.js';
import { clip, type DemoStep, type Narrator, narrator } from './demo/printer.js';
import { processNodes } from './demo/processes.js';
import { type DemoEnv, demoEnv, NAMESPACE } from './demo/setup.js';

const USAGE = `Usage: troupe demo [--nats URL] [--redis URL] [--openai [--model NAME]] [--json]

A multi-agent demo. A coordinator agent answers a question with a planner, a knowledge agent (which uses a
tool) and an executor (whose heavy tool runs as a task), each step streamed and printed. Mid-run the
coordinator's node crashes; another node resumes the run from its journal: no model call is made twice.
Then the knowledge agent runs out of budget: BUDGET_EXCEEDED, and its supervisor stops it.

Embedded by default: no servers, no keys (the offline model server with scripted replies, the local
transport, the journal in memory, the in-process task pool), every node in this process; about a second.
  --nats URL      each node is a process of its own (this one tells the story): they talk over NATS, the
                  journal is on JetStream (natsAppendLog) with blobs in NATS KV, and node-a's crash is a
                  SIGKILL of its process
  --redis URL     the heavy tool's task runs on BullMQ (the worker node's process is the BullMQ worker)
  --openai        a real model instead of the offline server: OPENAI_API_KEY, OPENAI_BASE_URL (default
                  https://api.openai.com/v1). Its answers are its own, so the story may differ; untested
                  in troupe's CI (no model API is reachable there).
  --model NAME    the model with --openai (default gpt-4o-mini)
  --json          print a machine-readable summary instead of the story
Exit code 0 when the story went as told (the run resumed with no repeated model call, the budget stop).
The runtime's own logs (the crash, the budget stop) go to stderr with --log-level info.
`;

/** Runs the demo; resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const inv = await invocation(argv, { openai: { type: 'boolean' }, model: { type: 'string' } }, USAGE);
  if (typeof inv === 'number') return inv;
  if (inv.positionals.length > 0) throw new UsageError(`unexpected argument ${inv.positionals[0]}`);
  if (inv.values.model !== undefined && inv.values.openai !== true)
    throw new UsageError('--model goes with --openai');
  // Embedded unless NATS or Redis is configured (flag, environment or config file).
  const nats = isSet(inv.config, 'nats') ? inv.config.values.nats : undefined;
  const redis = isSet(inv.config, 'redis') ? inv.config.values.redis : undefined;
  const openai =
    inv.values.openai === true ? { model: (inv.values.model as string) ?? 'gpt-4o-mini' } : undefined;
  // The story is on stdout; the runtime's own logs (the crash and the budget stop, told as warnings and errors)
  // only when asked for with --log-level, TROUPE_LOG_LEVEL or the config file.
  const logs = isSet(inv.config, 'logLevel');
  const auth = nats === undefined ? undefined : natsAuth(inv.config);
  const env = await demoEnv({
    nats,
    auth,
    redis,
    openai,
    logger: logs ? inv.logger : silentLogger,
    // With NATS the worker node's process works the tasks; this one only reads the journal, ledger and audit.
    worksTasks: nats === undefined,
  });
  const apart: Apart | undefined =
    nats === undefined
      ? undefined
      : {
          nats,
          auth,
          redis,
          namespace: NAMESPACE,
          modelUrl: env.server?.url,
          openai,
          log: logs ? { level: inv.config.values.logLevel, format: inv.config.values.logFormat } : undefined,
        };
  const systems: ActorSystem[] = [];
  let nodes: DemoNodes | undefined;
  const started = performance.now();
  // The runtime's timers (ask deadlines, retry backoffs) do not hold the process open; the demo does.
  const keepAlive = setInterval(() => {}, 60_000);
  try {
    const summary = await story(env, apart, systems, inv.json, (n) => {
      nodes = n;
    });
    const ok = summary.ok;
    if (inv.json) printJson({ ...summary, durationMs: Math.round(performance.now() - started) });
    else
      process.stdout.write(
        `${ok ? 'demo finished: ok' : 'demo finished: unexpected results'} (${((performance.now() - started) / 1000).toFixed(1)} s)\n`,
      );
    return ok ? 0 : 1;
  } finally {
    clearInterval(keepAlive);
    await nodes?.close().catch(() => {});
    for (const system of systems.reverse()) await system.close().catch(() => {});
    await env.close();
  }
}

/** The settings of the node processes, when the nodes run apart (`--nats`). */
type Apart = Omit<NodeConfig, 'role' | 'narrator'>;

interface Summary {
  ok: boolean;
  where: DemoEnv['where'];
  /** With `--nats`: this process (`demo`, the narrator) and each node's, with how it exited if it did. */
  processes?: { role: string; pid: number; exit?: string | number }[];
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

async function story(
  env: DemoEnv,
  apart: Apart | undefined,
  systems: ActorSystem[],
  json: boolean,
  started: (nodes: DemoNodes) => void,
): Promise<Summary> {
  const consoleNode = await createSystem({
    nodeId: 'console',
    transport: env.transport(),
    logger: env.logger,
  });
  systems.push(consoleNode);
  const tell = narrator(consoleNode, json);
  const say = tell.say;
  say(`troupe demo: four agents on three nodes${apart === undefined ? '' : ', each node a process'}`);
  say(`  model:     ${env.where.model}`);
  say(`  transport: ${env.where.transport}`);
  say(`  journal:   ${env.where.journal}`);
  say(`  tasks:     ${env.where.tasks}`);

  // The worker node (the executor agent, and the task runner its heavy tool's task runs on), and node-a.
  const nodes =
    apart === undefined
      ? await embeddedNodes(env, tell.address)
      : await processNodes(apart, consoleNode, tell.address);
  started(nodes);
  if (nodes.processes !== undefined)
    say(
      `  processes: demo ${process.pid} (this one, the narrator), ` +
        nodes.processes.map((p) => `${p.role} ${p.pid}`).join(', '),
    );
  const coordinatorA = nodes.coordinator('node-a');
  say(`spawned ${coordinatorA.address}, node-a/planner, node-a/knowledge and ${EXECUTOR}`);

  // Act 1: the run, and node-a crashing while the executor's task runs.
  const runId = `trip-${randomBytes(4).toString('hex')}`;
  say(`\n1. ask ${coordinatorA.address} (run ${runId}): "${QUESTION}"`);
  let taskStarted!: () => void;
  const taskStart = new Promise<void>((resolve) => {
    taskStarted = resolve;
  });
  let openGate!: () => void;
  const gate = new Promise<void>((resolve) => {
    openGate = resolve;
  });
  nodes.onTaskStart(async (runs) => {
    // The executor's step event may still be on its way to the narrator (over NATS): keep the story in order.
    await tell.seen((s) => s.agent === 'executor' && s.kind === 'step', 2000);
    say(`  ${'worker'.padEnd(12)} task demo-compute-cost starts (run ${runs})`);
    if (runs === 1) {
      taskStarted();
      await gate;
    }
  });
  const callsAtStart = env.modelCalls();
  const first = coordinatorA
    .ask({ type: 'run', input: QUESTION, runId }, { timeout: 60_000 })
    .then((answer) => ({ answer }))
    .catch((err: unknown) => ({ err }));
  const beforeCrash = await Promise.race([taskStart.then(() => undefined), first]);
  let crashed = false;
  let modelCallsBeforeCrash = env.modelCalls() - callsAtStart;
  if (beforeCrash === undefined) {
    crashed = true;
    say(`\n  !! node-a crashes while the executor's task runs (${nodes.crashNote})`);
    say(`  ${await nodes.crash(first)}`);
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
  await nodes.startNodeB();
  const coordinatorB = nodes.coordinator('node-b');
  const pidB = nodes.processes?.find((p) => p.role === 'node-b')?.pid;
  say(
    `   node-b starts${pidB === undefined ? '' : ` (pid ${pidB})`}; ask ${coordinatorB.address} for run ${runId} again`,
  );
  const answer = await coordinatorB.ask({ type: 'run', input: QUESTION, runId }, { timeout: 60_000 });
  await tell.seen((s) => s.agent === 'coordinator' && s.kind === 'finished' && s.runId === runId, 2000);
  const modelCalls = env.modelCalls() - callsAtStart;
  const repeated = env.repeatedCalls(callsAtStart);
  say(`\n   answer: ${clip(String(answer), 200)}`);
  say(
    `   resumed from journal at step ${state.step}: ${repeated ?? 'n/a'} model calls repeated ` +
      `(model calls: ${modelCallsBeforeCrash} before the crash, ${modelCalls} in all` +
      `${env.server === undefined ? '' : `; a run without the crash makes ${CRASH_FREE_MODEL_CALLS}`})`,
  );
  const taskRuns = nodes.taskRuns();
  say(`   compute_cost ran ${taskRuns} time(s) as task demo-compute-cost on ${env.where.tasks}`);
  if (!crashed) modelCallsBeforeCrash = modelCalls;

  // Act 3: a budget. The knowledge agent on a router with a ledger: two calls fit, the third is refused.
  const budget = await budgetAct(env, nodes, consoleNode, tell);

  const ok =
    typeof answer === 'string' &&
    answer.length > 0 &&
    (!crashed || (repeated ?? 0) === 0) &&
    (env.server === undefined ||
      (crashed &&
        state.step === 3 &&
        pending === 'ask_executor' &&
        modelCalls === CRASH_FREE_MODEL_CALLS &&
        taskRuns === 1)) &&
    budget.code === 'BUDGET_EXCEEDED' &&
    budget.decision === 'BUDGET_EXCEEDED -> stop' &&
    budget.stopped;
  return {
    ok,
    where: env.where,
    ...(nodes.processes === undefined
      ? {}
      : { processes: [{ role: 'demo', pid: process.pid }, ...nodes.processes] }),
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
      taskRuns,
    },
    budget,
    steps: tell.steps,
  };
}

async function budgetAct(
  env: DemoEnv,
  nodes: DemoNodes,
  console: ActorSystem,
  tell: Narrator,
): Promise<Summary['budget']> {
  const say = tell.say;
  say(`\n3. a budget: the knowledge agent may spend ${BUDGET_TOKENS} tokens an hour (a budgetLedger)`);
  const ledger = demoLedger(env.journal.blobs); // the one node-b's agent spends, read from here
  const capped = await nodes.capped();
  const agent = console.ref(capped.address) as never as AgentRef;
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
  const wasStopped = await capped.stopped;
  const decision = capped.decision();
  if (decision !== undefined) say(`  ${'supervisor'.padEnd(12)} decided ${decision}`);
  say(`  ${agent.address} ${wasStopped ? 'stopped by its supervisor' : 'still running'}`);
  await nodes.flushAudit();
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
