// Agents' tools on real servers: the JSON Schema the model sees (through the real `openai` client and the offline
// model server), invalid arguments coming back as coded outcomes, permissions, token buckets shared through NATS
// KV by two clients, timeouts through the AbortSignal, heavy tools as BullMQ tasks run once per call (also after
// the first caller is SIGKILLed mid-run), the audit log on memory and JetStream, and `troupe audit`.

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  argsHash,
  auditLog,
  defineTool,
  executeTool,
  formatOutcome,
  ToolError,
  ToolErrorCode,
  type ToolOutcome,
  ToolRegistry,
} from '../../agents/index.js';
import { modelRouter } from '../../models/index.js';
import {
  type AppendLog,
  defineTask,
  type KeyValueStore,
  memoryAppendLog,
  TroupeError,
  taskPool,
} from '../../runtime/index.js';
import { bullmqTaskRunner } from '../../tasks-bullmq/index.js';
import { type ServerProcess, startLlmServer, startNats, startRedis } from '../../testing/index.js';
import { natsAppendLog, natsKeyValue } from '../../transport/index.js';
import { until } from '../helpers/fixtures.js';
import { sleep } from '../helpers/models.js';

const bin = fileURLToPath(new URL('../../bin/troupe.js', import.meta.url));
const caller = fileURLToPath(new URL('./fixtures/tools-caller.mjs', import.meta.url));
const run = promisify(execFile);

const weather = defineTool({
  ...weatherSpec(),
  run: ({ city, days }) => ({ city, days, temp: 21 }),
});

const ctx = { agent: 'planner', runId: 'run-1' };
const call = (name: string, args: string, callId = `c${randomBytes(3).toString('hex')}`) => ({
  name,
  arguments: args,
  callId,
});

function failed(o: ToolOutcome): Extract<ToolOutcome, { ok: false }> {
  if (o.ok) throw new Error(`expected a failure, got ${JSON.stringify(o)}`);
  return o;
}

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('defineTool and the registry', () => {
  it('derives the JSON Schema the model sees and sends it through the real openai client', async () => {
    const server = await startLlmServer();
    cleanups.push(() => server.close());
    let runs = 0;
    const tool = defineTool({ ...weatherSpec(), run: () => ++runs });
    const registry = new ToolRegistry().register(tool);
    expect(tool.parameters).toEqual({
      type: 'object',
      properties: {
        city: { type: 'string', description: 'The city' },
        days: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER, default: 1 },
        unit: { type: 'string', enum: ['c', 'f'] },
      },
      required: ['city'],
    });
    server.script('m', [{ toolCalls: [{ name: 'weather', arguments: { city: 42, days: 0 } }] }]);
    const router = modelRouter({
      groups: { g: { deployments: [{ id: 'm', baseURL: server.url, model: 'm' }] } },
    });
    const result = await router.chat('g', {
      messages: [{ role: 'user', content: 'weather in Paris?' }],
      tools: registry.specs(['weather']),
    });
    const sent = (server.requests[0]!.body as { tools: unknown[] }).tools;
    expect(sent).toEqual([
      {
        type: 'function',
        function: { name: 'weather', description: 'Current weather of a city', parameters: tool.parameters },
      },
    ]);
    const tc = result.toolCalls[0]!;
    const outcome = failed(
      await executeTool(registry, { name: tc.name, arguments: tc.arguments, callId: tc.id }, ctx),
    );
    expect(outcome.code).toBe(ToolErrorCode.InvalidArguments);
    expect(outcome.retryable).toBe(false);
    expect(outcome.issues?.map((i) => i.path)).toEqual(['city', 'days']);
    expect(outcome.message).toContain('- city: Invalid input: expected string, received number');
    expect(outcome.message).toContain('- days: Too small');
    expect(formatOutcome(outcome)).toMatch(
      /^Error TOOL_INVALID_ARGUMENTS: invalid arguments for weather:\n- city/,
    );
    expect(runs).toBe(0);
    expect(() => registry.specs(['nope'])).toThrow(ToolError);
  });

  it('refuses tools it cannot describe to a model, and duplicate names', () => {
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        return TroupeError.is(err) ? err.code : String(err);
      }
      return 'no error';
    };
    const base = { description: 'x', run: () => 1 };
    expect(code(() => defineTool({ ...base, name: 'a', input: z.string() }))).toBe('INVALID_OPTIONS');
    expect(code(() => defineTool({ ...base, name: 'a', input: z.object({ d: z.date() }) }))).toBe(
      'INVALID_OPTIONS',
    );
    expect(code(() => defineTool({ ...base, name: 'has space', input: z.object({}) }))).toBe(
      'INVALID_OPTIONS',
    );
    expect(code(() => defineTool({ name: 'a', description: 'x', input: z.object({}) }))).toBe(
      'INVALID_OPTIONS',
    );
    const registry = new ToolRegistry().register(weather);
    expect(code(() => registry.register(weather))).toBe('INVALID_OPTIONS');
  });

  it('turns unknown tools, broken JSON, throws and ToolErrors into outcomes, never exceptions', async () => {
    const boom = defineTool({
      name: 'boom',
      description: 'throws',
      input: z.object({}),
      run: () => {
        throw new Error('kaput');
      },
    });
    const down = defineTool({
      name: 'down',
      description: 'backend down',
      input: z.object({}),
      run: async () => {
        throw new ToolError(ToolErrorCode.Unavailable, 'backend is down');
      },
    });
    const registry = new ToolRegistry().register(weather).register(boom).register(down);
    expect(failed(await executeTool(registry, call('missing', '{}'), ctx)).code).toBe('TOOL_UNKNOWN');
    const broken = failed(await executeTool(registry, call('weather', '{"city": '), ctx));
    expect(broken.code).toBe('TOOL_INVALID_ARGUMENTS');
    expect(broken.message).toContain('not valid JSON');
    const threw = failed(await executeTool(registry, call('boom', '{}'), ctx));
    expect([threw.code, threw.message]).toEqual(['TOOL_FAILED', 'tool boom failed: kaput']);
    const unavailable = failed(await executeTool(registry, call('down', ''), ctx));
    expect([unavailable.code, unavailable.retryable]).toEqual(['TOOL_UNAVAILABLE', true]);
    const ok = await executeTool(registry, call('weather', '{"city":"Oslo"}'), ctx);
    expect(ok).toMatchObject({ ok: true, value: { city: 'Oslo', days: 1, temp: 21 } });
  });
});

describe('permissions', () => {
  it('checks allow-lists and scopes per agent', async () => {
    const rm = defineTool({
      name: 'rm',
      description: 'deletes a file',
      input: z.object({ path: z.string() }),
      permissions: ['fs:write'],
      run: () => 'deleted',
    });
    const pay = defineTool({ name: 'pay', description: 'pays', input: z.object({}), run: () => 'paid' });
    const registry = new ToolRegistry().register(weather).register(rm).register(pay, ['payments']);
    const args = '{"path":"/tmp/x"}';

    const noScope = failed(await executeTool(registry, call('rm', args), ctx));
    expect(noScope.code).toBe('TOOL_FORBIDDEN');
    expect(noScope.message).toContain('needs fs:write');
    expect(await executeTool(registry, call('rm', args), { ...ctx, grants: ['fs:*'] })).toMatchObject({
      ok: true,
    });
    // The scope given at registration is required too.
    expect(failed(await executeTool(registry, call('pay', '{}'), ctx)).code).toBe('TOOL_FORBIDDEN');
    // An allow-list: only the tools named.
    const listed = { ...ctx, grants: ['*'], tools: ['weather'] };
    const offList = failed(await executeTool(registry, call('rm', args), listed));
    expect(offList.message).toContain("not in the agent's allow-list");
    expect(await executeTool(registry, call('weather', '{"city":"Rome"}'), listed)).toMatchObject({
      ok: true,
    });
    // A policy in the registry narrows what the call brings.
    registry.permit('janitor', { tools: ['rm'], scopes: ['fs:write'] });
    const janitor = { agent: 'janitor', runId: 'r' };
    expect(await executeTool(registry, call('rm', args), janitor)).toMatchObject({ ok: true });
    expect(failed(await executeTool(registry, call('weather', '{"city":"Rome"}'), janitor)).code).toBe(
      'TOOL_FORBIDDEN',
    );
    expect(registry.available('planner').map((t) => t.name)).toEqual(['weather']);
    expect(registry.available('planner', ['fs:write', 'payments']).map((t) => t.name)).toEqual([
      'weather',
      'rm',
      'pay',
    ]);
    expect(registry.available('janitor', ['payments']).map((t) => t.name)).toEqual(['rm']);
  });
});

describe('rate limits', () => {
  let nats: ServerProcess;
  beforeAll(async () => {
    nats = await startNats();
  });
  afterAll(() => nats?.stop());

  async function kvClient(bucket: string): Promise<KeyValueStore> {
    const kv = await natsKeyValue({ servers: nats.url, bucket });
    cleanups.push(() => kv.close());
    return kv;
  }

  it('a bucket of N allows exactly N calls across two KV clients of one NATS server', async () => {
    const N = 7;
    const bucket = `rl${randomBytes(3).toString('hex')}`;
    let runs = 0;
    const spec = () =>
      defineTool({
        name: 'search',
        description: 'searches',
        input: z.object({ q: z.string() }),
        rateLimit: { capacity: N, refillPerSec: 0.001 },
        run: () => ++runs,
      });
    // Two "nodes": each its own KV connection and registry, one shared bucket in NATS KV.
    const a = new ToolRegistry({ kv: await kvClient(bucket) }).register(spec());
    const b = new ToolRegistry({ kv: await kvClient(bucket) }).register(spec());
    const calls = Array.from({ length: 2 * N + 4 }, (_, i) =>
      executeTool(i % 2 === 0 ? a : b, call('search', '{"q":"x"}'), ctx),
    );
    const outcomes = await Promise.all(calls);
    const ok = outcomes.filter((o) => o.ok);
    const limited = outcomes.filter((o) => !o.ok).map(failed);
    expect(ok.length).toBe(N);
    expect(runs).toBe(N);
    expect(limited.length).toBe(N + 4);
    for (const l of limited) {
      expect(l.code).toBe('TOOL_RATE_LIMITED');
      expect(l.retryable).toBe(true);
      expect(l.retryAfterMs).toBeGreaterThan(0);
    }
    // Both nodes drew from the same bucket: each got some, neither got N.
    expect(outcomes.filter((o, i) => o.ok && i % 2 === 0).length).toBeLessThan(N + 1);
  });

  it('keeps one bucket per tenant with scope tenant, and a tenant-wide bucket across tools', async () => {
    const kv = await kvClient(`rl${randomBytes(3).toString('hex')}`);
    const perTenant = defineTool({
      name: 'translate',
      description: 'translates',
      input: z.object({}),
      rateLimit: { capacity: 2, refillPerSec: 0.001, scope: 'tenant' },
      run: () => 'ok',
    });
    const other = defineTool({ name: 'other', description: 'o', input: z.object({}), run: () => 'ok' });
    const registry = new ToolRegistry({ kv, tenantRateLimit: { capacity: 3, refillPerSec: 0.001 } })
      .register(perTenant)
      .register(other);
    const as = (tenant: string, name = 'translate') =>
      executeTool(registry, call(name, '{}'), { ...ctx, tenant });
    const acme = [await as('acme'), await as('acme'), await as('acme')];
    expect(acme.map((o) => o.ok)).toEqual([true, true, false]);
    expect(failed(acme[2]!).message).toContain('tool translate');
    expect((await as('globex')).ok).toBe(true);
    // acme used 2 of its 3 tenant-wide tokens (the refused call took one of the tool's, none of the tenant's).
    expect((await as('acme', 'other')).ok).toBe(true);
    const over = failed(await as('acme', 'other'));
    expect(over.code).toBe('TOOL_RATE_LIMITED');
    expect(over.message).toContain('tenant acme');
  });

  it('refills over time and says when to retry', async () => {
    const tool = defineTool({
      name: 'tick',
      description: 't',
      input: z.object({}),
      rateLimit: { capacity: 1, refillPerSec: 10 },
      run: () => 'ok',
    });
    const registry = new ToolRegistry({ kv: await kvClient(`rl${randomBytes(3).toString('hex')}`) }).register(
      tool,
    );
    expect((await executeTool(registry, call('tick', '{}'), ctx)).ok).toBe(true);
    const limited = failed(await executeTool(registry, call('tick', '{}'), ctx));
    expect(limited.retryAfterMs).toBeGreaterThan(0);
    expect(limited.retryAfterMs).toBeLessThanOrEqual(100);
    await sleep(limited.retryAfterMs! + 20);
    expect((await executeTool(registry, call('tick', '{}'), ctx)).ok).toBe(true);
  });

  it('reports a store outage as TOOL_UNAVAILABLE, not a throw', async () => {
    const kv = await natsKeyValue({ servers: nats.url, bucket: `rl${randomBytes(3).toString('hex')}` });
    await kv.close();
    const tool = defineTool({
      name: 'gated',
      description: 'g',
      input: z.object({}),
      rateLimit: { capacity: 1, refillPerSec: 1 },
      run: () => 'ok',
    });
    const outcome = failed(
      await executeTool(new ToolRegistry({ kv }).register(tool), call('gated', '{}'), ctx),
    );
    expect([outcome.code, outcome.cause]).toEqual(['TOOL_UNAVAILABLE', 'KV_CLOSED']);
  });
});

describe('timeouts and aborts', () => {
  it('aborts the signal the tool was given at its timeout', async () => {
    let reason: unknown;
    const slow = defineTool({
      name: 'slow',
      description: 's',
      input: z.object({}),
      timeoutMs: 100,
      run: (_input, { signal }) =>
        new Promise((_, reject) => {
          signal.addEventListener('abort', () => {
            reason = signal.reason;
            reject(signal.reason);
          });
        }),
    });
    // One that ignores its signal still ends the call on time.
    const deaf = defineTool({
      name: 'deaf',
      description: 'd',
      input: z.object({}),
      timeoutMs: 100,
      run: () => sleep(2000).then(() => 'late'),
    });
    const registry = new ToolRegistry().register(slow).register(deaf);
    const outcome = failed(await executeTool(registry, call('slow', '{}'), ctx));
    expect([outcome.code, outcome.retryable]).toEqual(['TOOL_TIMEOUT', true]);
    expect(outcome.durationMs).toBeGreaterThanOrEqual(95);
    expect(outcome.durationMs).toBeLessThan(1000);
    expect(TroupeError.is(reason, 'TOOL_TIMEOUT')).toBe(true);
    const started = Date.now();
    expect(failed(await executeTool(registry, call('deaf', '{}'), ctx)).code).toBe('TOOL_TIMEOUT');
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it("ends with TOOL_ABORTED when the caller's signal aborts", async () => {
    let aborted = false;
    const wait = defineTool({
      name: 'wait',
      description: 'w',
      input: z.object({}),
      run: (_i, { signal }) =>
        new Promise((_, reject) =>
          signal.addEventListener('abort', () => {
            aborted = true;
            reject(signal.reason);
          }),
        ),
    });
    const registry = new ToolRegistry().register(wait);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const outcome = failed(
      await executeTool(registry, call('wait', '{}'), { ...ctx, signal: controller.signal }),
    );
    expect(outcome.code).toBe('TOOL_ABORTED');
    expect(aborted).toBe(true);
  });
});

describe('heavy tools', () => {
  let redis: ServerProcess;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis?.stop());

  const sumInput = z.object({ a: z.number(), b: z.number() });

  it('runs once per call on the in-process pool, however often the call is executed', async () => {
    let runs = 0;
    const task = defineTask<{ a: number; b: number }, number>('sum', async ({ a, b }) => {
      runs++;
      await sleep(30);
      return a + b;
    });
    const tasks = taskPool();
    cleanups.push(() => tasks.close());
    const registry = new ToolRegistry({ tasks }).register(
      defineTool({ name: 'sum', description: 's', input: sumInput, heavy: task }),
    );
    const c = call('sum', '{"a":1,"b":2}', 'call-1');
    const [x, y] = await Promise.all([executeTool(registry, c, ctx), executeTool(registry, c, ctx)]);
    const z3 = await executeTool(registry, c, ctx);
    for (const o of [x, y, z3]) expect(o).toMatchObject({ ok: true, value: 3 });
    expect(runs).toBe(1);
    expect(await executeTool(registry, { ...c, callId: 'call-2' }, ctx)).toMatchObject({
      ok: true,
      value: 3,
    });
    expect(runs).toBe(2);
  });

  it('says TOOL_UNAVAILABLE when no task runner is set', async () => {
    const task = defineTask('nowhere', () => 1);
    const registry = new ToolRegistry().register(
      defineTool({ name: 'nowhere', description: 'n', input: z.object({}), heavy: task }),
    );
    const outcome = failed(await executeTool(registry, call('nowhere', '{}'), ctx));
    expect([outcome.code, outcome.cause]).toEqual(['TOOL_UNAVAILABLE', 'NO_TASK_RUNNER']);
  });

  it('runs a BullMQ task once per call, even after its first caller is SIGKILLed mid-run', async () => {
    const prefix = `t${randomBytes(4).toString('hex')}`;
    let runs = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const task = defineTask<{ a: number; b: number }, number>('slow_sum', async ({ a, b }) => {
      runs++;
      await gate;
      return a + b;
    });
    const worker = bullmqTaskRunner({ redis: redis.url, prefix, work: [task] });
    cleanups.push(() => worker.close());
    await worker.ready();

    const runId = `run-${randomBytes(3).toString('hex')}`;
    const child: ChildProcess = spawn(process.execPath, [caller], {
      env: { ...process.env, REDIS_URL: redis.url, PREFIX: prefix, RUN_ID: runId, CALL_ID: 'call-1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    cleanups.push(async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    });
    await until(() => runs === 1 || child.exitCode !== null, 15_000, `the job to start: ${output}`);
    expect(runs).toBe(1);
    child.kill('SIGKILL');
    await exited;
    expect(output).not.toContain('"ok"');

    // Another caller (this process) executes the same call: it joins the running job instead of queuing one.
    const tasks = bullmqTaskRunner({ redis: redis.url, prefix });
    cleanups.push(() => tasks.close());
    const registry = new ToolRegistry({ tasks }).register(
      defineTool({ name: 'slow_sum', description: 's', input: sumInput, heavy: task }),
    );
    const c = call('slow_sum', '{"a":2,"b":3}', 'call-1');
    let settled = false;
    const second = executeTool(registry, c, { agent: 'fixture', runId }).finally(() => {
      settled = true;
    });
    await sleep(300);
    expect(settled).toBe(false);
    release();
    expect(await second).toMatchObject({ ok: true, value: 5 });
    expect(runs).toBe(1);
    // Done: a third execution gets the stored result at once.
    expect(await executeTool(registry, c, { agent: 'fixture', runId })).toMatchObject({ ok: true, value: 5 });
    expect(runs).toBe(1);
    // A different call runs the task again.
    expect(
      await executeTool(registry, { ...c, callId: 'call-2' }, { agent: 'fixture', runId }),
    ).toMatchObject({
      ok: true,
      value: 5,
    });
    expect(runs).toBe(2);
  });
});

describe('audit log', () => {
  let nats: ServerProcess;
  beforeAll(async () => {
    nats = await startNats();
  });
  afterAll(() => nats?.stop());

  async function exercise(log: AppendLog): Promise<void> {
    const audit = auditLog(log);
    const pricey = defineTool({
      name: 'pricey',
      description: 'p',
      input: z.object({ n: z.number() }),
      run: ({ n }, { addCost }) => {
        addCost(0.25);
        return n;
      },
    });
    const registry = new ToolRegistry({ audit }).register(weather).register(pricey, ['money']);
    const before = Date.now();
    await executeTool(registry, call('weather', '{"city":"Oslo","unit":"c"}', 'a1'), {
      ...ctx,
      tenant: 'acme',
    });
    await executeTool(registry, call('pricey', '{"n":1}', 'a2'), ctx);
    await executeTool(registry, call('pricey', '{"n":2}', 'a3'), {
      ...ctx,
      agent: 'rich',
      grants: ['money'],
    });
    await executeTool(registry, call('weather', '{"city":5}', 'a4'), { ...ctx, agent: 'rich' });
    await audit.record({
      kind: 'model',
      at: Date.now(),
      agent: 'rich',
      runId: 'run-1',
      group: 'smart',
      outcome: 'BUDGET_EXCEEDED',
      tokens: 0,
    });

    const all = await audit.query();
    expect(all.map((r) => [r.agent, r.kind === 'tool' ? r.tool : r.group, r.outcome])).toEqual([
      ['planner', 'weather', 'ok'],
      ['planner', 'pricey', 'TOOL_FORBIDDEN'],
      ['rich', 'pricey', 'ok'],
      ['rich', 'weather', 'TOOL_INVALID_ARGUMENTS'],
      ['rich', 'smart', 'BUDGET_EXCEEDED'],
    ]);
    const first = all[0]!;
    expect(first).toMatchObject({ kind: 'tool', runId: 'run-1', callId: 'a1', tenant: 'acme' });
    if (first.kind !== 'tool') throw new Error('expected a tool record');
    // The hash ignores key order.
    expect(first.argsHash).toBe(argsHash('{ "unit": "c", "city": "Oslo" }'));
    expect(first.argsHash).toMatch(/^[0-9a-f]{64}$/);
    expect(first.at).toBeGreaterThanOrEqual(before);
    expect(first.durationMs).toBeGreaterThanOrEqual(0);
    expect(all[2]).toMatchObject({ cost: 0.25 });
    expect(all.map((r) => r.seq)).toEqual([...all.map((r) => r.seq)].sort((x, y) => x - y));

    expect((await audit.query({ agent: 'rich' })).map((r) => r.outcome)).toEqual([
      'ok',
      'TOOL_INVALID_ARGUMENTS',
      'BUDGET_EXCEEDED',
    ]);
    expect((await audit.query({ tool: 'weather' })).map((r) => r.agent)).toEqual(['planner', 'rich']);
    expect((await audit.query({ kind: 'model' })).length).toBe(1);
    expect((await audit.query({ limit: 2 })).map((r) => r.outcome)).toEqual([
      'TOOL_INVALID_ARGUMENTS',
      'BUDGET_EXCEEDED',
    ]);
    expect(await audit.query({ since: Date.now() + 60_000 })).toEqual([]);
    expect((await audit.query({ since: new Date(before).toISOString() })).length).toBe(5);
  }

  it('records every call and queries them (memory log)', async () => {
    const log = memoryAppendLog();
    cleanups.push(() => log.close());
    await exercise(log);
  });

  it('records every call and queries them (JetStream log)', async () => {
    const log = await natsAppendLog({
      servers: nats.url,
      name: 'audit',
      namespace: `a${randomBytes(3).toString('hex')}`,
    });
    cleanups.push(() => log.close());
    await exercise(log);
  });

  it('`troupe audit` lists the fleet audit log, filtered, as a table or JSON', async () => {
    const namespace = `a${randomBytes(3).toString('hex')}`;
    const log = await natsAppendLog({ servers: nats.url, name: 'audit', namespace });
    cleanups.push(() => log.close());
    const audit = auditLog(log);
    const registry = new ToolRegistry({ audit }).register(weather);
    await executeTool(registry, call('weather', '{"city":"Oslo"}', 'x1'), ctx);
    await executeTool(registry, call('weather', '{"city":"Lima"}', 'x2'), { ...ctx, agent: 'scout' });
    await executeTool(registry, call('nope', '{}', 'x3'), { ...ctx, agent: 'scout' });
    await audit.flush();

    const cli = (...args: string[]) =>
      run(process.execPath, [bin, 'audit', '--nats', nats.url, '--namespace', namespace, ...args], {
        env: { ...process.env, TROUPE_LOG_LEVEL: 'silent' },
      });
    const json = JSON.parse((await cli('--json')).stdout) as {
      agent: string;
      outcome: string;
      tool: string;
    }[];
    expect(json.map((r) => [r.agent, r.tool, r.outcome])).toEqual([
      ['planner', 'weather', 'ok'],
      ['scout', 'weather', 'ok'],
      ['scout', 'nope', 'TOOL_UNKNOWN'],
    ]);
    const scout = JSON.parse(
      (await cli('--agent', 'scout', '--tool', 'weather', '--json')).stdout,
    ) as unknown[];
    expect(scout).toHaveLength(1);
    const limited = JSON.parse((await cli('--limit', '1', '--since', '1h', '--json')).stdout) as {
      callId: string;
    }[];
    expect(limited.map((r) => r.callId)).toEqual(['x3']);
    const table = (await cli('--agent', 'scout')).stdout;
    expect(table.split('\n')[0]).toMatch(/^TIME\s+AGENT\s+KIND\s+TOOL\/GROUP\s+OUTCOME\s+MS/);
    expect(table).toMatch(/scout\s+tool\s+nope\s+TOOL_UNKNOWN/);
    expect((await cli('--since', new Date(Date.now() + 60_000).toISOString())).stdout).toBe(
      'no audit records match\n',
    );
    const bad = await cli('--limit', 'zero').catch((err: { code: number; stderr: string }) => err);
    expect((bad as { code: number }).code).toBe(2);
  });
});

function weatherSpec() {
  return {
    name: 'weather',
    description: 'Current weather of a city',
    input: z.object({
      city: z.string().describe('The city'),
      days: z.number().int().min(1).default(1),
      unit: z.enum(['c', 'f']).optional(),
    }),
  };
}
