// Scenario `agent-step`: what the agent loop adds to a run, what its journal stores, what idle agents weigh.
// Overhead: one run = a model call asking for one tool, the tool, a final model call, on the offline model server
// at 0 ms latency; through an agent (`ask({ type: 'run' })`) with the journal off, on the in-memory store, and on
// JetStream (`natsAppendLog` + NATS KV), against a plain loop calling the `openai` client directly (the
// baseline), interleaved one for one so all see the same machine. Journal growth: bytes appended per step for
// 10-, 50- and 100-step runs (linear: flat per step) against what a journal storing the whole conversation per
// model call would hold. Idle agents: heap and RSS growth of 10,000 agents spawned on one node (a child with
// --expose-gc), against as many plain idle actors.

import { performance } from 'node:perf_hooks';
import OpenAI from 'openai';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { z } from 'zod';
import { agentKit, DEFAULT_BLOB_PREFIX, defineTool, ToolRegistry } from '../../agents/index.js';
import { type ModelRouter, modelRouter } from '../../models/index.js';
import {
  type ActorRef,
  type ActorSystem,
  type AppendLog,
  createSystem,
  type KeyValueStore,
  memoryAppendLog,
  memoryKeyValue,
  silentLogger,
} from '../../runtime/index.js';
import { type LlmChatRequest, type LlmServer, startLlmServer } from '../../testing/index.js';
import { natsAppendLog, natsKeyValue } from '../../transport/index.js';
import { wallNow } from '../load.js';
import type { MetricSpec, Scenario } from '../scenario.js';
import { quantile } from '../stats.js';
import { idleAgentsRole } from './agent-step-idle.js';

const INSTRUCTIONS = 'Look the key up, then answer.';
const GROWTH_STEPS = [10, 50, 100] as const;
/** Targets of the issue, at p50: µs added over the plain loop. */
const TARGET_OFF_US = 300;
const TARGET_JETSTREAM_US = 1500;
const IDLE_TARGET_BYTES = 500 * 1024 * 1024;

const lookup = defineTool({
  name: 'lookup',
  description: 'Looks a key up',
  input: z.object({ key: z.string() }),
  run: ({ key }) => ({ key, value: key.toUpperCase() }),
});

/** One tool call, then the answer: a function of the conversation, so both loops get the same replies. */
function stepScript(req: LlmChatRequest) {
  return req.messages.some((m) => m.role === 'tool')
    ? 'The value is ABC.'
    : { toolCalls: [{ name: 'lookup', arguments: { key: 'abc' } }] };
}

/** The baseline: the same run as a plain loop on the `openai` client. */
async function plainRun(client: OpenAI): Promise<string> {
  const tools = [{ type: 'function' as const, function: lookup.definition }];
  const messages: ChatCompletionMessageParam[] = [
    { role: 'system', content: INSTRUCTIONS },
    { role: 'user', content: 'look up abc' },
  ];
  const first = await client.chat.completions.create({ model: 'step', messages, tools });
  const message = first.choices[0]!.message;
  messages.push(message);
  for (const call of message.tool_calls ?? []) {
    if (call.type !== 'function') continue;
    const result = lookup.run!(JSON.parse(call.function.arguments) as { key: string }, undefined as never);
    messages.push({ role: 'tool', tool_call_id: call.id, content: JSON.stringify(result) });
  }
  const second = await client.chat.completions.create({ model: 'step', messages, tools });
  return second.choices[0]!.message.content ?? '';
}

type Runner = ActorRef<{ run: { input: string } & import('../../runtime/index.js').Reply<unknown> }>;

interface Variant {
  id: 'off' | 'memory' | 'jetstream';
  agent: Runner;
  /** Resolves once the journal's stores have no operation in flight. */
  quiet(): Promise<void>;
}

/**
 * The journal's stores, wrapped to know when none of their operations is in flight: a finished run compacts its
 * journal after the answer, and that work must not land in the next run's (or the baseline's) time.
 */
function tracked(stores: { log: AppendLog; blobs: KeyValueStore }) {
  let inflight = 0;
  const wrap =
    <A extends unknown[], R>(op: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      inflight++;
      try {
        return await op(...args);
      } finally {
        inflight--;
      }
    };
  const { log, blobs } = stores;
  return {
    journal: {
      log: {
        append: wrap(log.append.bind(log)),
        read: wrap(log.read.bind(log)),
        purge: wrap(log.purge.bind(log)),
        close: log.close.bind(log),
      } satisfies AppendLog,
      blobs: {
        get: wrap(blobs.get.bind(blobs)),
        create: wrap(blobs.create.bind(blobs)),
        update: wrap(blobs.update.bind(blobs)),
        put: wrap(blobs.put.bind(blobs)),
        delete: wrap(blobs.delete.bind(blobs)),
        close: blobs.close.bind(blobs),
      } satisfies KeyValueStore,
    },
    async quiet(): Promise<void> {
      // Twice idle across a macrotask: an operation chained on the last one has started by then.
      for (let idle = 0; idle < 2; ) {
        await new Promise((resolve) => setImmediate(resolve));
        idle = inflight === 0 ? idle + 1 : 0;
      }
    },
  };
}

/** An AppendLog and a KeyValueStore counting the bytes written through them, per log key. */
function counting(log: AppendLog, blobs: KeyValueStore) {
  const logBytes = new Map<string, number>();
  let blobBytes = 0;
  const add = (key: string, data: string) => {
    // The snapshot a finished run is compacted into is not part of its growth.
    if ((JSON.parse(data) as { kind?: string }).kind === 'snapshot') return;
    logBytes.set(key, (logBytes.get(key) ?? 0) + Buffer.byteLength(data));
  };
  const blob = (key: string, value: string) => {
    if (key.startsWith(DEFAULT_BLOB_PREFIX)) blobBytes += Buffer.byteLength(value); // not the open-runs index
  };
  return {
    logBytes,
    blobBytes: () => blobBytes,
    log: {
      append: (key: string, data: string) => {
        add(key, data);
        return log.append(key, data);
      },
      read: log.read.bind(log),
      purge: log.purge.bind(log),
      close: log.close.bind(log),
    } satisfies AppendLog,
    blobs: {
      get: blobs.get.bind(blobs),
      create: (key: string, value: string) => {
        blob(key, value);
        return blobs.create(key, value);
      },
      update: blobs.update.bind(blobs),
      put: (key: string, value: string) => {
        blob(key, value);
        return blobs.put(key, value);
      },
      delete: blobs.delete.bind(blobs),
      close: blobs.close.bind(blobs),
    } satisfies KeyValueStore,
  };
}

/** Bytes the journal appends per step of a `steps`-step run, and what whole-conversation entries would take. */
async function growth(
  server: LlmServer,
  router: ModelRouter,
  system: ActorSystem,
  steps: number,
): Promise<{ journal: number; whole: number }> {
  const model = `grow${steps}`;
  server.script(model, (req) => {
    const done = req.messages.filter((m) => m.role === 'tool').length;
    return done < steps - 1
      ? {
          text: `Step ${done + 1}: looking up k${done}.`,
          toolCalls: [{ name: 'lookup', arguments: { key: `k${done}` } }],
        }
      : `Looked up ${done} keys.`;
  });
  const stores = counting(memoryAppendLog(), memoryKeyValue());
  const kit = agentKit({
    router,
    tools: new ToolRegistry({ logger: silentLogger }).register(lookup),
    journal: { log: stores.log, blobs: stores.blobs },
    logger: silentLogger,
  });
  const agent = system.spawn(
    kit.defineAgent({
      name: `grower${steps}`,
      model: `grow${steps}`,
      instructions: INSTRUCTIONS,
      tools: ['lookup'],
      stop: { maxSteps: steps + 1 },
    }),
  ) as never as Runner;
  const from = server.requests.length;
  await agent.ask({ type: 'run', input: 'look up every key' } as never, { timeout: 60_000 });
  const requests = server.requests.slice(from).filter((r) => r.endpoint === 'chat');
  if (requests.length !== steps) throw new Error(`a ${steps}-step run made ${requests.length} model calls`);
  let journal = stores.blobBytes();
  for (const bytes of stores.logBytes.values()) journal += bytes;
  const whole = requests.reduce(
    (sum, r) => sum + Buffer.byteLength(JSON.stringify((r.body as { messages: unknown }).messages)),
    0,
  );
  return { journal: journal / steps, whole: whole / steps };
}

const latency = (id: string, label: string): MetricSpec => ({
  id,
  label,
  unit: 'µs',
  kind: 'latency',
  better: 'lower',
});

/** `agent-step`: see the file comment. */
export const agentStep: Scenario = {
  name: 'agent-step',
  description:
    'an agent run (model call → one tool → model call) on the offline model server at 0 ms latency vs a plain openai loop: p50/p99 and added µs with the journal off, in memory and on JetStream (targets at p50: < 300 µs off, < 1.5 ms JetStream); journal bytes per step at 10/50/100 steps; heap and RSS of 10,000 idle agents (target < 500 MB)',
  needs: ['nats'],
  metrics: () => [
    latency('p50', 'run p50, journal off'),
    latency('p99', 'run p99, journal off'),
    latency('added-p50', `added p50, journal off (target < ${TARGET_OFF_US} µs)`),
    latency('added-p99', 'added p99, journal off'),
    latency('added-p50-memory', 'added p50, journal in memory'),
    latency('added-p99-memory', 'added p99, journal in memory'),
    latency('added-p50-jetstream', `added p50, journal on JetStream (target < ${TARGET_JETSTREAM_US} µs)`),
    latency('added-p99-jetstream', 'added p99, journal on JetStream'),
    ...GROWTH_STEPS.map(
      (n): MetricSpec => ({
        id: `journal-bytes-${n}`,
        label: `journal bytes per step, ${n}-step run (baseline: whole conversation per step)`,
        unit: 'bytes',
        kind: 'memory',
        better: 'lower',
      }),
    ),
    {
      id: 'idle-heap',
      label: `heap of 10,000 idle agents (target < ${IDLE_TARGET_BYTES / 1024 / 1024} MB; baseline: plain actors)`,
      unit: 'bytes',
      kind: 'memory',
      better: 'lower',
    },
    {
      id: 'idle-rss',
      label: 'RSS growth, 10,000 idle agents',
      unit: 'bytes',
      kind: 'memory',
      better: 'lower',
    },
  ],
  roles: { idle: idleAgentsRole },
  async open(ctx) {
    const server = await startLlmServer();
    server.script('step', stepScript);
    const system = await createSystem({ nodeId: 'agent-step', logger: silentLogger });
    const router = modelRouter({
      groups: Object.fromEntries(
        ['step', ...GROWTH_STEPS.map((n) => `grow${n}`)].map((m) => [
          m,
          { deployments: [{ id: m, baseURL: server.url, model: m }] },
        ]),
      ),
      logger: silentLogger,
    });
    const client = new OpenAI({ baseURL: server.url, apiKey: 'no-key', maxRetries: 0, logLevel: 'off' });
    const log = await natsAppendLog({ servers: ctx.natsUrl!, name: 'journal', namespace: ctx.namespace });
    const blobs = await natsKeyValue({ servers: ctx.natsUrl!, bucket: `${ctx.namespace}-blobs` });
    const worker = await ctx.fork('idle', undefined, { execArgv: ['--expose-gc'] });

    const variant = (id: Variant['id'], stores?: { log: AppendLog; blobs: KeyValueStore }): Variant => {
      const t = stores === undefined ? undefined : tracked(stores);
      const kit = agentKit({
        router,
        tools: new ToolRegistry({ logger: silentLogger }).register(lookup),
        journal: t === undefined ? false : t.journal,
        logger: silentLogger,
      });
      const def = kit.defineAgent({
        name: `step-${id}`,
        model: 'step',
        instructions: INSTRUCTIONS,
        tools: ['lookup'],
      });
      return {
        id,
        agent: system.spawn(def, { name: id }) as never as Runner,
        quiet: t === undefined ? async () => {} : () => t.quiet(),
      };
    };
    const variants = [
      variant('off'),
      variant('memory', { log: memoryAppendLog(), blobs: memoryKeyValue() }),
      variant('jetstream', { log, blobs }),
    ];

    return {
      async round(budget) {
        const total = ctx.count(300, 2000, budget);
        const us = (ms: number) => ms * 1000;
        const q = (s: number[], p: number) => us(quantile(s, p));
        const figures: Record<string, { troupe: number; baseline?: number }> = {};
        // One phase per variant, each run paired with a plain-loop run just before it.
        for (const v of variants) {
          ctx.progress(`overhead, journal ${v.id}: ${total} agent runs, each after a plain openai loop run`);
          const plain: number[] = [];
          const agent: number[] = [];
          const deadline = budget.deadline();
          for (let i = 0; i < total && wallNow() < deadline; i++) {
            let t = performance.now();
            await plainRun(client);
            plain.push(performance.now() - t);
            t = performance.now();
            await v.agent.ask({ type: 'run', input: 'look up abc' }, { timeout: 10_000 });
            agent.push(performance.now() - t);
            await v.quiet();
          }
          plain.sort((a, b) => a - b);
          agent.sort((a, b) => a - b);
          const suffix = v.id === 'off' ? '' : `-${v.id}`;
          figures[`added-p50${suffix}`] = { troupe: q(agent, 0.5) - q(plain, 0.5) };
          figures[`added-p99${suffix}`] = { troupe: q(agent, 0.99) - q(plain, 0.99) };
          if (v.id === 'off') {
            figures.p50 = { troupe: q(agent, 0.5), baseline: q(plain, 0.5) };
            figures.p99 = { troupe: q(agent, 0.99), baseline: q(plain, 0.99) };
          }
        }

        ctx.progress('journal growth: 10-, 50- and 100-step runs');
        for (const n of GROWTH_STEPS) {
          const g = await growth(server, router, system, n);
          figures[`journal-bytes-${n}`] = { troupe: g.journal, baseline: g.whole };
        }

        const count = ctx.count(10_000, 10_000, budget);
        ctx.progress(`${count} idle agents, then ${count} plain actors (child pid ${worker.pid})`);
        type Probe = { heap: number; rss: number; count: number };
        const idle = await worker.call<{ agents: Probe; actors: Probe; gc: boolean }>(
          'measure',
          { count },
          120_000,
        );
        if (!idle.gc) ctx.progress('warning: gc() unavailable in the child; heap figures include garbage');
        // Scaled to 10,000 when --count asked for fewer.
        const scale = 10_000 / count;
        figures['idle-heap'] = { troupe: idle.agents.heap * scale, baseline: idle.actors.heap * scale };
        figures['idle-rss'] = { troupe: idle.agents.rss * scale, baseline: idle.actors.rss * scale };
        server.reset();
        server.script('step', stepScript);
        return { figures };
      },
      async close() {
        await worker.close();
        await system.close();
        await router.close();
        await blobs.close();
        await log.close();
        await server.close();
      },
    };
  },
};
