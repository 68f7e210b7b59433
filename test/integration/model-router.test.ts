// The model router through the real `openai` client against the offline model server: strategies, retries
// honouring Retry-After, fallback order (general, context length, content filter), streams, timeouts and
// aborts, pacing, the outage cooldown of a single-deployment group, the cache, and the telemetry hook.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ChatChunk, type ModelRouterOptions, modelRouter } from '../../models/index.js';
import { memoryKeyValue } from '../../runtime/index.js';
import { type LlmServer, startLlmServer } from '../../testing/index.js';
import { ask, capturedLogger, failureCode, on, recordingTelemetry, sleep } from '../helpers/models.js';

let server: LlmServer;
beforeEach(async () => {
  server = await startLlmServer();
});
afterEach(() => server.close());

const modelsCalled = () => server.requests.map((r) => r.model);
const quick = { attempts: 3, baseMs: 10, maxMs: 2000, jitter: 0 };

describe('routing', () => {
  it('spreads calls by weight and answers through the deployment model', async () => {
    const router = modelRouter({
      groups: { g: { deployments: [on(server, 'a', { weight: 3 }), on(server, 'b', { weight: 1 })] } },
      logger: capturedLogger().logger,
    });
    for (let i = 0; i < 200; i++) {
      const r = await router.chat('g', ask(`q${i}`));
      expect(r.text).toBe(`Echo: q${i}`);
    }
    const a = server.billed.byModel.a?.calls ?? 0;
    const b = server.billed.byModel.b?.calls ?? 0;
    expect(a + b).toBe(200);
    expect(a).toBeGreaterThan(120);
    expect(b).toBeGreaterThan(20);
  });

  it('least-busy sends concurrent calls to the idle deployment; lowest-latency to the fast one', async () => {
    server.latency('slow', 150);
    const busy = modelRouter({
      groups: { g: { strategy: 'least-busy', deployments: [on(server, 'slow'), on(server, 'fast')] } },
    });
    await Promise.all(Array.from({ length: 10 }, (_, i) => busy.chat('g', ask(`x${i}`))));
    expect(server.billed.byModel.slow?.calls).toBe(5);
    server.reset();
    server.latency('slow', 60);
    const latency = modelRouter({
      groups: { g: { strategy: 'lowest-latency', deployments: [on(server, 'slow'), on(server, 'fast')] } },
    });
    for (let i = 0; i < 12; i++) await latency.chat('g', ask(`y${i}`));
    // Each is tried once to be measured; then the fast one takes the rest.
    expect(server.billed.byModel.slow?.calls).toBe(1);
    expect(server.billed.byModel.fast?.calls).toBe(11);
  });

  it('refuses an unknown group, and bad options with INVALID_OPTIONS', async () => {
    const router = modelRouter({ groups: { g: { deployments: [on(server, 'a')] } } });
    expect(await failureCode(router.chat('nope', ask('x')))).toBe('MODEL_UNKNOWN_GROUP');
    expect(() => modelRouter({ groups: { g: { deployments: [] } } })).toThrow(/deployment/);
    expect(() =>
      modelRouter({ groups: { g: { deployments: [on(server, 'a')], fallbacks: ['missing'] } } }),
    ).toThrow(/unknown group missing/);
    expect(() => modelRouter({ groups: { g: { deployments: [on(server, 'a'), on(server, 'a')] } } })).toThrow(
      /duplicate/,
    );
  });
});

describe('retries', () => {
  it('honours Retry-After, logs each retry with the trace id, and sends traceparent', async () => {
    const { logger, lines } = capturedLogger();
    const { telemetry, calls } = recordingTelemetry();
    server.fault('a', { type: 'rate-limit', retryAfterMs: 700 }, { times: 1 });
    const router = modelRouter({
      groups: { g: { deployments: [on(server, 'a')] } },
      retries: quick,
      logger,
      telemetry,
    });
    const started = Date.now();
    const r = await router.chat('g', ask('hi'));
    expect(r.text).toBe('Echo: hi');
    const [first, second] = server.requests;
    expect(second && first ? second.at - first.at : 0).toBeGreaterThanOrEqual(680);
    expect(Date.now() - started).toBeLessThan(2000);
    const retry = lines.find((l) => l.msg === 'model call retry');
    expect(retry).toMatchObject({ level: 'warn', deployment: 'a', attempt: 1, code: 'MODEL_RATE_LIMITED' });
    expect(retry?.traceId).toBe(calls[0]?.traceparent.split('-')[1]);
    expect(first?.headers.traceparent).toBe(calls[0]?.traceparent);
    expect(calls[0]?.outcome.retries).toBe(1);
  });

  it('retries a 5xx with backoff on another deployment of the group and gives up after `attempts`', async () => {
    server.fault('a', 'server-error');
    server.fault('b', 'overloaded');
    const router = modelRouter({
      groups: { g: { deployments: [on(server, 'a'), on(server, 'b')] } },
      retries: quick,
      breaker: { failures: 10 },
      logger: capturedLogger().logger,
    });
    expect(await failureCode(router.chat('g', ask('x')))).toMatch(/MODEL_(SERVER_ERROR|OVERLOADED)/);
    expect(server.requests).toHaveLength(3);
  });

  it('does not retry what a retry cannot fix (bad request, auth)', async () => {
    server.fault('a', 'auth');
    const router = modelRouter({
      groups: {
        g: { deployments: [on(server, 'a')], fallbacks: ['h'] },
        h: { deployments: [on(server, 'b')] },
      },
      retries: quick,
    });
    expect(await failureCode(router.chat('g', ask('x')))).toBe('MODEL_AUTH');
    expect(modelsCalled()).toEqual(['a']);
  });

  it('paces a deployment at its rpm: the over-limit call goes to the other deployment', async () => {
    const router = modelRouter({
      groups: { g: { strategy: 'least-busy', deployments: [on(server, 'a', { rpm: 2 }), on(server, 'b')] } },
    });
    for (let i = 0; i < 6; i++) await router.chat('g', ask(`p${i}`));
    expect(server.billed.byModel.a?.calls).toBe(2);
    expect(server.billed.byModel.b?.calls).toBe(4);
  });

  it('waits out a short 429 cooldown on a single deployment instead of failing the run', async () => {
    server.fault('a', { type: 'rate-limit', retryAfterMs: 200 }, { times: 2 });
    const router = modelRouter({
      groups: { g: { deployments: [on(server, 'a')] } },
      retries: quick,
      logger: capturedLogger().logger,
    });
    const results = await Promise.all([router.chat('g', ask('1')), router.chat('g', ask('2'))]);
    expect(results.map((r) => r.text).sort()).toEqual(['Echo: 1', 'Echo: 2']);
  });
});

describe('fallbacks', () => {
  const groups = (server: LlmServer): ModelRouterOptions['groups'] => ({
    main: {
      deployments: [on(server, 'main')],
      fallbacks: ['second', 'third'],
      contextFallbacks: ['large'],
      contentFallbacks: ['lenient'],
    },
    second: { deployments: [on(server, 'second')] },
    third: { deployments: [on(server, 'third')] },
    large: { deployments: [on(server, 'large')] },
    lenient: { deployments: [on(server, 'lenient')] },
  });

  it('follows the general fallbacks in order after the retries', async () => {
    const { telemetry, calls } = recordingTelemetry();
    const { logger, lines } = capturedLogger();
    server.fault('main', 'server-error');
    server.fault('second', 'overloaded');
    const router = modelRouter({
      groups: groups(server),
      retries: { ...quick, attempts: 2 },
      breaker: { failures: 10 },
      telemetry,
      logger,
    });
    const r = await router.chat('main', ask('x'));
    expect(r.model).toBe('third');
    expect(modelsCalled()).toEqual(['main', 'main', 'second', 'second', 'third']);
    expect(calls[0]?.outcome).toMatchObject({ fallback: 'third', retries: 2, deployment: 'third' });
    expect(calls[0]?.attributes['troupe.model.fallback']).toBe('third');
    expect(lines.filter((l) => l.msg === 'model fallback').map((l) => l.to)).toEqual(['second', 'third']);
  });

  it('goes to contextFallbacks on a context-length error, contentFallbacks on a content filter, without retrying', async () => {
    server.fault('main', 'context-length', { times: 1 });
    const router = modelRouter({ groups: groups(server), retries: quick, logger: capturedLogger().logger });
    expect((await router.chat('main', ask('long'))).model).toBe('large');
    server.fault('main', 'content-filter', { times: 1 });
    expect((await router.chat('main', ask('rude'))).model).toBe('lenient');
    expect(modelsCalled()).toEqual(['main', 'large', 'main', 'lenient']);
  });

  it('fails with the original code when no fallback of that kind exists', async () => {
    server.fault('second', 'context-length');
    const router = modelRouter({ groups: groups(server), retries: quick });
    expect(await failureCode(router.chat('second', ask('x')))).toBe('MODEL_CONTEXT_LENGTH');
  });
});

describe('streams', () => {
  async function collect(stream: AsyncIterable<ChatChunk>): Promise<{ text: string; error?: string }> {
    let text = '';
    try {
      for await (const c of stream) if (c.type === 'text') text += c.text;
      return { text };
    } catch (err) {
      return { text, error: (err as { code?: string }).code ?? String(err) };
    }
  }

  it('fails over a stream that broke before its first chunk', async () => {
    server.script('backup', 'from the backup');
    server.fault('main', { type: 'drop-stream', afterChunks: 0 });
    const router = modelRouter({
      groups: {
        main: { deployments: [on(server, 'main')], fallbacks: ['backup'] },
        backup: { deployments: [on(server, 'backup')] },
      },
      retries: { ...quick, attempts: 1 },
      logger: capturedLogger().logger,
    });
    expect(await collect(router.stream('main', ask('x')))).toEqual({ text: 'from the backup' });
  });

  it('fails a stream cut after it yielded with MODEL_STREAM_BROKEN, and does not repeat it elsewhere', async () => {
    server.script('main', 'a fairly long answer that streams in several chunks');
    server.fault('main', { type: 'drop-stream', afterChunks: 2 });
    const router = modelRouter({
      groups: {
        main: { deployments: [on(server, 'main')], fallbacks: ['backup'] },
        backup: { deployments: [on(server, 'backup')] },
      },
      retries: quick,
      logger: capturedLogger().logger,
    });
    const { text, error } = await collect(router.stream('main', ask('x')));
    expect(error).toBe('MODEL_STREAM_BROKEN');
    expect(text.length).toBeGreaterThan(0);
    expect(modelsCalled()).toEqual(['main']);
  });

  it('streams a whole answer with usage and ends the span once', async () => {
    const { telemetry, calls } = recordingTelemetry();
    const router = modelRouter({
      groups: { g: { deployments: [on(server, 'a', { inputPricePer1k: 1, outputPricePer1k: 2 })] } },
      telemetry,
    });
    expect(await collect(router.stream('g', ask('hello there')))).toEqual({ text: 'Echo: hello there' });
    expect(calls).toHaveLength(1);
    const usage = calls[0]?.outcome.usage;
    expect(usage?.outputTokens).toBeGreaterThan(0);
    expect(calls[0]?.outcome.cost).toBeCloseTo(
      ((usage?.inputTokens ?? 0) + 2 * (usage?.outputTokens ?? 0)) / 1000,
    );
  });
});

describe('timeouts and aborts', () => {
  it('ends a hanging call at the call timeout with MODEL_TIMEOUT', async () => {
    server.fault('a', 'hang');
    const router = modelRouter({
      groups: { g: { deployments: [on(server, 'a')] } },
      retries: quick,
      logger: capturedLogger().logger,
    });
    const started = Date.now();
    expect(await failureCode(router.chat('g', ask('x'), { timeoutMs: 300 }))).toBe('MODEL_TIMEOUT');
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('aborts a call (in flight or in backoff) with MODEL_ABORTED', async () => {
    server.fault('a', 'hang');
    const router = modelRouter({ groups: { g: { deployments: [on(server, 'a')] } }, retries: quick });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    expect(await failureCode(router.chat('g', ask('x'), { signal: controller.signal }))).toBe(
      'MODEL_ABORTED',
    );
    server.clearFaults();
    server.fault('b', { type: 'rate-limit', retryAfterMs: 5000 });
    const r2 = modelRouter({
      groups: { g: { deployments: [on(server, 'b')] } },
      retries: { ...quick, maxMs: 10_000 },
      logger: capturedLogger().logger,
    });
    const c2 = new AbortController();
    setTimeout(() => c2.abort(), 200);
    const started = Date.now();
    expect(await failureCode(r2.chat('g', ask('x'), { signal: c2.signal }))).toBe('MODEL_ABORTED');
    expect(Date.now() - started).toBeLessThan(1000);
  });
});

describe('an outage of a single-deployment group', () => {
  // The 60 s outage, scaled down 10x: 6 s of failures with a 1 s cooldown.
  it('sends at most one probe per cooldown (plus the failures that opened it), not one call per request', async () => {
    const { logger, lines } = capturedLogger();
    server.fault('main', 'overloaded');
    const router = modelRouter({
      groups: {
        main: { deployments: [on(server, 'main')], fallbacks: ['backup'] },
        backup: { deployments: [on(server, 'backup')] },
      },
      retries: { attempts: 3, baseMs: 20, maxMs: 1000, jitter: 0 },
      breaker: { failures: 3, windowMs: 10_000, cooldownMs: 1000, halfOpenProbes: 1 },
      logger,
    });
    const outageMs = 6000;
    const started = Date.now();
    const latencies: number[] = [];
    const answers: string[] = [];
    const pending: Promise<void>[] = [];
    for (let i = 0; i < 50; i++) {
      pending.push(
        (async () => {
          const t0 = Date.now();
          const r = await router.chat('main', ask(`r${i}`));
          latencies.push(Date.now() - t0);
          answers.push(r.model);
        })(),
      );
      await sleep(outageMs / 50);
    }
    await Promise.all(pending);
    const elapsed = Date.now() - started;
    const toMain = server.requests.filter((r) => r.model === 'main').length;
    // 3 failures open it, then one probe per elapsed cooldown.
    expect(toMain).toBeLessThanOrEqual(3 + Math.ceil(elapsed / 1000));
    expect(toMain).toBeGreaterThanOrEqual(3 + 4);
    expect(answers.filter((m) => m === 'backup')).toHaveLength(50);
    latencies.sort((a, b) => a - b);
    // All but the first request (which paid the failures) went to the fallback at once.
    expect(latencies[48]).toBeLessThan(100);
    expect(lines.some((l) => l.msg === 'model circuit opened' && l.level === 'warn')).toBe(true);
    // The outage ends: the next probe closes the circuit and main answers again.
    server.clearFaults();
    await sleep(1100);
    expect((await router.chat('main', ask('after'))).model).toBe('main');
    expect(router.health().main?.state).toBe('closed');
    expect(lines.some((l) => l.msg === 'model circuit closed')).toBe(true);
  }, 20_000);

  it('without a fallback, fails fast with MODEL_UNAVAILABLE while open', async () => {
    server.fault('main', 'server-error');
    const router = modelRouter({
      groups: { main: { deployments: [on(server, 'main')] } },
      retries: { attempts: 3, baseMs: 5, maxMs: 100, jitter: 0 },
      breaker: { failures: 3, cooldownMs: 2000 },
      logger: capturedLogger().logger,
    });
    expect(await failureCode(router.chat('main', ask('1')))).toBe('MODEL_SERVER_ERROR');
    const t0 = Date.now();
    const codes = await Promise.all(
      Array.from({ length: 20 }, () => failureCode(router.chat('main', ask('2')))),
    );
    expect(new Set(codes)).toEqual(new Set(['MODEL_UNAVAILABLE']));
    expect(Date.now() - t0).toBeLessThan(100);
    expect(server.requests).toHaveLength(3);
  });
});

describe('cache and telemetry', () => {
  it('answers an identical request from the cache, when configured', async () => {
    const { telemetry, calls } = recordingTelemetry();
    const router = modelRouter({
      groups: { g: { deployments: [on(server, 'a')] } },
      cache: { store: memoryKeyValue(), ttlMs: 60_000 },
      telemetry,
    });
    const a = await router.chat('g', ask('same'));
    const b = await router.chat('g', ask('same'));
    await router.chat('g', ask('different'));
    expect(b).toEqual(a);
    expect(server.requests).toHaveLength(2);
    expect(calls.map((c) => c.outcome.cached)).toEqual([false, true, false]);
  });

  it('reports GenAI attributes: operation, models, provider, tokens, cost, deployment, retries', async () => {
    const { telemetry, calls } = recordingTelemetry();
    const router = modelRouter({
      groups: {
        g: { deployments: [on(server, 'a', { id: 'dep-a', inputPricePer1k: 0.5, outputPricePer1k: 1.5 })] },
      },
      telemetry,
    });
    const r = await router.chat('g', ask('price me'));
    await router.embed('g', ['one', 'two']);
    const input = r.usage?.inputTokens ?? 0;
    const output = r.usage?.outputTokens ?? 0;
    expect(calls[0]?.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': 'a',
      'gen_ai.response.model': 'a',
      'gen_ai.provider.name': 'openai',
      'gen_ai.system': 'openai',
      'gen_ai.usage.input_tokens': input,
      'gen_ai.usage.output_tokens': output,
      'troupe.model.deployment': 'dep-a',
      'troupe.model.retries': 0,
    });
    expect(calls[0]?.attributes['troupe.model.cost']).toBeCloseTo((input * 0.5 + output * 1.5) / 1000);
    expect(calls[1]?.attributes['gen_ai.operation.name']).toBe('embeddings');
    server.fault('a', 'auth');
    await failureCode(router.chat('g', ask('x')));
    expect(calls[2]?.attributes['error.type']).toBe('MODEL_AUTH');
  });
});
