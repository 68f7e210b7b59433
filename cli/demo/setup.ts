// Where the demo runs: the model (the offline server with scripted replies, or a real OpenAI-compatible API),
// the transport between its nodes, the journal's stores, the task runner and the audit log; embedded by default,
// on NATS and BullMQ when given their URLs.

import { type AuditLog, auditLog } from '../../agents/index.js';
import {
  type BudgetLedger,
  type DeploymentConfig,
  type ModelRouter,
  type ModelTelemetry,
  modelRouter,
} from '../../models/index.js';
import {
  type AppendLog,
  type KeyValueStore,
  type Logger,
  memoryAppendLog,
  memoryKeyValue,
  type TaskRunner,
  type Transport,
  taskPool,
} from '../../runtime/index.js';
import { bullmqTaskRunner } from '../../tasks-bullmq/index.js';
import { type LlmServer, startLlmServer } from '../../testing/index.js';
import {
  createLocalHub,
  localTransport,
  type NatsAuthOptions,
  natsAppendLog,
  natsKeyValue,
  natsTransport,
} from '../../transport/index.js';
import { UsageError } from '../args.js';
import { computeCost, GROUPS, scriptedModel, scriptFleet } from './fleet.js';

export interface DemoSettings {
  nats: string | undefined;
  /** NATS credentials and TLS, for the transport and every store (`--nats-user`, `NATS_CREDS`, ...). */
  auth?: NatsAuthOptions | undefined;
  redis: string | undefined;
  /** A real model: `model` on OPENAI_BASE_URL (default api.openai.com) with OPENAI_API_KEY. */
  openai: { model: string } | undefined;
  logger: Logger;
  /** Node ids, queues and KV keys of one demo: its child processes pass the demo process's. */
  namespace?: string;
  /** The offline model server another process (the demo's) started: this one starts none. */
  modelUrl?: string;
  /** Whether this process works the heavy tool's tasks (with Redis: a BullMQ worker). Default true. */
  worksTasks?: boolean;
}

export interface DemoEnv {
  readonly logger: Logger;
  readonly where: { transport: string; tasks: string; journal: string; model: string };
  readonly server: LlmServer | undefined;
  readonly tasks: TaskRunner;
  readonly journal: { log: AppendLog; blobs: KeyValueStore };
  readonly audit: AuditLog;
  /** A router over the four groups, spending `budget` when given. */
  router(budget?: BudgetLedger): ModelRouter;
  transport(): Transport;
  /** Model calls made so far (requests the offline server got; calls the routers made on a real model). */
  modelCalls(): number;
  /** Of the calls since `from` (a {@link modelCalls} value), how many sent a request already sent: paid twice. */
  repeatedCalls(from: number): number | undefined;
  close(): Promise<void>;
}

/** Unique per demo process: node ids and queues of two demos on one server stay apart. */
export const NAMESPACE = `demo${process.pid}`;

export async function demoEnv(settings: DemoSettings): Promise<DemoEnv> {
  const { nats, redis, openai, logger, namespace = NAMESPACE, modelUrl, worksTasks = true } = settings;
  const auth = settings.auth === undefined ? {} : { auth: settings.auth };
  const closers: (() => Promise<void>)[] = [];
  const close = async (): Promise<void> => {
    for (const c of closers.splice(0).reverse()) await c().catch(() => {});
  };
  try {
    let server: LlmServer | undefined;
    let deployment: (group: string) => DeploymentConfig;
    if (openai === undefined && modelUrl !== undefined) {
      deployment = (group) => ({ id: group, baseURL: modelUrl, model: scriptedModel(group) });
    } else if (openai === undefined) {
      server = await startLlmServer();
      const s = server;
      closers.push(() => s.close());
      scriptFleet(server);
      deployment = (group) => ({ id: group, baseURL: s.url, model: scriptedModel(group) });
    } else {
      if (!process.env.OPENAI_API_KEY)
        throw new UsageError('--openai needs OPENAI_API_KEY in the environment');
      const baseURL = process.env.OPENAI_BASE_URL ?? 'https://api.openai.com/v1';
      deployment = (group) => ({ id: group, baseURL, model: openai.model, apiKeyEnv: 'OPENAI_API_KEY' });
    }
    let calls = 0;
    const counting: ModelTelemetry = {
      onCall: () => {
        calls++;
        return undefined;
      },
    };
    const routers: ModelRouter[] = [];
    closers.push(async () => {
      for (const r of routers) await r.close();
    });
    const router = (budget?: BudgetLedger): ModelRouter => {
      const r = modelRouter({
        groups: Object.fromEntries(GROUPS.map((g) => [g, { deployments: [deployment(g)] }])),
        logger,
        telemetry: counting,
        ...(budget === undefined ? {} : { budget }),
      });
      routers.push(r);
      return r;
    };

    const hub = createLocalHub();
    const transport = (): Transport =>
      nats ? natsTransport({ servers: nats, namespace, logger, ...auth }) : localTransport({ hub });

    // The journal: JetStream (a stream per log, runs by subject) and NATS KV for its blobs, or in memory.
    let journal: { log: AppendLog; blobs: KeyValueStore };
    let auditStore: AppendLog;
    if (nats) {
      const log = await natsAppendLog({ servers: nats, name: 'journal', namespace: 'demo', ...auth });
      closers.push(() => log.close());
      auditStore = await natsAppendLog({ servers: nats, name: 'audit', namespace: 'demo', ...auth });
      closers.push(() => auditStore.close());
      const blobs = await natsKeyValue({
        servers: nats,
        ...auth,
        bucket: 'troupe-demo',
        namespace,
        maxAgeMs: 24 * 3600_000, // a demo's blobs and run index clean themselves up
      });
      closers.push(() => blobs.close());
      journal = { log, blobs };
    } else {
      journal = { log: memoryAppendLog(), blobs: memoryKeyValue() };
      auditStore = memoryAppendLog();
    }
    const audit = auditLog(auditStore);
    closers.push(() => audit.flush());

    // With Redis the heavy tool's task goes through BullMQ (worked here unless another process is the worker).
    const tasks: TaskRunner = redis
      ? bullmqTaskRunner({ redis, prefix: namespace, ...(worksTasks ? { work: [computeCost] } : {}), logger })
      : taskPool({ logger });
    closers.push(() => tasks.drain());

    return {
      logger,
      where: {
        transport: nats ? `NATS at ${nats}` : 'the embedded local transport',
        tasks: redis ? `BullMQ at ${redis}` : nats ? "the worker node's task pool" : 'the embedded task pool',
        journal: nats ? 'JetStream (stream TROUPE_LOG_demo_journal, blobs in NATS KV)' : 'memory',
        model: openai
          ? `${openai.model} at ${process.env.OPENAI_BASE_URL ?? 'https://api.openai.com/v1'}`
          : `the offline model server at ${server?.url ?? modelUrl} (scripted replies)`,
      },
      server,
      tasks,
      journal,
      audit,
      router,
      transport,
      modelCalls: () => (server ? chats(server).length : calls),
      repeatedCalls(from) {
        if (server === undefined) return undefined;
        const seen = new Set<string>();
        let repeated = 0;
        for (const r of chats(server).slice(from)) {
          const body = JSON.stringify(r.body);
          if (seen.has(body)) repeated++;
          seen.add(body);
        }
        return repeated;
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

const chats = (server: LlmServer) => server.requests.filter((r) => r.endpoint === 'chat');
