// The OpenAI-compatible provider through the real `openai` client against the offline model server: chat,
// streams, tool calls, structured output, embeddings, usage, and every failure mapped to its ModelError code.

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type ChatChunk,
  type ChatRequest,
  type ChatResult,
  isRetryableModelError,
  ModelError,
  ModelErrorCode,
  type ModelProvider,
  type OpenAIProviderOptions,
  openaiProvider,
  retryAfterMsFrom,
} from '../../models/index.js';
import { InvalidOptionsError, TroupeError } from '../../runtime/index.js';
import {
  cosineSimilarity,
  estimateTokens,
  freePort,
  type LlmFaultSpec,
  type LlmServer,
  type LlmServerOptions,
  startLlmServer,
} from '../../testing/index.js';

let server: LlmServer;
let provider: ModelProvider;

async function start(
  options: LlmServerOptions = {},
  providerOptions: Partial<OpenAIProviderOptions> = {},
): Promise<void> {
  await server?.close();
  server = await startLlmServer(options);
  provider = openaiProvider({ baseURL: server.url, apiKey: 'k', model: 'small', ...providerOptions });
}

beforeEach(() => start());
afterEach(() => server.close());

const ask = (content: string): ChatRequest => ({ messages: [{ role: 'user', content }] });

async function collect(
  stream: AsyncIterable<ChatChunk>,
): Promise<{ chunks: ChatChunk[]; result: ChatResult }> {
  const chunks: ChatChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  const last = chunks.at(-1);
  if (last?.type !== 'done') throw new Error('stream ended without done');
  return { chunks, result: last.result };
}

/** The ModelError a call rejected with. */
async function failure(call: Promise<unknown>): Promise<ModelError> {
  try {
    await call;
  } catch (err) {
    expect(err).toBeInstanceOf(ModelError);
    return err as ModelError;
  }
  throw new Error('expected the call to fail');
}

describe('chat', () => {
  it('sends every message kind and sampling option in Chat Completions shape, and returns text and usage', async () => {
    server.script('small', 'Paris.');
    const result = await provider.chat({
      messages: [
        { role: 'system', content: 'terse' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'capital?' },
            { type: 'image', url: 'data:image/png;base64,AAAA', detail: 'low' },
          ],
        },
        { role: 'assistant', content: null, toolCalls: [{ id: 'c1', name: 'geo', arguments: '{}' }] },
        { role: 'tool', toolCallId: 'c1', content: 'France' },
        { role: 'user', content: 'so?' },
      ],
      temperature: 0.2,
      topP: 0.9,
      maxTokens: 50,
      stop: ['\n'],
      seed: 7,
      user: 'u1',
      extra: { top_k: 5 },
    });
    expect(result).toMatchObject({
      text: 'Paris.',
      toolCalls: [],
      finishReason: 'stop',
      model: 'small',
      id: 'chatcmpl-1',
    });
    expect(result.usage?.outputTokens).toBe(estimateTokens('Paris.'));
    expect(result.usage?.inputTokens).toBe(server.requests[0]?.inputTokens);
    const record = server.requests[0];
    expect(record?.path).toBe('/v1/chat/completions');
    expect(record?.body).toMatchObject({
      model: 'small',
      messages: [
        { role: 'system', content: 'terse' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'capital?' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA', detail: 'low' } },
          ],
        },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'c1', type: 'function', function: { name: 'geo', arguments: '{}' } }],
        },
        { role: 'tool', tool_call_id: 'c1', content: 'France' },
        { role: 'user', content: 'so?' },
      ],
      temperature: 0.2,
      top_p: 0.9,
      max_tokens: 50,
      stop: ['\n'],
      seed: 7,
      user: 'u1',
      top_k: 5,
    });
    expect(record?.body).not.toHaveProperty('stream');
  });

  it('uses the request model over the default, max_completion_tokens when configured, and sends headers', async () => {
    await start(
      {},
      {
        maxTokensField: 'max_completion_tokens',
        headers: { 'x-team': 'red' },
        query: { 'api-version': '1' },
      },
    );
    await provider.chat(
      { ...ask('x'), model: 'large', maxTokens: 9 },
      { headers: { traceparent: '00-abc-def-01' } },
    );
    const record = server.requests[0];
    expect(record?.model).toBe('large');
    expect(record?.body).toMatchObject({ max_completion_tokens: 9 });
    expect(record?.body).not.toHaveProperty('max_tokens');
    expect(record?.headers['x-team']).toBe('red');
    expect(record?.headers.traceparent).toBe('00-abc-def-01');
    expect(record?.headers.authorization).toBe('Bearer k');
  });

  it('returns tool calls, maps tool definitions and a named tool choice', async () => {
    server.script('small', { toolCalls: [{ name: 'weather', arguments: { city: 'Oslo' } }] });
    const result = await provider.chat({
      ...ask('weather in Oslo?'),
      tools: [
        {
          name: 'weather',
          description: 'current weather',
          parameters: { type: 'object', properties: { city: { type: 'string' } } },
          strict: true,
        },
      ],
      toolChoice: { name: 'weather' },
      parallelToolCalls: false,
    });
    expect(result.finishReason).toBe('tool_calls');
    expect(result.text).toBe('');
    expect(result.toolCalls).toEqual([{ id: 'call_1_0', name: 'weather', arguments: '{"city":"Oslo"}' }]);
    expect(server.requests[0]?.body).toMatchObject({
      tools: [
        {
          type: 'function',
          function: {
            name: 'weather',
            description: 'current weather',
            parameters: { type: 'object', properties: { city: { type: 'string' } } },
            strict: true,
          },
        },
      ],
      tool_choice: { type: 'function', function: { name: 'weather' } },
      parallel_tool_calls: false,
    });
  });

  it('parses structured output, and fails with MODEL_MALFORMED_RESPONSE when it is not JSON', async () => {
    const schema = { type: 'object', properties: { answer: { type: 'string' }, score: { type: 'number' } } };
    server.script('small', [{ json: { answer: 'yes', score: 0.9 } }, 'not json {']);
    const result = await provider.chat({
      ...ask('x'),
      responseFormat: { type: 'json_schema', name: 'verdict', schema, strict: true },
    });
    expect(result.json).toEqual({ answer: 'yes', score: 0.9 });
    expect(server.requests[0]?.body).toMatchObject({
      response_format: { type: 'json_schema', json_schema: { name: 'verdict', schema, strict: true } },
    });
    const err = await failure(provider.chat({ ...ask('x'), responseFormat: { type: 'json' } }));
    expect(err.code).toBe(ModelErrorCode.MalformedResponse);
    expect(err.retryable).toBe(true);
    const fromSchema = await provider.chat({
      ...ask('hi'),
      responseFormat: { type: 'json_schema', name: 'v', schema },
    });
    expect(fromSchema.json).toEqual({ answer: 'hi', score: 0 });
  });

  it('reports cached tokens when the server does', async () => {
    server.script('small', { text: 'ok', usage: { inputTokens: 1200, outputTokens: 3, cachedTokens: 1024 } });
    const result = await provider.chat(ask('x'));
    expect(result.usage).toEqual({
      inputTokens: 1200,
      outputTokens: 3,
      cachedTokens: 1024,
      reasoningTokens: 0,
      totalTokens: 1203,
    });
  });
});

describe('stream', () => {
  it('yields text pieces, then one done whose result matches them, with usage', async () => {
    server.script('small', 'one two three');
    const { chunks, result } = await collect(provider.stream(ask('count')));
    const text = chunks.flatMap((c) => (c.type === 'text' ? [c.text] : [])).join('');
    expect(text).toBe('one two three');
    expect(result).toMatchObject({
      text: 'one two three',
      finishReason: 'stop',
      model: 'small',
      id: 'chatcmpl-1',
    });
    expect(result.usage?.outputTokens).toBe(estimateTokens('one two three'));
    expect(chunks.filter((c) => c.type === 'done')).toHaveLength(1);
    expect(server.requests[0]?.body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
  });

  it('streams tool calls and assembles their arguments', async () => {
    server.script('small', {
      toolCalls: [
        { name: 'search', arguments: { query: 'a fairly long query string' } },
        { name: 'clock', arguments: {} },
      ],
    });
    const { chunks, result } = await collect(provider.stream(ask('x')));
    expect(chunks.filter((c) => c.type === 'tool-call').length).toBeGreaterThan(2);
    expect(result.finishReason).toBe('tool_calls');
    expect(result.toolCalls).toEqual([
      { id: 'call_1_0', name: 'search', arguments: '{"query":"a fairly long query string"}' },
      { id: 'call_1_1', name: 'clock', arguments: '{}' },
    ]);
  });

  it('has no usage when streamUsage is off', async () => {
    await start({}, { streamUsage: false });
    const { result } = await collect(provider.stream(ask('x')));
    expect(result.usage).toBeUndefined();
    expect(server.requests[0]?.body).not.toHaveProperty('stream_options');
  });

  it('a stream dropped midway fails with MODEL_STREAM_BROKEN after its first pieces, never done', async () => {
    server.script('small', 'alpha beta gamma delta');
    server.fault('small', { type: 'drop-stream', afterChunks: 3 });
    const seen: ChatChunk[] = [];
    const err = await failure(
      (async () => {
        for await (const chunk of provider.stream(ask('x'))) seen.push(chunk);
      })(),
    );
    expect(err.code).toBe(ModelErrorCode.StreamBroken);
    expect(err.retryable).toBe(true);
    expect(seen).toEqual([
      { type: 'text', text: 'alpha' },
      { type: 'text', text: ' beta' },
    ]);
    expect(server.requests).toHaveLength(1);
  });

  it('a stream that ends cleanly, [DONE] and all, but without a finish reason is broken too', async () => {
    // A proxy that cuts the answer short but closes the stream politely: only the missing finish tells.
    const chunk = (content: string) =>
      `data: ${JSON.stringify({ id: 'x', object: 'chat.completion.chunk', created: 0, model: 'small', choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`;
    const polite = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(`${chunk('half')}${chunk(' an answer')}data: [DONE]\n\n`);
    });
    await new Promise<void>((resolve) => polite.listen(0, '127.0.0.1', resolve));
    try {
      const port = (polite.address() as AddressInfo).port;
      const cut = openaiProvider({ baseURL: `http://127.0.0.1:${port}/v1`, model: 'small' });
      const seen: ChatChunk[] = [];
      const err = await failure(
        (async () => {
          for await (const c of cut.stream(ask('x'))) seen.push(c);
        })(),
      );
      expect(err.code).toBe(ModelErrorCode.StreamBroken);
      expect(seen.map((c) => c.type)).toEqual(['text', 'text']);
    } finally {
      await new Promise((resolve) => polite.close(resolve));
    }
  });

  it('a malformed chunk fails with MODEL_MALFORMED_RESPONSE', async () => {
    server.fault('small', 'malformed');
    const err = await failure(collect(provider.stream(ask('x'))));
    expect(err.code).toBe(ModelErrorCode.MalformedResponse);
  });

  it('abort mid-stream: MODEL_ABORTED, not a silent truncated success', async () => {
    await start({ chunkDelayMs: 40 });
    server.script('small', 'w1 w2 w3 w4 w5 w6 w7 w8');
    const controller = new AbortController();
    const seen: string[] = [];
    const err = await failure(
      (async () => {
        for await (const chunk of provider.stream(ask('x'), { signal: controller.signal })) {
          if (chunk.type === 'text') seen.push(chunk.text);
          if (seen.length === 2) controller.abort();
        }
      })(),
    );
    expect(err.code).toBe(ModelErrorCode.Aborted);
    expect(err.retryable).toBe(false);
    expect(seen).toEqual(['w1', ' w2']);
  });

  it('times out when the next chunk is late, but not while chunks keep coming', async () => {
    await start({ chunkDelayMs: 60 });
    server.script('small', ['s1 s2 s3 s4 s5', 's1 s2 s3 s4 s5']);
    const { result } = await collect(provider.stream(ask('x'), { timeoutMs: 150 }));
    expect(result.text).toBe('s1 s2 s3 s4 s5');
    const err = await failure(collect(provider.stream(ask('x'), { timeoutMs: 30 })));
    expect(err.code).toBe(ModelErrorCode.Timeout);
  });

  it('breaking out of the loop ends the call at once', async () => {
    await start({ chunkDelayMs: 50 });
    server.script('small', 'a b c d e f g h i j');
    const t0 = performance.now();
    for await (const chunk of provider.stream(ask('x'))) {
      if (chunk.type === 'text') break;
    }
    expect(performance.now() - t0).toBeLessThan(250);
    expect(server.requests).toHaveLength(1);
  });
});

describe('embeddings', () => {
  it('returns one unit vector per input, in order, similar for similar texts', async () => {
    const texts = ['the cat sat on the mat', 'the cat sat on a mat', 'stock prices fell sharply'];
    const result = await provider.embed(texts, { model: 'embed' });
    expect(result.vectors).toHaveLength(3);
    expect(result.model).toBe('embed');
    const [a, b, c] = result.vectors;
    expect(a).toHaveLength(256);
    expect(cosineSimilarity(a ?? [], b ?? [])).toBeGreaterThan(0.7);
    expect(cosineSimilarity(a ?? [], c ?? [])).toBeLessThan(0.3);
    expect(result.usage?.inputTokens).toBe(texts.reduce((s, t) => s + estimateTokens(t), 0));
    expect(server.requests[0]?.body).toMatchObject({ encoding_format: 'base64' });
  });

  it('float encoding gives the same vectors; dimensions are honoured; the embedding model is the default', async () => {
    await start({}, { embeddingEncoding: 'float', embeddingModel: 'embed' });
    const single = await provider.embed('hello there', { dimensions: 64 });
    expect(single.vectors[0]).toHaveLength(64);
    expect(server.requests[0]).toMatchObject({
      model: 'embed',
      body: { encoding_format: 'float', dimensions: 64 },
    });
    const base64 = openaiProvider({ baseURL: server.url, model: 'embed' });
    const again = await base64.embed('hello there', { dimensions: 64 });
    for (let i = 0; i < 64; i++)
      expect(again.vectors[0]?.[i]).toBeCloseTo(single.vectors[0]?.[i] ?? Number.NaN, 6);
  });

  it('maps embedding faults like chat faults', async () => {
    server.fault('embed', { type: 'rate-limit', retryAfterMs: 250 }, { times: 1 });
    const err = await failure(provider.embed('x', { model: 'embed' }));
    expect(err.code).toBe(ModelErrorCode.RateLimited);
    expect(err.retryAfterMs).toBe(250);
  });
});

describe('errors', () => {
  it.each<[LlmFaultSpec, string, boolean, number | undefined]>([
    [{ type: 'rate-limit', retryAfterMs: 1500 }, ModelErrorCode.RateLimited, true, 429],
    ['overloaded', ModelErrorCode.Overloaded, true, 503],
    [{ type: 'overloaded', status: 529 }, ModelErrorCode.Overloaded, true, 529],
    ['server-error', ModelErrorCode.ServerError, true, 500],
    [{ type: 'server-error', status: 502 }, ModelErrorCode.ServerError, true, 502],
    ['context-length', ModelErrorCode.ContextLength, false, 400],
    ['content-filter', ModelErrorCode.ContentFiltered, false, 400],
    [{ type: 'content-filter', as: 'finish-reason' }, ModelErrorCode.ContentFiltered, false, undefined],
    ['auth', ModelErrorCode.Auth, false, 401],
    [{ type: 'status', status: 403 }, ModelErrorCode.Auth, false, 403],
    [{ type: 'status', status: 404, code: 'model_not_found' }, ModelErrorCode.BadRequest, false, 404],
    [{ type: 'status', status: 422 }, ModelErrorCode.BadRequest, false, 422],
    [{ type: 'status', status: 408 }, ModelErrorCode.Timeout, true, 408],
    [{ type: 'status', status: 429, code: 'insufficient_quota' }, ModelErrorCode.RateLimited, false, 429],
    ['malformed', ModelErrorCode.MalformedResponse, true, undefined],
    ['drop-stream', ModelErrorCode.StreamBroken, true, undefined],
  ])('%o -> %s (retryable %s), one request only', async (fault, code, retryable, status) => {
    server.fault('small', fault);
    const err = await failure(provider.chat(ask('x')));
    expect(err.code).toBe(code);
    expect(err.retryable).toBe(retryable);
    expect(err.status).toBe(status);
    expect(TroupeError.is(err, code)).toBe(true);
    expect(ModelError.is(err)).toBe(true);
    expect(server.requests).toHaveLength(1);
  });

  it('the same faults on a stream carry the same codes', async () => {
    for (const [fault, code] of [
      ['rate-limit', ModelErrorCode.RateLimited],
      ['overloaded', ModelErrorCode.Overloaded],
      ['context-length', ModelErrorCode.ContextLength],
      [{ type: 'content-filter', as: 'finish-reason' }, ModelErrorCode.ContentFiltered],
      ['auth', ModelErrorCode.Auth],
    ] as [LlmFaultSpec, string][]) {
      server.fault('small', fault, { times: 1 });
      expect((await failure(collect(provider.stream(ask('x'))))).code).toBe(code);
    }
    expect(server.requests).toHaveLength(5);
  });

  it('429: retryAfterMs from retry-after-ms, else from Retry-After seconds', async () => {
    server.fault('small', { type: 'rate-limit', retryAfterMs: 1500 }, { times: 1 });
    expect((await failure(provider.chat(ask('x')))).retryAfterMs).toBe(1500);
    server.fault('small', { type: 'status', status: 429, headers: { 'retry-after': '3' } }, { times: 1 });
    const err = await failure(provider.chat(ask('x')));
    expect(err.code).toBe(ModelErrorCode.RateLimited);
    expect(err.retryAfterMs).toBe(3000);
    expect(err.data).toMatchObject({ status: 429, retryAfterMs: 3000, retryable: true, model: 'small' });
  });

  it('a wrong key is MODEL_AUTH', async () => {
    await start({ apiKey: 'right' });
    expect((await failure(provider.chat(ask('x')))).code).toBe(ModelErrorCode.Auth);
    const good = openaiProvider({ baseURL: server.url, apiKey: 'right', model: 'small' });
    expect((await good.chat(ask('x'))).text).toBe('Echo: x');
  });

  it('reads the key from apiKeyEnv, and refuses an unset one', async () => {
    await start({ apiKey: 'from-env' });
    process.env.TROUPE_TEST_LLM_KEY = 'from-env';
    try {
      const fromEnv = openaiProvider({
        baseURL: server.url,
        apiKeyEnv: 'TROUPE_TEST_LLM_KEY',
        model: 'small',
      });
      expect((await fromEnv.chat(ask('x'))).text).toBe('Echo: x');
    } finally {
      delete process.env.TROUPE_TEST_LLM_KEY;
    }
    expect(() => openaiProvider({ baseURL: server.url, apiKeyEnv: 'TROUPE_TEST_LLM_KEY' })).toThrow(
      InvalidOptionsError,
    );
    expect(() => openaiProvider({ baseURL: 'localhost:1234' })).toThrow(InvalidOptionsError);
  });

  it('a hang with timeoutMs: MODEL_TIMEOUT, retryable, on time', async () => {
    server.fault('small', 'hang');
    const t0 = performance.now();
    const err = await failure(provider.chat(ask('x'), { timeoutMs: 100 }));
    expect(err.code).toBe(ModelErrorCode.Timeout);
    expect(err.retryable).toBe(true);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(95);
    expect(performance.now() - t0).toBeLessThan(1000);
    const slow = openaiProvider({ baseURL: server.url, model: 'small', timeoutMs: 80 });
    expect((await failure(slow.embed('x'))).code).toBe(ModelErrorCode.Timeout);
  });

  it('a hang aborted by the caller: MODEL_ABORTED; an already aborted signal sends nothing', async () => {
    server.fault('small', 'hang');
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const err = await failure(provider.chat(ask('x'), { signal: controller.signal, timeoutMs: 5000 }));
    expect(err.code).toBe(ModelErrorCode.Aborted);
    expect(err.retryable).toBe(false);
    expect(server.requests).toHaveLength(1);
    const pre = await failure(provider.chat(ask('x'), { signal: AbortSignal.abort() }));
    expect(pre.code).toBe(ModelErrorCode.Aborted);
    const preStream = await failure(collect(provider.stream(ask('x'), { signal: AbortSignal.abort() })));
    expect(preStream.code).toBe(ModelErrorCode.Aborted);
    expect(server.requests).toHaveLength(1);
  });

  it('a closed port is MODEL_UNREACHABLE', async () => {
    const port = await freePort();
    const nowhere = openaiProvider({ baseURL: `http://127.0.0.1:${port}/v1`, model: 'small' });
    const err = await failure(nowhere.chat(ask('x')));
    expect(err.code).toBe(ModelErrorCode.Unreachable);
    expect(err.retryable).toBe(true);
    expect((await failure(collect(nowhere.stream(ask('x'))))).code).toBe(ModelErrorCode.Unreachable);
  });

  it('no model anywhere is MODEL_BAD_REQUEST before any request', async () => {
    const bare = openaiProvider({ baseURL: server.url });
    expect((await failure(bare.chat(ask('x')))).code).toBe(ModelErrorCode.BadRequest);
    expect(await failure(bare.embed('x'))).toBeInstanceOf(ModelError);
    expect(server.requests).toHaveLength(0);
  });

  it('retryability survives the wire', () => {
    const err = new ModelError(ModelErrorCode.RateLimited, 'slow down', {
      retryAfterMs: 10,
      retryable: false,
    });
    const rebuilt = TroupeError.fromWire(TroupeError.toWire(err));
    expect(rebuilt).not.toBeInstanceOf(ModelError);
    expect(ModelError.is(rebuilt, ModelErrorCode.RateLimited)).toBe(true);
    expect(isRetryableModelError(rebuilt)).toBe(false);
    expect(isRetryableModelError(new ModelError(ModelErrorCode.Overloaded, 'x'))).toBe(true);
    expect(isRetryableModelError(new Error('x'))).toBe(false);
  });

  it('parses Retry-After as seconds, an HTTP date, or not at all', () => {
    const headers = (h: Record<string, string>) => new Headers(h);
    expect(retryAfterMsFrom(headers({ 'retry-after': '2.5' }))).toBe(2500);
    expect(retryAfterMsFrom(headers({ 'retry-after-ms': '120', 'retry-after': '9' }))).toBe(120);
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMsFrom(headers({ 'retry-after': 'Thu, 01 Jan 2026 00:00:04 GMT' }), now)).toBe(4000);
    expect(retryAfterMsFrom(headers({ 'retry-after': 'soon' }))).toBeUndefined();
    expect(retryAfterMsFrom(headers({}))).toBeUndefined();
  });
});
