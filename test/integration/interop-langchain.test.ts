// LangChain.js / LangGraph.js interop: message conversions both ways (LangChain classes and OpenAI JSON), and
// runnables and compiled graphs run as troupe agent actors, locally and as virtual actors over a real nats-server.
// The load check at the end runs dist/ (`npm run build` first).

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AIMessage, type BaseMessage, HumanMessage, ToolMessage } from '@langchain/core/messages';
import { RunnableLambda } from '@langchain/core/runnables';
import { END, MessagesAnnotation, START, StateGraph } from '@langchain/langgraph';
import { afterEach, describe, expect, it } from 'vitest';
import {
  fromLangChainMessages,
  fromOpenAIMessages,
  InteropErrorCode,
  type LangChainAgentProtocol,
  langchainAgent,
  toLangChainMessages,
  toOpenAIMessages,
} from '../../interop/langchain/index.js';
import type { ChatMessage, ContentPart, ToolCall } from '../../models/index.js';
import { type ActorSystem, createSystem, type TroupeError } from '../../runtime/index.js';
import { natsCluster } from '../helpers/cluster.js';
import { until } from '../helpers/fixtures.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** A small seeded PRNG (mulberry32): the same lists every run, many shapes. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TEXTS = [
  '',
  'hello',
  '  spaced  ',
  'multi\nline',
  'ünïcødé ✓ 🎭',
  '{"looks":"json"}',
  'null',
  'a"b\\c',
];
const ARGS = [
  '{}',
  '{"city":"Paris"}',
  '{ "city": "Paris", "days": 3 }', // whitespace: JSON.stringify would change it
  '{"nested":{"a":[1,2,{"b":null}]},"u":"✓"}',
  '{"city":', // invalid: the model's broken JSON must survive as is
  '[1,2]', // valid JSON, not an object
  '',
  '"str"',
];

function messageList(next: () => number, n: number): ChatMessage[] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
  const out: ChatMessage[] = [];
  let call = 0;
  for (let i = 0; i < n; i++) {
    const kind = pick(['system', 'user', 'user-parts', 'assistant', 'assistant-tools', 'tool'] as const);
    if (kind === 'system') out.push({ role: 'system', content: pick(TEXTS) });
    else if (kind === 'user')
      out.push(
        next() < 0.3
          ? { role: 'user', content: pick(TEXTS), name: 'bob' }
          : { role: 'user', content: pick(TEXTS) },
      );
    else if (kind === 'user-parts') {
      const parts: ContentPart[] = [{ type: 'text', text: pick(TEXTS) }];
      if (next() < 0.5) parts.push({ type: 'image', url: 'https://example.test/cat.png' });
      if (next() < 0.5)
        parts.push({ type: 'image', url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'low' });
      out.push({ role: 'user', content: parts });
    } else if (kind === 'assistant') out.push({ role: 'assistant', content: pick(TEXTS) });
    else if (kind === 'assistant-tools') {
      const toolCalls: ToolCall[] = Array.from({ length: 1 + Math.floor(next() * 3) }, () => ({
        id: `call_${++call}`,
        name: pick(['weather', 'search', 'lookup_v2']),
        arguments: pick(ARGS),
      }));
      out.push({ role: 'assistant', content: pick([null, 'let me check', 'ünïcødé ✓ 🎭']), toolCalls });
    } else out.push({ role: 'tool', toolCallId: `call_${call}`, content: pick(TEXTS) });
  }
  return out;
}

/** What a LangChain round trip keeps: `null` and '' both mean "no text" (LangChain has no null content). */
function noTextNormalized(messages: ChatMessage[]): ChatMessage[] {
  return messages.map((m) => {
    if (m.role !== 'assistant') return m;
    const hasCalls = m.toolCalls !== undefined && m.toolCalls.length > 0;
    const content = m.content === '' || m.content === null ? (hasCalls ? null : '') : m.content;
    return hasCalls
      ? { role: 'assistant', content, toolCalls: m.toolCalls! }
      : { role: 'assistant', content };
  });
}

describe('message conversion', () => {
  it('round-trips troupe messages through LangChain classes and OpenAI JSON, over 300 generated lists', () => {
    const next = rng(14);
    let toolCalls = 0;
    for (let i = 0; i < 300; i++) {
      const messages = messageList(next, 1 + Math.floor(next() * 8));
      const lc = toLangChainMessages(messages);
      expect(fromLangChainMessages(lc)).toEqual(noTextNormalized(messages));
      const wire = JSON.parse(JSON.stringify(toOpenAIMessages(messages)));
      expect(fromOpenAIMessages(wire)).toEqual(messages);
      // The two paths compose: LangChain -> troupe -> OpenAI -> troupe.
      expect(fromOpenAIMessages(toOpenAIMessages(fromLangChainMessages(lc)))).toEqual(
        noTextNormalized(messages),
      );
      for (const m of messages) if (m.role === 'assistant') toolCalls += m.toolCalls?.length ?? 0;
    }
    expect(toolCalls).toBeGreaterThan(200);
  });

  it('gives LangChain parsed tool_calls, keeps broken arguments as invalid_tool_calls, and reads native AIMessages', () => {
    const [ai] = toLangChainMessages([
      {
        role: 'assistant',
        content: null,
        toolCalls: [
          { id: 'c1', name: 'weather', arguments: '{"city":"Paris"}' },
          { id: 'c2', name: 'weather', arguments: '{"city":' },
        ],
      },
    ]) as [AIMessage];
    expect(ai.tool_calls).toEqual([
      { type: 'tool_call', id: 'c1', name: 'weather', args: { city: 'Paris' } },
    ]);
    expect(ai.invalid_tool_calls?.[0]).toMatchObject({ id: 'c2', args: '{"city":' });
    // A message LangChain built itself (no raw copy): arguments are the args serialized.
    const native = new AIMessage({ content: 'ok', tool_calls: [{ id: 'x', name: 'f', args: { a: 1 } }] });
    const tool = new ToolMessage({ content: 'sunny', tool_call_id: 'x' });
    expect(fromLangChainMessages([new HumanMessage('hi'), native, tool])).toEqual([
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: 'ok', toolCalls: [{ id: 'x', name: 'f', arguments: '{"a":1}' }] },
      { role: 'tool', toolCallId: 'x', content: 'sunny' },
    ]);
    // Message-likes LangChain coerces ({ role, content }) are read too.
    expect(fromLangChainMessages([{ role: 'user', content: 'plain' }])).toEqual([
      { role: 'user', content: 'plain' },
    ]);
  });

  it('rejects what it cannot carry with INTEROP_INVALID_MESSAGE naming the field', () => {
    const bad = (value: unknown): TroupeError => {
      try {
        fromOpenAIMessages(value);
      } catch (err) {
        return err as TroupeError;
      }
      throw new Error('accepted');
    };
    expect(bad([{ role: 'function', name: 'f', content: 'x' }])).toMatchObject({
      code: InteropErrorCode.InvalidMessage,
      message: expect.stringContaining('messages[0].role'),
    });
    expect(
      bad([
        { role: 'user', content: 'ok' },
        { role: 'tool', content: 'x' },
      ]).message,
    ).toContain('messages[1].tool_call_id');
    expect(
      bad([
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'a', type: 'function', function: { name: 'f', arguments: {} } }],
        },
      ]).message,
    ).toContain('function.arguments');
  });
});

describe('langchainAgent on one node', () => {
  let system: ActorSystem | undefined;
  afterEach(() => system?.close());

  it('answers a run with a RunnableLambda, serves status, and answers a repeated runId without running again', async () => {
    system = await createSystem({ nodeId: 'lc1' });
    let invocations = 0;
    const seen: BaseMessage[][] = [];
    const echo = RunnableLambda.from(async (messages: BaseMessage[]) => {
      invocations++;
      seen.push(messages);
      const last = messages.at(-1)!;
      return new AIMessage(`echo: ${String(last.content)}`);
    });
    const ref = system.spawn(langchainAgent({ name: 'echo', runnable: echo }), { name: 'echo' });
    const answer = await ref.ask({
      type: 'run',
      runId: 'r-1',
      input: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'ping' },
      ],
    });
    expect(answer).toBe('echo: ping');
    expect(seen[0]!.map((m) => m.getType())).toEqual(['system', 'human']);
    expect(await ref.ask({ type: 'run', runId: 'r-1', input: 'ignored' })).toBe('echo: ping');
    expect(invocations).toBe(1);
    expect(await ref.ask({ type: 'run', input: 'pong' })).toBe('echo: pong');
    const status = await ref.ask({ type: 'status' });
    expect(status.agent).toBe('echo');
    expect(status.runs.map((r) => r.state)).toEqual(['finished', 'finished']);
    expect(status.runs[0]).toMatchObject({ runId: 'r-1' });
  });

  it('remembers only keepRuns settled runs', async () => {
    system = await createSystem({ nodeId: 'lc4' });
    let invocations = 0;
    const count = RunnableLambda.from(() => `n${++invocations}`);
    const ref = system.spawn(langchainAgent({ name: 'count', runnable: count, keepRuns: 1 }), {
      name: 'count',
    });
    expect(await ref.ask({ type: 'run', runId: 'a', input: 'x' })).toBe('n1');
    expect(await ref.ask({ type: 'run', runId: 'b', input: 'x' })).toBe('n2');
    expect((await ref.ask({ type: 'status' })).runs.map((r) => r.runId)).toEqual(['b']);
    expect(await ref.ask({ type: 'run', runId: 'b', input: 'x' })).toBe('n2');
    expect(await ref.ask({ type: 'run', runId: 'a', input: 'x' })).toBe('n3');
  });

  it('keeps a virtual agent active through a run longer than passivateAfterMs', async () => {
    system = await createSystem({ nodeId: 'lc5' });
    const slow = (keepAliveMs: number) =>
      langchainAgent({
        name: `slow${keepAliveMs}`,
        keepAliveMs,
        runnable: RunnableLambda.from(
          (_m: BaseMessage[], config) =>
            new Promise<string>((resolve, reject) => {
              const timer = setTimeout(() => resolve('done'), 1_200);
              config?.signal?.addEventListener('abort', () => {
                clearTimeout(timer);
                reject(config.signal?.reason);
              });
            }),
        ),
      });
    system.register('kept', slow(100), { passivateAfterMs: 400 });
    system.register('dropped', slow(0), { passivateAfterMs: 400 });
    const [kept, dropped] = await Promise.all([
      system
        .virtual<LangChainAgentProtocol>('kept', 'k')
        .ask({ type: 'run', input: 'x' }, { timeout: 5_000 }),
      system
        .virtual<LangChainAgentProtocol>('dropped', 'd')
        .ask({ type: 'run', input: 'x' }, { timeout: 5_000 })
        .catch((e: TroupeError) => e.code),
    ]);
    expect(kept).toBe('done');
    // The control: without the keep-alive the idle-looking actor is passivated and its run aborted.
    expect(dropped).toBe(InteropErrorCode.Aborted);
  });

  it('fails a run with a malformed input as INTEROP_INVALID_MESSAGE and keeps serving', async () => {
    system = await createSystem({ nodeId: 'lc2' });
    const ref = system.spawn(langchainAgent({ name: 'noop', runnable: RunnableLambda.from(() => 'fine') }), {
      name: 'noop',
    });
    await expect(
      ref.ask({ type: 'run', input: [{ role: 'wizard', content: 'x' }] as unknown as ChatMessage[] }),
    ).rejects.toMatchObject({ code: InteropErrorCode.InvalidMessage });
    expect(await ref.ask({ type: 'run', input: 'x' })).toBe('fine');
  });

  it('with crashOnFailure, hands a failed run to supervision after failing the asker', async () => {
    system = await createSystem({ nodeId: 'lc3' });
    const failures: string[] = [];
    const definition = langchainAgent({
      name: 'fragile',
      runnable: RunnableLambda.from((): string => {
        throw new Error('model provider down');
      }),
      crashOnFailure: true,
      supervision: {
        decider: (error) => {
          failures.push((error as TroupeError).code);
          return 'stop';
        },
      },
    });
    const ref = system.spawn(definition, { name: 'fragile' });
    await expect(ref.ask({ type: 'run', input: 'x' })).rejects.toMatchObject({
      code: InteropErrorCode.Failed,
    });
    await until(() => system!.lookup('fragile') === undefined, 5_000, 'the decider stops the agent');
    expect(failures).toEqual(['INTEROP_FAILED']);
  });
});

// A two-node graph of plain functions: `plan` asks for a tool, `act` answers the call and writes the final answer.
function plannerGraph(
  hooks: { onAct?: (signal: AbortSignal | undefined) => Promise<void>; failAct?: boolean } = {},
) {
  return new StateGraph(MessagesAnnotation)
    .addNode('plan', (state) => {
      const question = String(state.messages.at(-1)?.content ?? '');
      return {
        messages: [
          new AIMessage({
            content: '',
            tool_calls: [{ id: 'call_1', name: 'lookup', args: { q: question } }],
          }),
        ],
      };
    })
    .addNode('act', async (state, config) => {
      if (hooks.failAct) throw new Error('lookup service exploded');
      await hooks.onAct?.(config.signal);
      const call = (state.messages.at(-1) as AIMessage).tool_calls![0]!;
      return {
        messages: [
          new ToolMessage({ content: `found ${call.args.q}`, tool_call_id: call.id! }),
          new AIMessage(`answer: ${call.args.q} (${state.messages.length + 2} messages)`),
        ],
      };
    })
    .addEdge(START, 'plan')
    .addEdge('plan', 'act')
    .addEdge('act', END)
    .compile();
}

describe('langchainAgent as a virtual actor over NATS', () => {
  const { cluster } = natsCluster(8);

  async function pair() {
    const ns = `lc${randomBytes(3).toString('hex')}`;
    const host = await cluster.node('host', ns);
    const client = await cluster.node('client', ns);
    return { host, client, ns };
  }

  it('runs a compiled two-node LangGraph graph on the host, asked from a second system', async () => {
    const { host, client } = await pair();
    host.system.register('planner', langchainAgent({ name: 'planner', runnable: plannerGraph() }), {
      passivateAfterMs: 0,
    });
    await until(() => cluster.settled([host]), 10_000, 'shards settle');
    const planner = client.system.virtual<LangChainAgentProtocol>('planner', 'p1');
    const answer = await planner.ask({ type: 'run', input: 'weather in Paris' }, { timeout: 10_000 });
    expect(answer).toBe('answer: weather in Paris (4 messages)');
    // The whole conversation comes back as troupe messages with `output: 'messages'`.
    host.system.register(
      'planner-msgs',
      langchainAgent({ name: 'planner-msgs', runnable: plannerGraph(), output: 'messages' }),
      { passivateAfterMs: 0 },
    );
    await until(() => cluster.settled([host], 2), 10_000, 'second type settles');
    const messages = await client.system
      .virtual<LangChainAgentProtocol>('planner-msgs', 'p1')
      .ask({ type: 'run', input: 'tides' }, { timeout: 10_000 });
    expect(messages).toEqual([
      { role: 'user', content: 'tides' },
      {
        role: 'assistant',
        content: null,
        toolCalls: [{ id: 'call_1', name: 'lookup', arguments: '{"q":"tides"}' }],
      },
      { role: 'tool', toolCallId: 'call_1', content: 'found tides' },
      { role: 'assistant', content: 'answer: tides (4 messages)' },
    ]);
  });

  it('gives a throwing graph node to the asker as INTEROP_FAILED with its cause', async () => {
    const { host, client } = await pair();
    host.system.register(
      'broken',
      langchainAgent({ name: 'broken', runnable: plannerGraph({ failAct: true }) }),
      {
        passivateAfterMs: 0,
      },
    );
    await until(() => cluster.settled([host]), 10_000, 'shards settle');
    const broken = client.system.virtual<LangChainAgentProtocol>('broken', 'b1');
    const err = (await broken
      .ask({ type: 'run', runId: 'b-1', input: 'x' }, { timeout: 10_000 })
      .catch((e) => e)) as TroupeError;
    expect(err.code).toBe(InteropErrorCode.Failed);
    expect(err.message).toContain('lookup service exploded');
    expect(String((err.cause as Error | undefined)?.message)).toContain('lookup service exploded');
    const status = await broken.ask({ type: 'status' });
    expect(status.runs).toEqual([
      expect.objectContaining({
        runId: 'b-1',
        state: 'failed',
        error: expect.objectContaining({ code: 'INTEROP_FAILED' }),
      }),
    ]);
  });

  it('aborts the running graph when the actor is terminated', async () => {
    const { host, client } = await pair();
    let entered!: () => void;
    const inside = new Promise<void>((r) => {
      entered = r;
    });
    let sawAbort = false;
    const graph = plannerGraph({
      onAct: (signal) =>
        new Promise<void>((_resolve, reject) => {
          entered();
          signal?.addEventListener('abort', () => {
            sawAbort = true;
            reject(signal.reason);
          });
        }),
    });
    host.system.register('slow', langchainAgent({ name: 'slow', runnable: graph }), { passivateAfterMs: 0 });
    await until(() => cluster.settled([host]), 10_000, 'shards settle');
    const slow = client.system.virtual<LangChainAgentProtocol>('slow', 's1');
    const pending = slow
      .ask({ type: 'run', input: 'forever' }, { timeout: 10_000 })
      .catch((e) => e as TroupeError);
    await inside;
    // A run does not hold the mailbox: status is served while the graph works.
    expect((await slow.ask({ type: 'status' })).runs.map((r) => r.state)).toEqual(['running']);
    await client.system.terminate(slow);
    const err = await pending;
    expect(err).toMatchObject({ code: InteropErrorCode.Aborted });
    await until(() => sawAbort, 5_000, 'node sees the abort');
  });
});

describe('optional peer dependencies', () => {
  it('keeps @langchain/* out of the troupe and troupe/agents entries (only troupe/interop/langchain loads it)', () => {
    const root = ROOT;
    const seen = new Set<string>();
    const packages = new Set<string>();
    const importRe =
      /(?:import|export)\s[\w$*{},\s]*?from\s*['"]([^'"]+)['"]|import\s*\(?\s*['"]([^'"]+)['"]/g;
    const walk = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const m of readFileSync(file, 'utf8').matchAll(importRe)) {
        const spec = m[1] ?? m[2]!;
        if (spec.startsWith('.')) walk(resolve(dirname(file), spec).replace(/\.js$/, '.ts'));
        else packages.add(spec);
      }
    };
    walk(resolve(root, 'index.ts'));
    walk(resolve(root, 'agents/index.ts'));
    expect(seen.size).toBeGreaterThan(50);
    expect([...packages].filter((p) => p.startsWith('@langchain/'))).toEqual([]);
    const interop = new Set<string>();
    seen.clear();
    packages.clear();
    walk(resolve(root, 'interop/langchain/index.ts'));
    for (const p of packages) interop.add(p);
    expect(interop.has('@langchain/core/messages')).toBe(true);
  });

  it('loads no @langchain/* package at run time from dist/ for troupe, troupe/agents, troupe/interop/openai', () => {
    // A resolve hook that throws on any @langchain/ specifier; the langchain entry is the control that it bites.
    const hook = `data:text/javascript,${encodeURIComponent(
      `import { register } from 'node:module'; register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(
        "export async function resolve(s, c, next) { if (s.startsWith('@langchain/')) throw new Error('loaded ' + s); return next(s, c); }",
      )}));`,
    )}`;
    const load = (entry: string): string => {
      try {
        execFileSync(
          process.execPath,
          ['--import', hook, '--input-type=module', '-e', `await import(${JSON.stringify(entry)})`],
          { cwd: ROOT, stdio: 'pipe' },
        );
        return 'ok';
      } catch (err) {
        return String((err as { stderr?: Buffer }).stderr).match(/loaded (\S+)/)?.[1] ?? String(err);
      }
    };
    expect(load('./dist/index.js')).toBe('ok');
    expect(load('./dist/agents/index.js')).toBe('ok');
    expect(load('./dist/interop/openai/index.js')).toBe('ok');
    expect(load('./dist/interop/langchain/index.js')).toBe('@langchain/core/messages');
  });
});
