// The offline model server, through the real `openai` client (and raw fetch where a client cannot go: bad
// input, SSE framing, headers): every endpoint, every fault, the request log and the billed counters.

import OpenAI, { APIError } from 'openai';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  cosineSimilarity,
  estimateTokens,
  type LlmServer,
  type LlmServerOptions,
  startLlmServer,
} from '../../testing/index.js';

let server: LlmServer;
let client: OpenAI;

async function start(options: LlmServerOptions = {}): Promise<void> {
  await server?.close();
  server = await startLlmServer(options);
  client = new OpenAI({
    baseURL: server.url,
    apiKey: options.apiKey ?? 'test-key',
    maxRetries: 0,
    logLevel: 'off',
  });
}

beforeEach(() => start());
afterEach(() => server.close());

const user = (content: string) => [{ role: 'user' as const, content }];

/** POSTs raw text to a path of the server. */
function post(path: string, body: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
}

/** The OpenAI-shaped error of a raw response. */
async function errorOf(res: Response): Promise<{ code: string | null; type: string; message: string }> {
  return ((await res.json()) as { error: { code: string | null; type: string; message: string } }).error;
}

/** The `data:` payloads of an SSE body, after checking each event is exactly `data: ...\n\n`. */
function sseEvents(text: string): string[] {
  expect(text.endsWith('\n\n')).toBe(true);
  const events = text.slice(0, -2).split('\n\n');
  for (const e of events) expect(e).toMatch(/^data: [^\n]+$/);
  return events.map((e) => e.slice('data: '.length));
}

async function thrown(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('chat completions', () => {
  it('echoes the last user message when nothing is scripted, with exact usage and billing', async () => {
    const res = await client.chat.completions.create({
      model: 'small',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'hello world' },
      ],
    });
    expect(res.choices[0]?.message.content).toBe('Echo: hello world');
    expect(res.choices[0]?.finish_reason).toBe('stop');
    expect(res.id).toBe('chatcmpl-1');
    expect(res.model).toBe('small');
    const input = estimateTokens('be brief') + estimateTokens('hello world');
    const output = estimateTokens('Echo: hello world');
    expect(res.usage).toEqual({
      prompt_tokens: input,
      completion_tokens: output,
      total_tokens: input + output,
      prompt_tokens_details: { cached_tokens: 0 },
    });
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]).toMatchObject({
      seq: 1,
      method: 'POST',
      path: '/v1/chat/completions',
      endpoint: 'chat',
      model: 'small',
      stream: false,
      status: 200,
      fault: undefined,
      inputTokens: input,
      outputTokens: output,
    });
    expect(server.requests[0]?.headers.authorization).toBe('Bearer test-key');
    expect(server.billed).toEqual({
      total: { calls: 1, inputTokens: input, outputTokens: output, cachedTokens: 0 },
      byModel: { small: { calls: 1, inputTokens: input, outputTokens: output, cachedTokens: 0 } },
    });
  });

  it('answers from a queue, then a function, per model and for *', async () => {
    server.script('a', ['one', { text: 'two' }]);
    server.script('a', (req) => `fn saw ${req.lastUserText} (#${req.seq})`);
    server.script('*', ['wild']);
    const say = async (model: string, text: string) =>
      (await client.chat.completions.create({ model, messages: user(text) })).choices[0]?.message.content;
    expect(await say('a', 'x')).toBe('one');
    expect(await say('a', 'x')).toBe('two');
    expect(await say('a', 'hi')).toBe('fn saw hi (#3)');
    expect(await say('b', 'hi')).toBe('wild');
    expect(await say('b', 'hi')).toBe('Echo: hi');
    server.script('r', ['x', 'y'], { repeat: true });
    expect([await say('r', ''), await say('r', ''), await say('r', '')]).toEqual(['x', 'y', 'x']);
  });

  it('returns tool calls with ids and finish_reason tool_calls', async () => {
    server.script('m', {
      toolCalls: [
        { name: 'lookup', arguments: { q: 'weather' } },
        { name: 'clock', arguments: '{}', id: 'fixed' },
      ],
    });
    const res = await client.chat.completions.create({
      model: 'm',
      messages: user('weather?'),
      tools: [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object' } } }],
    });
    const choice = res.choices[0];
    expect(choice?.finish_reason).toBe('tool_calls');
    expect(choice?.message.content).toBeNull();
    expect(choice?.message.tool_calls).toEqual([
      { id: 'call_1_0', type: 'function', function: { name: 'lookup', arguments: '{"q":"weather"}' } },
      { id: 'fixed', type: 'function', function: { name: 'clock', arguments: '{}' } },
    ]);
    expect(res.usage?.completion_tokens).toBe(
      estimateTokens('lookup{"q":"weather"}') + estimateTokens('clock{}'),
    );
  });

  it('returns structured output as JSON text: scripted, shaped by the schema, or for json_object', async () => {
    server.script('m', { json: { city: 'Oslo', temp: 3 } });
    const scripted = await client.chat.completions.create({
      model: 'm',
      messages: user('x'),
      response_format: { type: 'json_schema', json_schema: { name: 'w', schema: { type: 'object' } } },
    });
    expect(JSON.parse(scripted.choices[0]?.message.content ?? '')).toEqual({ city: 'Oslo', temp: 3 });
    const schema = {
      type: 'object',
      properties: {
        name: { type: 'string' },
        n: { type: 'integer', minimum: 2 },
        ok: { type: 'boolean' },
        tags: { type: 'array', items: { type: 'string' } },
        kind: { enum: ['a', 'b'] },
      },
    };
    const shaped = await client.chat.completions.create({
      model: 'm',
      messages: user('Ada'),
      response_format: { type: 'json_schema', json_schema: { name: 's', schema } },
    });
    expect(JSON.parse(shaped.choices[0]?.message.content ?? '')).toEqual({
      name: 'Ada',
      n: 2,
      ok: false,
      tags: ['Ada'],
      kind: 'a',
    });
    const object = await client.chat.completions.create({
      model: 'm',
      messages: user('hi'),
      response_format: { type: 'json_object' },
    });
    expect(JSON.parse(object.choices[0]?.message.content ?? '')).toEqual({ echo: 'hi' });
  });

  it('reports scripted usage, cached tokens included, and bills it', async () => {
    server.script('m', { text: 'ok', usage: { inputTokens: 100, outputTokens: 7, cachedTokens: 64 } });
    const res = await client.chat.completions.create({ model: 'm', messages: user('x') });
    expect(res.usage?.prompt_tokens_details?.cached_tokens).toBe(64);
    expect(res.usage?.prompt_tokens).toBe(100);
    expect(server.billed.total).toEqual({ calls: 1, inputTokens: 100, outputTokens: 7, cachedTokens: 64 });
  });

  it('waits the latency: server-wide, per model and per reply', async () => {
    await start({ latencyMs: 60 });
    server.latency('fast', 0);
    server.script('fast', [{ text: 'late', delayMs: 80 }, 'quick']);
    const time = async (model: string) => {
      const t0 = performance.now();
      await client.chat.completions.create({ model, messages: user('x') });
      return performance.now() - t0;
    };
    expect(await time('slow')).toBeGreaterThanOrEqual(55);
    expect(await time('fast')).toBeGreaterThanOrEqual(75);
    expect(await time('fast')).toBeLessThan(50);
  });
});

describe('streaming', () => {
  it('frames SSE like OpenAI: role, word pieces, finish, usage chunk, [DONE]', async () => {
    server.script('m', 'The quick  brown fox ');
    const res = await post(
      '/chat/completions',
      JSON.stringify({
        model: 'm',
        messages: user('x'),
        stream: true,
        stream_options: { include_usage: true },
      }),
    );
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const events = sseEvents(await res.text());
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(text).toBe('The quick  brown fox ');
    expect(chunks.filter((c) => c.choices[0]?.delta.content).length).toBe(5);
    const finish = chunks.at(-2);
    expect(finish.choices[0].finish_reason).toBe('stop');
    const usage = chunks.at(-1);
    expect(usage.choices).toEqual([]);
    expect(usage.usage.completion_tokens).toBe(estimateTokens('The quick  brown fox '));
    expect(server.requests[0]).toMatchObject({ stream: true, status: 200 });
  });

  it('sends no usage chunk unless asked, and streams tool calls through the openai client', async () => {
    server.script('m', { toolCalls: [{ name: 'search', arguments: { query: 'a long query text here' } }] });
    const stream = await client.chat.completions.create({ model: 'm', messages: user('x'), stream: true });
    let args = '';
    let name = '';
    let finish: string | null = null;
    let usageSeen = false;
    for await (const chunk of stream) {
      if (chunk.usage) usageSeen = true;
      const call = chunk.choices[0]?.delta.tool_calls?.[0];
      if (call?.function?.name) name = call.function.name;
      args += call?.function?.arguments ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(name).toBe('search');
    expect(JSON.parse(args)).toEqual({ query: 'a long query text here' });
    expect(finish).toBe('tool_calls');
    expect(usageSeen).toBe(false);
  });

  it('drops a stream midway: the socket closes after N chunks, no [DONE], the reply is billed', async () => {
    server.script('m', 'one two three four five');
    server.fault('m', { type: 'drop-stream', afterChunks: 3 });
    const stream = await client.chat.completions.create({ model: 'm', messages: user('x'), stream: true });
    const seen: string[] = [];
    const err = await thrown(
      (async () => {
        for await (const chunk of stream) seen.push(chunk.choices[0]?.delta.content ?? '');
      })(),
    );
    expect(String(err)).toMatch(/terminated/);
    expect(seen).toEqual(['', 'one', ' two']);
    expect(server.requests[0]).toMatchObject({ fault: 'drop-stream', status: 200 });
    expect(server.billed.total.calls).toBe(1);
  });
});

describe('faults', () => {
  it('429 with Retry-After in seconds and retry-after-ms, for `times` requests only', async () => {
    server.fault('m', { type: 'rate-limit', retryAfterMs: 1500 }, { times: 2 });
    const raw = await post('/chat/completions', JSON.stringify({ model: 'm', messages: user('x') }));
    expect(raw.status).toBe(429);
    expect(raw.headers.get('retry-after')).toBe('2');
    expect(raw.headers.get('retry-after-ms')).toBe('1500');
    expect((await errorOf(raw)).code).toBe('rate_limit_exceeded');
    const err = await thrown(client.chat.completions.create({ model: 'm', messages: user('x') }));
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    const ok = await client.chat.completions.create({ model: 'm', messages: user('x') });
    expect(ok.choices[0]?.message.content).toBe('Echo: x');
    expect(server.requests.map((r) => [r.status, r.fault])).toEqual([
      [429, 'rate-limit'],
      [429, 'rate-limit'],
      [200, undefined],
    ]);
    expect(server.billed.total.calls).toBe(1);
  });

  it.each([
    [{ type: 'server-error' as const }, 500, null],
    [{ type: 'overloaded' as const }, 503, 'overloaded'],
    [{ type: 'overloaded' as const, status: 529 as const }, 529, 'overloaded'],
    [{ type: 'context-length' as const }, 400, 'context_length_exceeded'],
    [{ type: 'content-filter' as const }, 400, 'content_filter'],
    [{ type: 'auth' as const }, 401, 'invalid_api_key'],
    [{ type: 'status' as const, status: 404, code: 'model_not_found' }, 404, 'model_not_found'],
  ])('%o answers %i with code %s', async (fault, status, code) => {
    server.fault('m', fault);
    const err = await thrown(client.chat.completions.create({ model: 'm', messages: user('x') }));
    expect(err).toBeInstanceOf(APIError);
    expect((err as APIError).status).toBe(status);
    expect((err as APIError).code ?? null).toBe(code);
    expect(server.requests[0]).toMatchObject({ status, fault: fault.type, inputTokens: 0 });
    expect(server.billed.total.calls).toBe(0);
  });

  it('a content filter as a finish reason: 200, empty content, finish_reason content_filter', async () => {
    server.fault('m', { type: 'content-filter', as: 'finish-reason' }, { times: 1 });
    const res = await client.chat.completions.create({ model: 'm', messages: user('x') });
    expect(res.choices[0]?.finish_reason).toBe('content_filter');
    expect(res.choices[0]?.message.content).toBe('');
  });

  it('malformed JSON answers, plain and streamed', async () => {
    server.fault('m', 'malformed');
    const plain = await post('/chat/completions', JSON.stringify({ model: 'm', messages: user('x') }));
    expect(plain.status).toBe(200);
    await expect(plain.json()).rejects.toThrow(SyntaxError);
    const err = await thrown(client.chat.completions.create({ model: 'm', messages: user('x') }));
    expect(err).toBeInstanceOf(SyntaxError);
    const stream = await client.chat.completions.create({ model: 'm', messages: user('x'), stream: true });
    const streamErr = await thrown(
      (async () => {
        for await (const _ of stream);
      })(),
    );
    expect(streamErr).toBeInstanceOf(SyntaxError);
  });

  it('a dropped non-streaming body: the headers promise more than arrives', async () => {
    server.fault('m', 'drop-stream');
    const res = await post('/chat/completions', JSON.stringify({ model: 'm', messages: user('x') }));
    expect(res.status).toBe(200);
    await expect(res.text()).rejects.toThrow(/terminated/);
  });

  it('a hang answers nothing until the client aborts; close() cuts the rest', async () => {
    server.fault('m', 'hang');
    const controller = new AbortController();
    const pending = thrown(
      client.chat.completions.create({ model: 'm', messages: user('x') }, { signal: controller.signal }),
    );
    await new Promise((r) => setTimeout(r, 100));
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]).toMatchObject({ fault: 'hang', status: undefined });
    controller.abort();
    expect(await pending).toBeInstanceOf(OpenAI.APIUserAbortError);
    const cut = thrown(client.chat.completions.create({ model: 'm', messages: user('x') }));
    await new Promise((r) => setTimeout(r, 50));
    await server.close();
    expect(await cut).toBeInstanceOf(OpenAI.APIConnectionError);
  });

  it('a fault in a script queue answers that one request', async () => {
    server.script('m', [{ fault: { type: 'rate-limit', retryAfterMs: 10 } }, 'after']);
    await thrown(client.chat.completions.create({ model: 'm', messages: user('x') }));
    const res = await client.chat.completions.create({ model: 'm', messages: user('x') });
    expect(res.choices[0]?.message.content).toBe('after');
  });

  it('a `*` fault hits every model; clearFaults and reset end it', async () => {
    server.fault('*', 'server-error');
    await thrown(client.chat.completions.create({ model: 'a', messages: user('x') }));
    await thrown(client.embeddings.create({ model: 'e', input: 'x' }));
    server.clearFaults();
    await client.chat.completions.create({ model: 'a', messages: user('x') });
    expect(server.requests.map((r) => r.status)).toEqual([500, 500, 200]);
    server.reset();
    expect(server.requests).toHaveLength(0);
    expect(server.billed.total.calls).toBe(0);
  });

  it('checks the API key when one is set', async () => {
    await start({ apiKey: 'sekret' });
    expect((await client.chat.completions.create({ model: 'm', messages: user('x') })).id).toBe('chatcmpl-1');
    const wrong = new OpenAI({ baseURL: server.url, apiKey: 'nope', maxRetries: 0 });
    const err = await thrown(wrong.chat.completions.create({ model: 'm', messages: user('x') }));
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((await fetch(`${server.url}/models`)).status).toBe(401);
    const azureStyle = await fetch(`${server.url}/models`, { headers: { 'api-key': 'sekret' } });
    expect(azureStyle.status).toBe(200);
  });
});

describe('embeddings', () => {
  it('are deterministic unit vectors whose cosine tracks shared words', async () => {
    const texts = ['the cat sat on the mat', 'a cat sat on a mat', 'quantum chromodynamics lecture notes'];
    const res = await client.embeddings.create({ model: 'e', input: texts });
    const [a, b, c] = res.data.map((d) => d.embedding);
    expect(res.data.map((d) => d.index)).toEqual([0, 1, 2]);
    expect(a).toHaveLength(256);
    const norm = Math.sqrt((a ?? []).reduce((s, x) => s + x * x, 0));
    expect(norm).toBeCloseTo(1, 5);
    expect(cosineSimilarity(a ?? [], b ?? [])).toBeGreaterThan(0.5);
    const [d, e] = (
      await client.embeddings.create({ model: 'e', input: ['the cat sat', 'the cat sat down'] })
    ).data;
    expect(cosineSimilarity(d?.embedding ?? [], e?.embedding ?? [])).toBeGreaterThan(0.8);
    expect(Math.abs(cosineSimilarity(a ?? [], c ?? []))).toBeLessThan(0.3);
    const again = await client.embeddings.create({
      model: 'e',
      input: texts[0] ?? '',
      encoding_format: 'float',
    });
    expect(again.data[0]?.embedding).toEqual(a);
    expect(res.usage).toEqual({
      prompt_tokens: texts.reduce((s, t) => s + estimateTokens(t), 0),
      total_tokens: texts.reduce((s, t) => s + estimateTokens(t), 0),
    });
    expect(server.billed.byModel.e?.calls).toBe(3);
  });

  it('honours dimensions and takes token arrays', async () => {
    const res = await client.embeddings.create({ model: 'e', input: 'hello', dimensions: 32 });
    expect(res.data[0]?.embedding).toHaveLength(32);
    const tokens = await client.embeddings.create({ model: 'e', input: [[1, 2, 3], [4]] });
    expect(tokens.data).toHaveLength(2);
  });

  it('rejects bad input with 400', async () => {
    for (const body of [
      { model: 'e' },
      { model: 'e', input: [] },
      { model: 'e', input: [{}] },
      { input: 'x' },
      { model: 'e', input: 'x', dimensions: 0 },
      { model: 'e', input: 'x', encoding_format: 'hex' },
    ]) {
      const res = await post('/embeddings', JSON.stringify(body));
      expect(res.status).toBe(400);
      expect((await errorOf(res)).type).toBe('invalid_request_error');
    }
    expect(server.billed.total.calls).toBe(0);
  });
});

describe('models and bad input', () => {
  it('lists the configured, scripted and faulted models', async () => {
    await start({ models: ['big', 'small'] });
    server.script('tiny', ['x']);
    server.fault('flaky', 'server-error');
    const list = await client.models.list();
    expect(list.data.map((m) => m.id)).toEqual(['big', 'flaky', 'small', 'tiny']);
    expect((await client.models.retrieve('anything')).id).toBe('anything');
    expect(server.requests.map((r) => [r.endpoint, r.status])).toEqual([
      ['models', 200],
      ['models', 200],
    ]);
  });

  it('refuses invalid JSON, non-objects and chat bodies without model or messages', async () => {
    const cases: [string, number, string][] = [
      ['{"model": "m", messages', 400, 'invalid_json'],
      ['[1, 2]', 400, 'invalid_request'],
      ['{"messages": [{"role": "user", "content": "x"}]}', 400, 'invalid_request'],
      ['{"model": "m", "messages": []}', 400, 'invalid_request'],
      ['{"model": "m", "messages": [{"content": "x"}]}', 400, 'invalid_request'],
    ];
    for (const [body, status, code] of cases) {
      const res = await post('/chat/completions', body);
      expect(res.status).toBe(status);
      expect((await errorOf(res)).code).toBe(code);
    }
    expect(server.requests.map((r) => r.status)).toEqual([400, 400, 400, 400, 400]);
    expect(server.billed.total.calls).toBe(0);
  });

  it('refuses a body over 1 MiB with 413, and still serves afterwards', async () => {
    const big = JSON.stringify({ model: 'm', messages: user('x'.repeat(1024 * 1024)) });
    const res = await post('/chat/completions', big);
    expect(res.status).toBe(413);
    expect((await errorOf(res)).code).toBe('payload_too_large');
    const chunked = await fetch(`${server.url}/chat/completions`, {
      method: 'POST',
      body: new ReadableStream({
        start(controller) {
          for (let i = 0; i < 40; i++) controller.enqueue(new TextEncoder().encode('x'.repeat(64 * 1024)));
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(413);
    expect(server.requests.map((r) => r.status)).toEqual([413, 413]);
    const ok = await client.chat.completions.create({ model: 'm', messages: user('x') });
    expect(ok.choices[0]?.message.content).toBe('Echo: x');
  });

  it('answers 404 to unknown paths and 405 with Allow to wrong methods', async () => {
    const unknown = await post('/completions', '{}');
    expect(unknown.status).toBe(404);
    expect((await errorOf(unknown)).code).toBe('unknown_url');
    const responses = await post('/responses', '{}');
    expect(responses.status).toBe(404);
    const wrong = await fetch(`${server.url}/chat/completions`);
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
    const wrongModels = await post('/models', '{}');
    expect(wrongModels.status).toBe(405);
    expect(wrongModels.headers.get('allow')).toBe('GET');
    expect(server.requests.map((r) => [r.endpoint, r.status])).toEqual([
      ['other', 404],
      ['other', 404],
      ['chat', 405],
      ['models', 405],
    ]);
  });
});

describe('troupe llm-server', () => {
  it('serves a script file in a loop on the given port until stopped', async () => {
    const { main } = await import('../../cli/llm-server.js');
    const { freePort } = await import('../../testing/index.js');
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'troupe-llm-'));
    const file = join(dir, 'script.json');
    writeFileSync(file, JSON.stringify({ demo: ['first', { toolCalls: [{ name: 't', arguments: {} }] }] }));
    const port = await freePort();
    const stop = new AbortController();
    const lines: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((chunk: string) => {
      lines.push(String(chunk));
      return true;
    }) as typeof process.stdout.write;
    try {
      const running = main(['--port', String(port), '--latency', '5', '--script', file], stop.signal);
      const url = `http://127.0.0.1:${port}/v1`;
      for (let i = 0; i < 100 && !lines.some((l) => l.includes(url)); i++)
        await new Promise((r) => setTimeout(r, 10));
      const demo = new OpenAI({ baseURL: url, apiKey: 'x', maxRetries: 0 });
      const replies = [];
      for (let i = 0; i < 3; i++) {
        const res = await demo.chat.completions.create({ model: 'demo', messages: user('x') });
        replies.push(res.choices[0]?.message.content ?? res.choices[0]?.message.tool_calls?.[0]?.id);
      }
      expect(replies).toEqual(['first', 'call_2_0', 'first']);
      stop.abort();
      expect(await running).toBe(0);
    } finally {
      process.stdout.write = write;
      rmSync(dir, { recursive: true, force: true });
    }
    expect(lines.join('')).toContain('stopped after 3 requests');
    expect(await main(['--port', 'abc'])).toBe(2);
  });
});
