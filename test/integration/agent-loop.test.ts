// The agent's tool loop through the real `openai` client against the offline model server: parallel tool
// calls, invalid arguments repaired by the model, stop conditions, structured output, configuration changed
// mid-run, a budget the supervisor stops the agent on, a forbidden tool, and the kit's cap on concurrent steps.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { agentKit } from '../../agents/agent/index.js';
import { auditLog, defineTool, ToolRegistry } from '../../agents/tools/index.js';
import { budgetLedger, type ModelRouter, modelRouter } from '../../models/index.js';
import {
  type ActorSystem,
  createSystem,
  defineActor,
  memoryAppendLog,
  memoryKeyValue,
  TroupeError,
} from '../../runtime/index.js';
import { decider } from '../../supervisor/index.js';
import { type LlmServer, startLlmServer } from '../../testing/index.js';
import { until } from '../helpers/fixtures.js';
import { failureCode, on, recordingTelemetry, sleep } from '../helpers/models.js';

let server: LlmServer;
let system: ActorSystem;
let router: ModelRouter;
beforeEach(async () => {
  server = await startLlmServer();
  system = await createSystem({ nodeId: 'n' });
  router = modelRouter({
    groups: { g: { deployments: [on(server, 'm')] }, g2: { deployments: [on(server, 'm2')] } },
  });
});
afterEach(async () => {
  await system.close();
  await router.close();
  await server.close();
});

type Msg = { role: string; content?: unknown; tool_call_id?: string; tool_calls?: unknown[] };
const bodies = () =>
  server.requests.filter((r) => r.endpoint === 'chat').map((r) => r.body as Record<string, unknown>);
const messagesOf = (body: Record<string, unknown>) => body.messages as Msg[];
const toolMessages = (body: Record<string, unknown>) => messagesOf(body).filter((m) => m.role === 'tool');

function registry(): ToolRegistry {
  return new ToolRegistry();
}

describe('the tool loop', () => {
  it('runs two tool calls of one step in parallel and sends both results back', async () => {
    const spans: { name: string; start: number; end: number }[] = [];
    const tools = registry().register(
      defineTool({
        name: 'lookup',
        description: 'Looks a key up',
        input: z.object({ key: z.string() }),
        run: async ({ key }) => {
          const start = Date.now();
          await sleep(150);
          spans.push({ name: key, start, end: Date.now() });
          return { key, value: key.toUpperCase() };
        },
      }),
    );
    server.script('m', [
      {
        toolCalls: [
          { id: 'c1', name: 'lookup', arguments: { key: 'a' } },
          { id: 'c2', name: 'lookup', arguments: { key: 'b' } },
        ],
      },
      'A and B',
    ]);
    const kit = agentKit({ router, tools });
    const agent = system.spawn(
      kit.defineAgent({ name: 'looker', model: 'g', instructions: 'Look up.', tools: ['lookup'] }),
    );
    expect(await agent.ask({ type: 'run', input: 'look up a and b' }, { timeout: 5000 })).toBe('A and B');
    expect(spans).toHaveLength(2);
    // Both ran at once: each started before the other ended.
    expect(Math.max(spans[0]!.start, spans[1]!.start)).toBeLessThan(Math.min(spans[0]!.end, spans[1]!.end));
    const second = bodies()[1]!;
    expect(toolMessages(second).map((m) => [m.tool_call_id, m.content])).toEqual([
      ['c1', '{"key":"a","value":"A"}'],
      ['c2', '{"key":"b","value":"B"}'],
    ]);
    expect(messagesOf(second)[0]).toEqual({ role: 'system', content: 'Look up.' });
  });

  it('sends invalid arguments back to the model as a tool result, and the corrected call runs', async () => {
    const ran: unknown[] = [];
    const tools = registry().register(
      defineTool({
        name: 'add',
        description: 'Adds two numbers',
        input: z.object({ a: z.number(), b: z.number() }),
        run: (input) => {
          ran.push(input);
          return input.a + input.b;
        },
      }),
    );
    server.script('m', [
      { toolCalls: [{ id: 'bad', name: 'add', arguments: { a: 'one', b: 2 } }] },
      { toolCalls: [{ id: 'good', name: 'add', arguments: { a: 1, b: 2 } }] },
      'The sum is 3',
    ]);
    const kit = agentKit({ router, tools });
    const agent = system.spawn(
      kit.defineAgent({ name: 'adder', model: 'g', instructions: '', tools: ['add'] }),
    );
    expect(await agent.ask({ type: 'run', input: 'add one and two' }, { timeout: 5000 })).toBe(
      'The sum is 3',
    );
    expect(ran).toEqual([{ a: 1, b: 2 }]); // the invalid call never reached the tool
    const [, second, third] = bodies();
    const error = toolMessages(second!)[0]!;
    expect(error.tool_call_id).toBe('bad');
    expect(String(error.content)).toMatch(/TOOL_INVALID_ARGUMENTS/);
    expect(String(error.content)).toMatch(/\ba\b/);
    expect(toolMessages(third!).map((m) => [m.tool_call_id, m.content])).toEqual([
      ['bad', error.content],
      ['good', '3'],
    ]);
  });

  it('fails the run after maxRepairs failed calls instead of looping forever', async () => {
    const tools = registry().register(
      defineTool({ name: 'add', description: 'Adds', input: z.object({ a: z.number() }), run: (i) => i.a }),
    );
    server.script('m', { toolCalls: [{ name: 'add', arguments: { a: 'x' } }] }, { repeat: true });
    const kit = agentKit({ router, tools });
    const agent = system.spawn(
      kit.defineAgent({ name: 'stubborn', model: 'g', instructions: '', tools: ['add'], maxRepairs: 2 }),
    );
    expect(await failureCode(agent.ask({ type: 'run', input: 'go' }, { timeout: 5000 }))).toBe(
      'AGENT_REPAIRS_EXHAUSTED',
    );
    expect(bodies()).toHaveLength(3);
  });

  it('refuses a tool the agent holds no permission for: the model reads TOOL_FORBIDDEN', async () => {
    let paid = 0;
    const tools = registry().register(
      defineTool({
        name: 'pay',
        description: 'Pays',
        input: z.object({ amount: z.number() }),
        permissions: ['payments'],
        run: () => {
          paid++;
          return 'paid';
        },
      }),
    );
    server.script('m', [
      { toolCalls: [{ id: 'p', name: 'pay', arguments: { amount: 5 } }] },
      'I may not pay',
    ]);
    const kit = agentKit({ router, tools });
    const agent = system.spawn(
      kit.defineAgent({ name: 'clerk', model: 'g', instructions: '', tools: ['pay'] }),
    );
    expect(await agent.ask({ type: 'run', input: 'pay 5' }, { timeout: 5000 })).toBe('I may not pay');
    expect(paid).toBe(0);
    expect(String(toolMessages(bodies()[1]!)[0]!.content)).toMatch(/TOOL_FORBIDDEN/);

    // The same tool with the scope granted runs.
    server.script('m', [{ toolCalls: [{ id: 'p', name: 'pay', arguments: { amount: 5 } }] }, 'paid']);
    const granted = system.spawn(
      kit.defineAgent({
        name: 'treasurer',
        model: 'g',
        instructions: '',
        tools: ['pay'],
        grants: ['payments'],
      }),
    );
    expect(await granted.ask({ type: 'run', input: 'pay 5' }, { timeout: 5000 })).toBe('paid');
    expect(paid).toBe(1);
  });
});

describe('stop conditions', () => {
  const loopTools = () =>
    registry().register(
      defineTool({ name: 'tick', description: 'Ticks', input: z.object({}), run: () => 'tock' }),
    );

  it('maxSteps: the run ends after that many model calls with the last text', async () => {
    server.script(
      'm',
      { text: 'still going', toolCalls: [{ name: 'tick', arguments: {} }] },
      { repeat: true },
    );
    const kit = agentKit({ router, tools: loopTools() });
    const agent = system.spawn(
      kit.defineAgent({
        name: 'looper',
        model: 'g',
        instructions: '',
        tools: ['tick'],
        stop: { maxSteps: 3 },
      }),
    );
    expect(await agent.ask({ type: 'run', input: 'go', runId: 'r1' }, { timeout: 5000 })).toBe('still going');
    expect(bodies()).toHaveLength(3);
  });

  it('onTool: calling the named tool ends the run with its arguments, without running it', async () => {
    server.script('m', [
      { toolCalls: [{ name: 'tick', arguments: {} }] },
      { toolCalls: [{ name: 'final_answer', arguments: { answer: 42 } }] },
    ]);
    const kit = agentKit({ router, tools: loopTools() });
    const agent = system.spawn(
      kit.defineAgent({
        name: 'finisher',
        model: 'g',
        instructions: '',
        tools: ['tick'],
        stop: { onTool: 'final_answer' },
      }),
    );
    expect(await agent.ask({ type: 'run', input: 'go' }, { timeout: 5000 })).toEqual({ answer: 42 });
    expect(bodies()).toHaveLength(2);
  });

  it('deadlineMs: a run past its deadline ends with the last text, its slow call aborted', async () => {
    server.script('m', [
      { text: 'partial', toolCalls: [{ name: 'tick', arguments: {} }] },
      { text: 'too late', delayMs: 2000 },
    ]);
    const kit = agentKit({ router, tools: loopTools() });
    const agent = system.spawn(
      kit.defineAgent({
        name: 'hasty',
        model: 'g',
        instructions: '',
        tools: ['tick'],
        stop: { deadlineMs: 400 },
      }),
    );
    const started = Date.now();
    expect(await agent.ask({ type: 'run', input: 'go', runId: 'd1' }, { timeout: 5000 })).toBe('partial');
    expect(Date.now() - started).toBeLessThan(1500);
    const status = await agent.ask({ type: 'status' });
    expect(status.runs).toEqual([]); // finished runs leave the live list
  });
});

describe('structured output', () => {
  it('asks for a json_schema response, and sends an invalid answer back for repair', async () => {
    const Weather = z.object({ city: z.string(), celsius: z.number() });
    server.script('m', [{ json: { city: 'Oslo' } }, { json: { city: 'Oslo', celsius: -3 } }]);
    const kit = agentKit({ router });
    const agent = system.spawn(
      kit.defineAgent({ name: 'forecaster', model: 'g', instructions: '', output: Weather }),
    );
    expect(await agent.ask({ type: 'run', input: 'weather in Oslo' }, { timeout: 5000 })).toEqual({
      city: 'Oslo',
      celsius: -3,
    });
    const [first, second] = bodies();
    const format = first!.response_format as {
      type: string;
      json_schema: { schema: { required: string[] } };
    };
    expect(format.type).toBe('json_schema');
    expect(format.json_schema.schema.required).toEqual(['city', 'celsius']);
    const repair = messagesOf(second!).at(-1)!;
    expect(repair.role).toBe('user');
    expect(String(repair.content)).toMatch(/celsius/);
  });

  it('fails with AGENT_OUTPUT_INVALID once the repairs are spent', async () => {
    server.script('m', { json: { b: 'not a' } }, { repeat: true });
    const kit = agentKit({ router });
    const agent = system.spawn(
      kit.defineAgent({
        name: 'bad',
        model: 'g',
        instructions: '',
        output: z.object({ a: z.number() }),
        maxRepairs: 1,
      }),
    );
    expect(await failureCode(agent.ask({ type: 'run', input: 'x' }, { timeout: 5000 }))).toBe(
      'AGENT_OUTPUT_INVALID',
    );
    expect(bodies()).toHaveLength(2);
  });
});

describe('configuration', () => {
  it('configure during a step applies from the next step', async () => {
    const tools = registry().register(
      defineTool({
        name: 'slow',
        description: 'Takes a while',
        input: z.object({}),
        run: async () => {
          await sleep(200);
          return 'done';
        },
      }),
    );
    server.script('m', [{ toolCalls: [{ name: 'slow', arguments: {} }] }]);
    server.script('m2', ['from m2']);
    const kit = agentKit({ router, tools });
    const agent = system.spawn(
      kit.defineAgent({ name: 'tunable', model: 'g', instructions: 'v1', tools: ['slow'], temperature: 1 }),
    );
    const answer = agent.ask({ type: 'run', input: 'go' }, { timeout: 5000 });
    await until(() => bodies().length === 1, 2000, 'the first model call');
    const config = await agent.ask({ type: 'configure', model: 'g2', temperature: 0.25, instructions: 'v2' });
    expect(config).toEqual({ model: 'g2', instructions: 'v2', temperature: 0.25 });
    expect(await answer).toBe('from m2');
    const [first, second] = bodies();
    expect([first!.model, first!.temperature, messagesOf(first!)[0]!.content]).toEqual(['m', 1, 'v1']);
    expect([second!.model, second!.temperature, messagesOf(second!)[0]!.content]).toEqual(['m2', 0.25, 'v2']);
  });
});

describe('budgets and supervision', () => {
  it('an exhausted budget fails the step; the decider stops the agent; the audit log shows it', async () => {
    server.script('m', { text: 'ok', usage: { inputTokens: 40, outputTokens: 10 } }, { repeat: true });
    const ledger = budgetLedger({
      store: memoryKeyValue(),
      // Each call reserves its estimate (about 257 tokens) and settles at 50: the first fits, the second does not.
      limits: [{ scope: 'agent', id: 'spender', window: 'hour', maxTokens: 300 }],
    });
    const budgeted = modelRouter({ groups: { g: { deployments: [on(server, 'm')] } }, budget: ledger });
    const audit = auditLog(memoryAppendLog());
    const kit = agentKit({ router: budgeted, audit });
    const agent = system.spawn(
      kit.defineAgent({
        name: 'spender',
        model: 'g',
        instructions: '',
        supervision: { decider: decider([['BUDGET_EXCEEDED', 'stop']], 'restart') },
      }),
      { name: 'spender' },
    );
    const stopped = new Promise<void>((resolve) =>
      system.onLifecycle((e) => {
        if (e.type === 'stopped' && e.address === agent.address) resolve();
      }),
    );
    expect(await agent.ask({ type: 'run', input: 'one' }, { timeout: 5000 })).toBe('ok');
    expect(await failureCode(agent.ask({ type: 'run', input: 'two' }, { timeout: 5000 }))).toBe(
      'BUDGET_EXCEEDED',
    );
    await stopped;
    expect(bodies()).toHaveLength(1); // the refused call never reached the server
    await audit.flush();
    const records = await audit.query({ agent: 'spender', kind: 'model' });
    expect(records.map((r) => r.outcome)).toEqual(['ok', 'BUDGET_EXCEEDED']);
    await budgeted.close();
  });
});

describe('the kit', () => {
  async function peakTools(maxConcurrentSteps: number | undefined): Promise<number> {
    let now = 0;
    let peak = 0;
    const tools = registry().register(
      defineTool({
        name: 'work',
        description: 'Works',
        input: z.object({}),
        run: async () => {
          peak = Math.max(peak, ++now);
          await sleep(60);
          now--;
          return 'worked';
        },
      }),
    );
    server.script('m', (req) =>
      req.messages.some((m) => m.role === 'tool') ? 'done' : { toolCalls: [{ name: 'work', arguments: {} }] },
    );
    const kit = agentKit({
      router,
      tools,
      ...(maxConcurrentSteps === undefined ? {} : { maxConcurrentSteps }),
    });
    const def = kit.defineAgent({ name: 'worker', model: 'g', instructions: '', tools: ['work'] });
    const agents = Array.from({ length: 6 }, () => system.spawn(def));
    let sampled = 0;
    const sampler = setInterval(() => {
      sampled = Math.max(sampled, kit.steps().running);
    }, 5);
    const answers = await Promise.all(
      agents.map((a) => a.ask({ type: 'run', input: 'go' }, { timeout: 10_000 })),
    );
    clearInterval(sampler);
    expect(answers).toEqual(Array(6).fill('done'));
    if (maxConcurrentSteps !== undefined) expect(sampled).toBeLessThanOrEqual(maxConcurrentSteps);
    return peak;
  }

  it('maxConcurrentSteps holds: at most that many agents run a step at once', async () => {
    expect(await peakTools(2)).toBe(2);
  });

  it('without the cap the same agents all run their steps together', async () => {
    expect(await peakTools(undefined)).toBe(6);
  });
});

describe('protocol', () => {
  it('answers a second ask of a finished runId from memory without calling the model', async () => {
    server.script('m', ['once']);
    const kit = agentKit({ router });
    const agent = system.spawn(kit.defineAgent({ name: 'idem', model: 'g', instructions: '' }));
    expect(await agent.ask({ type: 'run', input: 'x', runId: 'same' })).toBe('once');
    expect(await agent.ask({ type: 'run', input: 'x', runId: 'same' })).toBe('once');
    expect(bodies()).toHaveLength(1);
  });

  it('tells a subscriber each `started` before anything else of its run (it goes out after the turn)', async () => {
    server.script('m', ['a b c']);
    const kit = agentKit({ router });
    const agent = system.spawn(kit.defineAgent({ name: 'told', model: 'g', instructions: '' }));
    const events: { kind: string; resumed: boolean | undefined }[] = [];
    const collector = system.spawn(
      defineActor<{ agentEvent: { kind: string; resumed?: boolean } }>({
        handlers: { agentEvent: (e) => void events.push({ kind: e.kind, resumed: e.resumed }) },
      }),
    );
    agent.tell({ type: 'subscribe', to: collector.address });
    // Asked twice in one turn: the second `started` (resumed) waits while the first is told at once.
    const runs = [1, 2].map(() => agent.ask({ type: 'run', input: 'x', runId: 'twice' }));
    expect(await Promise.all(runs)).toEqual(['a b c', 'a b c']);
    await until(() => events.some((e) => e.kind === 'finished'), 2000, 'the finished event');
    expect(events.slice(0, 2)).toEqual([
      { kind: 'started', resumed: false },
      { kind: 'started', resumed: true },
    ]);
    expect(events.slice(2).map((e) => e.kind)).toEqual(['token', 'token', 'token', 'step', 'finished']);
  });

  it('delegates to another agent by address (agentTool)', async () => {
    const { agentTool } = await import('../../agents/agent/index.js');
    server.script('m2', ['Paris']);
    server.script('m', [
      { toolCalls: [{ name: 'ask_geo', arguments: { input: 'capital of France?' } }] },
      'It is Paris',
    ]);
    const kit = agentKit({ router });
    const geo = system.spawn(kit.defineAgent({ name: 'geo', model: 'g2', instructions: 'Geography.' }), {
      name: 'geo',
    });
    const boss = system.spawn(
      kit.defineAgent({
        name: 'boss',
        model: 'g',
        instructions: '',
        tools: [agentTool(geo.address, { name: 'ask_geo', description: 'Asks the geography agent' })],
      }),
    );
    expect(await boss.ask({ type: 'run', input: 'capital of France?' }, { timeout: 5000 })).toBe(
      'It is Paris',
    );
    const last = bodies().at(-1)!;
    expect(toolMessages(last)[0]!.content).toBe('Paris');
    expect(TroupeError).toBeDefined();
    void defineActor;
  });
});

describe('lifecycle during a run', () => {
  const slowTools = () =>
    registry().register(
      defineTool({
        name: 'wait',
        description: 'Waits',
        input: z.object({}),
        run: async () => {
          await sleep(150);
          return 'waited';
        },
      }),
    );

  it('pause holds the next step; resume lets the run go on', async () => {
    server.script('m', [{ toolCalls: [{ name: 'wait', arguments: {} }] }, 'resumed fine']);
    const kit = agentKit({ router, tools: slowTools() });
    const agent = system.spawn(
      kit.defineAgent({ name: 'pausable', model: 'g', instructions: '', tools: ['wait'] }),
    );
    const answer = agent.ask({ type: 'run', input: 'go' }, { timeout: 5000 });
    await until(() => bodies().length === 1, 2000, 'the first model call');
    await system.pause(agent); // during the tool: the step finishes, the next one waits
    await sleep(400);
    expect(bodies()).toHaveLength(1);
    await system.resume(agent);
    expect(await answer).toBe('resumed fine');
    expect(bodies()).toHaveLength(2);
  });

  it('terminate aborts the model call in flight', async () => {
    server.script('m', [{ text: 'never', delayMs: 5000 }]);
    const { telemetry, calls } = recordingTelemetry();
    const watched = modelRouter({ groups: { g: { deployments: [on(server, 'm')] } }, telemetry });
    const kit = agentKit({ router: watched });
    const agent = system.spawn(kit.defineAgent({ name: 'doomed', model: 'g', instructions: '' }));
    const answer = agent.ask({ type: 'run', input: 'go' }, { timeout: 8000 });
    await until(() => bodies().length === 1, 2000, 'the model call');
    const started = Date.now();
    await system.terminate(agent);
    expect(await failureCode(answer)).toBe('AGENT_STOPPED');
    // The HTTP call was cancelled, not left to finish in 5 s: the router saw it end aborted.
    await until(() => calls.length === 1, 1000, 'the model call to end');
    expect(Date.now() - started).toBeLessThan(1000);
    expect((calls[0]!.outcome.error as TroupeError).code).toBe('MODEL_ABORTED');
    await watched.close();
  });
});

describe('handoff', () => {
  it('hands the conversation to another agent, whose answer is the run’s', async () => {
    const { handoff } = await import('../../agents/agent/index.js');
    server.script('m', [{ toolCalls: [{ name: 'to_billing', arguments: { reason: 'invoice question' } }] }]);
    server.script('m2', ['Billing here: your invoice is paid.']);
    const kit = agentKit({ router });
    const billing = system.spawn(
      kit.defineAgent({ name: 'billing', model: 'g2', instructions: 'Billing.' }),
      {
        name: 'billing',
      },
    );
    const triage = system.spawn(
      kit.defineAgent({
        name: 'triage',
        model: 'g',
        instructions: 'Route.',
        tools: [handoff(billing.address, { name: 'to_billing', description: 'Billing questions' })],
      }),
    );
    expect(await triage.ask({ type: 'run', input: 'is my invoice paid?' }, { timeout: 5000 })).toBe(
      'Billing here: your invoice is paid.',
    );
    const toBilling = bodies().at(-1)!;
    expect(toBilling.model).toBe('m2');
    // The billing agent saw its own instructions and the user's question, not the triage's tool call.
    expect(messagesOf(toBilling).map((m) => [m.role, m.content])).toEqual([
      ['system', 'Billing.'],
      ['user', 'is my invoice paid?'],
    ]);
  });
});

describe('telemetry', () => {
  it('reports a span per step (invoke_agent) and per tool call (execute_tool) with GenAI attributes', async () => {
    const tools = registry().register(
      defineTool({
        name: 'echo',
        description: 'Echoes',
        input: z.object({ s: z.string() }),
        run: (i) => i.s,
      }),
    );
    server.script('m', [{ toolCalls: [{ id: 'e1', name: 'echo', arguments: { s: 'hi' } }] }, 'hi back']);
    const { telemetry, calls } = recordingTelemetry();
    const kit = agentKit({ router, tools, telemetry });
    const agent = system.spawn(
      kit.defineAgent({ name: 'traced', model: 'g', instructions: '', tools: ['echo'] }),
    );
    expect(await agent.ask({ type: 'run', input: 'say hi', runId: 'tr-1' })).toBe('hi back');
    await until(() => calls.length === 3, 1000, 'the last step span'); // it ends just after the answer goes out
    expect(calls.map((c) => `${c.info.operation} ${c.info.group}`)).toEqual([
      'execute_tool echo',
      'invoke_agent traced',
      'invoke_agent traced',
    ]);
    expect(calls[0]!.attributes).toMatchObject({
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': 'echo',
      'gen_ai.tool.call.id': 'e1',
      'gen_ai.agent.name': 'traced',
      'gen_ai.conversation.id': 'tr-1',
      'troupe.tool.outcome': 'ok',
    });
    expect(calls[2]!.attributes).toMatchObject({
      'troupe.agent.run_state': 'finished',
      'troupe.agent.steps': 2,
    });
  });
});

describe('journaled runs (embedded stores)', () => {
  it('each agent actor resumes only its own open runs; a finished run answers from the journal after a restart', async () => {
    const stores = { log: memoryAppendLog(), blobs: memoryKeyValue() };
    const tools = registry().register(
      defineTool({
        name: 'risky',
        description: 'Needs a human',
        input: z.object({}),
        needsApproval: true,
        run: () => 'ok',
      }),
    );
    server.script('m', [{ toolCalls: [{ id: 'r1', name: 'risky', arguments: {} }] }, 'all done']);
    server.script('m2', ['plain answer']);
    const start = async (s: ActorSystem) => {
      const kit = agentKit({ router, tools, journal: stores });
      const spec = { model: 'g', instructions: '', tools: ['risky'] } as const;
      return {
        one: s.spawn(kit.defineAgent({ name: 'twin', ...spec }), { name: 'one' }),
        two: s.spawn(kit.defineAgent({ name: 'twin', ...spec, model: 'g2' }), { name: 'two' }),
      };
    };
    const first = await start(system);
    void first.one
      .ask({ type: 'run', input: 'do it', runId: 'open-1' }, { timeout: 5000 })
      .catch(() => undefined);
    expect(await first.two.ask({ type: 'run', input: 'hi', runId: 'done-2' })).toBe('plain answer');
    await until(() => bodies().length === 2, 2000, 'both model calls');
    await system.close();

    system = await createSystem({ nodeId: 'n' });
    const second = await start(system);
    const one = await second.one.ask({ type: 'status' });
    const two = await second.two.ask({ type: 'status' });
    expect(one.runs.map((r) => [r.runId, r.state])).toEqual([['open-1', 'awaiting-approval']]);
    expect(two.runs).toEqual([]);
    expect(await second.two.ask({ type: 'run', input: 'hi', runId: 'done-2' })).toBe('plain answer');
    await second.one.ask({ type: 'approve', runId: 'open-1', callId: 'r1', approved: false, reason: 'no' });
    expect(await second.one.ask({ type: 'run', input: 'do it', runId: 'open-1' }, { timeout: 5000 })).toBe(
      'all done',
    );
    expect(bodies()).toHaveLength(3); // nothing asked twice
    expect(String(toolMessages(bodies()[2]!)[0]!.content)).toMatch(/TOOL_REJECTED.*no/);
    expect(
      await failureCode(second.one.ask({ type: 'approve', runId: 'open-1', callId: 'r1', approved: true })),
    ).toBe('AGENT_APPROVAL_NOT_PENDING');
  });
});

describe('run ids the caller minted (`fresh`)', () => {
  it('reads no journal for a fresh run id; a chosen one is looked up', async () => {
    const log = memoryAppendLog();
    const reads: string[] = [];
    const counted = {
      append: log.append.bind(log),
      ...(log.appendIf === undefined ? {} : { appendIf: log.appendIf.bind(log) }),
      read: (key: string, options?: Parameters<typeof log.read>[1]) => {
        reads.push(key);
        return log.read(key, options);
      },
      purge: log.purge.bind(log),
      close: log.close.bind(log),
    };
    const kit = agentKit({ router, journal: { log: counted, blobs: memoryKeyValue() } });
    const agent = system.spawn(kit.defineAgent({ name: 'minted', model: 'g', instructions: '' }), {
      name: 'minted',
    });
    server.script('m', ['first answer', 'second answer']);
    expect(await agent.ask({ type: 'run', input: 'hi', runId: 'gw-fresh-1', fresh: true })).toBe(
      'first answer',
    );
    expect(reads.filter((k) => k.includes('gw-fresh-1'))).toEqual([]);
    // A run id a client chose is looked up in the journal.
    expect(await agent.ask({ type: 'run', input: 'hi', runId: 'chosen-1' })).toBe('second answer');
    expect(reads.some((k) => k.includes('chosen-1'))).toBe(true);
  });
});
