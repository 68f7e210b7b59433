// agentKit: what a fleet's agents share (the model router, the tool registry, the journal's stores, the audit
// log, a cap on concurrent steps) and the `defineAgent` that builds agents on it.

import type { z } from 'zod';
import type { ModelRouter, ModelTelemetry } from '../../models/index.js';
import type { AppendLog, KeyValueStore, Logger } from '../../runtime/index.js';
import { loggerOption } from '../../runtime/internal.js';
import { RunJournal } from '../journal/index.js';
import type { AgentRegistry } from '../registry/index.js';
import { type AuditLog, executeTool, type ToolRegistry } from '../tools/index.js';
import { agentCards } from './cards.js';
import { type AgentDefinition, type AgentSpec, defineAgentWith } from './define.js';
import type { LoopJournal, LoopTool, ToolOutcome } from './ports.js';
import type { KitParts, ModelAuditRecord, ToolAccess } from './runtime.js';
import { Semaphore } from './semaphore.js';

export interface AgentKitOptions {
  router: ModelRouter;
  /** The tools agents may name (`tools: ['search']`), with their permissions, limits and audit log. */
  tools?: ToolRegistry;
  /**
   * Where runs are journaled: an append log (`natsAppendLog()` on JetStream for a fleet) and a blob store
   * (`natsKeyValue()`). `false` or absent: runs live in memory only (no resume after a crash).
   */
  journal?: { log: AppendLog; blobs: KeyValueStore } | false;
  /** Model calls are recorded here too (their outcome: ok, BUDGET_EXCEEDED, ...). @defaultValue the registry's */
  audit?: AuditLog;
  /** At most this many agents of this kit run a step (a model call and its tools) at once; others queue in order. */
  maxConcurrentSteps?: number;
  /** @defaultValue `createLogger({ level: process.env.TROUPE_LOG_LEVEL ?? 'warn' })` */
  logger?: Logger;
  /**
   * Spans `invoke_agent <agent>` per step and `execute_tool <tool>` per tool call, through the router's hook
   * shape (`otelModelTelemetry()` from troupe/telemetry). @defaultValue none
   */
  telemetry?: ModelTelemetry;
  /**
   * The fleet's agent registry (`agentRegistry({ store: await natsKeyValue(...) })`): each agent publishes its
   * capability card when it starts, keeps its latency, success rate and load current, and removes it when it
   * stops; `registry.find({ capability })` ranks them across the fleet. @defaultValue none
   */
  registry?: AgentRegistry;
}

export interface AgentKit {
  /** Defines an agent: an actor definition to spawn, supervise, or register as a virtual actor. */
  defineAgent<O extends z.ZodType | undefined = undefined>(spec: AgentSpec<O>): AgentDefinition;
  /** The registry the kit's agents publish their cards in, if any: `kit.registry?.find({ capability })`. */
  readonly registry: AgentRegistry | undefined;
  /** Steps running now and waiting for a slot (with `maxConcurrentSteps`). */
  steps(): { running: number; waiting: number; limit: number | undefined };
}

export function agentKit(options: AgentKitOptions): AgentKit {
  const logger = loggerOption(options.logger);
  const registry = options.tools;
  const audit = options.audit ?? registry?.audit;
  const journal = options.journal === false || options.journal === undefined ? undefined : options.journal;
  const semaphore =
    options.maxConcurrentSteps === undefined ? undefined : new Semaphore(options.maxConcurrentSteps);
  const parts: KitParts = {
    router: options.router,
    tools: registry === undefined ? undefined : toolAccess(registry),
    journal:
      journal === undefined ? undefined : (runId, owner, fresh) => openJournal(journal, runId, owner, fresh),
    openRuns: journal === undefined ? undefined : (owner) => RunJournal.openRuns(journal.blobs, owner),
    semaphore,
    logger,
    telemetry: options.telemetry,
    cards: options.registry === undefined ? undefined : agentCards(options.registry, logger),
    auditModel:
      audit === undefined
        ? undefined
        : (r: ModelAuditRecord) => {
            const record: Parameters<AuditLog['record']>[0] = {
              kind: 'model',
              at: Date.now(),
              agent: r.agent,
              runId: r.runId,
              group: r.group,
              outcome: r.outcome,
              durationMs: r.durationMs,
              ...(r.tenant === undefined ? {} : { tenant: r.tenant }),
            };
            void audit.record(record).catch(() => {}); // an audit outage never fails a step
          },
  };
  return {
    defineAgent: (spec) => defineAgentWith(parts, spec),
    registry: options.registry,
    steps: () => ({
      running: semaphore?.held ?? 0,
      waiting: semaphore?.waiting ?? 0,
      limit: semaphore?.limit,
    }),
  };
}

function toolAccess(registry: ToolRegistry): ToolAccess {
  return {
    get: (name) => registry.get(name) as LoopTool | undefined,
    specs: (names) => registry.specs(names),
    execute: async (call, info) =>
      (await executeTool(registry, call, {
        agent: info.agent,
        runId: info.runId,
        grants: info.grants,
        tools: info.allow,
        signal: info.signal,
        approved: info.approved,
        requireApproval: true, // the loop asks first: only an approved call of such a tool gets here
        ...(info.tenant === undefined ? {} : { tenant: info.tenant }),
      })) as ToolOutcome,
  };
}

async function openJournal(
  stores: { log: AppendLog; blobs: KeyValueStore },
  runId: string,
  owner: string,
  fresh = false,
): Promise<LoopJournal> {
  const j = await RunJournal.open(stores.log, stores.blobs, runId, { agent: owner, fresh });
  return {
    load: async () => j.entries(),
    append: (entry) => j.append(entry),
    close: async () => {
      await j.close();
    },
  };
}
