// An offline OpenAI-compatible model server on node:http: scripted chat completions (JSON and SSE, tool calls,
// structured output), deterministic embeddings, injectable faults, a request log and billed-token counters.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { handleChat, type ServerState, sleep, writable } from './chat.js';
import { DEFAULT_EMBEDDING_DIMENSIONS, embedText, encodeEmbedding, inputTexts } from './embeddings.js';
import { errorBody, FaultTable, type LlmFaultSpec, sendFaultError, sendJson } from './faults.js';
import {
  estimateTokens,
  type LlmBilled,
  type LlmEndpoint,
  type LlmRequestRecord,
  RequestLog,
} from './log.js';
import { type LlmReply, type LlmScriptFn, type ScriptOptions, ScriptTable } from './scripts.js';

/** Bodies above this are refused with 413 (the default of `maxBodyBytes`). */
export const DEFAULT_LLM_MAX_BODY_BYTES = 1024 * 1024;

export interface LlmServerOptions {
  /** @defaultValue 0 (a free port) */
  port?: number;
  /** @defaultValue '127.0.0.1' */
  host?: string;
  /** When set, requests must carry `Authorization: Bearer <apiKey>` (or `api-key: <apiKey>`), else 401. */
  apiKey?: string;
  /** Milliseconds before each answer: one value for every model, or per model (`*` for the rest). */
  latencyMs?: number | Record<string, number>;
  /** Pause between SSE chunks. @defaultValue 0 */
  chunkDelayMs?: number;
  /** Models `/v1/models` lists besides those scripted or faulted. Any model name is served. */
  models?: string[];
  /** @defaultValue 1 MiB */
  maxBodyBytes?: number;
  /** @defaultValue 256 */
  embeddingDimensions?: number;
}

/** A running offline model server. `url` is the base URL to give an OpenAI client (it ends in `/v1`). */
export interface LlmServer {
  readonly url: string;
  readonly port: number;
  /** Every request so far, in arrival order. */
  readonly requests: readonly LlmRequestRecord[];
  /** Tokens billed so far, in total and per model (a snapshot). */
  readonly billed: LlmBilled;
  /**
   * Scripts `model`'s replies (`*`: every model without its own script). An array or a single reply is queued
   * after what is already queued; a function answers once the queue is empty. Unscripted requests get
   * `Echo: <last user message>` (or a value shaped like the requested JSON schema).
   */
  script(model: string, replies: LlmReply | LlmReply[] | LlmScriptFn, options?: ScriptOptions): void;
  /** Injects `fault` into `model`'s next `times` requests (default: every request until `clearFaults`). */
  fault(model: string, fault: LlmFaultSpec, options?: { times?: number }): void;
  clearFaults(model?: string): void;
  /** Sets `model`'s latency (`*`: the default for every model). */
  latency(model: string, ms: number): void;
  /** Forgets scripts, faults, latencies set by `latency()`, the request log and the billing. */
  reset(): void;
  /** Stops listening and cuts every open connection (hanging requests included). */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

class OfflineLlmServer implements LlmServer, ServerState {
  readonly log = new RequestLog();
  readonly faults = new FaultTable();
  readonly scripts = new ScriptTable();
  readonly hanging = new Set<ServerResponse>();
  readonly chunkDelayMs: number;
  readonly embeddingDimensions: number;
  readonly #server: Server;
  readonly #options: LlmServerOptions;
  readonly #maxBody: number;
  #latency = new Map<string, number>();
  #closing: Promise<void> | undefined;
  url = '';
  port = 0;

  constructor(options: LlmServerOptions) {
    this.#options = options;
    this.chunkDelayMs = options.chunkDelayMs ?? 0;
    this.embeddingDimensions = options.embeddingDimensions ?? DEFAULT_EMBEDDING_DIMENSIONS;
    this.#maxBody = options.maxBodyBytes ?? DEFAULT_LLM_MAX_BODY_BYTES;
    this.#resetLatency();
    this.#server = createServer((req, res) => {
      res.on('error', () => {});
      this.#handle(req, res).catch((err: unknown) => {
        if (!writable(res)) return;
        if (res.headersSent) res.destroy();
        else sendJson(res, 500, errorBody(`offline server bug: ${String(err)}`, 'server_error', null));
      });
    });
  }

  async listen(): Promise<void> {
    const host = this.#options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#options.port ?? 0, host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    this.port = (this.#server.address() as AddressInfo).port;
    this.url = `http://${host}:${this.port}/v1`;
  }

  get requests(): readonly LlmRequestRecord[] {
    return this.log.records;
  }

  get billed(): LlmBilled {
    return this.log.billed();
  }

  script(model: string, replies: LlmReply | LlmReply[] | LlmScriptFn, options?: ScriptOptions): void {
    this.scripts.set(model, replies, options);
  }

  fault(model: string, fault: LlmFaultSpec, options: { times?: number } = {}): void {
    this.faults.arm(model, fault, options.times);
  }

  clearFaults(model?: string): void {
    this.faults.clear(model);
  }

  latency(model: string, ms: number): void {
    this.#latency.set(model, ms);
  }

  latencyOf(model: string): number {
    return this.#latency.get(model) ?? this.#latency.get('*') ?? 0;
  }

  reset(): void {
    this.scripts.clear();
    this.faults.clear();
    this.log.reset();
    this.#resetLatency();
  }

  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      for (const res of this.hanging) res.destroy();
      this.#server.closeAllConnections();
    });
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #resetLatency(): void {
    const latency = this.#options.latencyMs ?? 0;
    this.#latency = new Map(typeof latency === 'number' ? [['*', latency]] : Object.entries(latency));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname.replace(/\/+$/, '');
    const method = req.method ?? 'GET';
    const route = ROUTES[path] ?? (path.startsWith('/v1/models/') ? ROUTES['/v1/models'] : undefined);
    const endpoint: LlmEndpoint = route?.endpoint ?? 'other';
    const open = (body: unknown) => {
      const b = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
      const model = typeof b.model === 'string' ? b.model : undefined;
      return this.log.open({
        method,
        path,
        endpoint,
        model,
        stream: b.stream === true,
        headers: req.headers,
        body,
      });
    };
    if (route === undefined) {
      req.resume();
      return this.#fail(open(undefined), res, 404, `Unknown path ${path}`, 'unknown_url');
    }
    if (method !== route.method) {
      req.resume();
      res.setHeader('allow', route.method);
      return this.#fail(
        open(undefined),
        res,
        405,
        `${method} is not allowed on ${path}`,
        'method_not_allowed',
      );
    }
    if (!this.#authorized(req)) {
      req.resume();
      return this.#fail(open(undefined), res, 401, 'Incorrect API key provided.', 'invalid_api_key');
    }
    if (endpoint === 'models') {
      open(undefined).status = 200;
      return this.#models(res, path);
    }
    const raw = await this.#readBody(req);
    if (raw === 'too-large') {
      res.setHeader('connection', 'close');
      return this.#fail(
        open(undefined),
        res,
        413,
        `Request body over ${this.#maxBody} bytes`,
        'payload_too_large',
      );
    }
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      return this.#fail(open(undefined), res, 400, 'The request body is not valid JSON.', 'invalid_json');
    }
    const record = open(body);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      return this.#fail(record, res, 400, 'The request body must be a JSON object.', 'invalid_request');
    }
    if (endpoint === 'chat') return handleChat(this, res, body as Record<string, unknown>, record);
    return this.#embeddings(res, body as Record<string, unknown>, record);
  }

  #fail(record: LlmRequestRecord, res: ServerResponse, status: number, message: string, code: string): void {
    record.status = status;
    sendJson(res, status, errorBody(message, 'invalid_request_error', code));
  }

  #authorized(req: IncomingMessage): boolean {
    const key = this.#options.apiKey;
    if (key === undefined) return true;
    return req.headers.authorization === `Bearer ${key}` || req.headers['api-key'] === key;
  }

  /** The body as text, or 'too-large' once it passes the limit (the rest is then not read). */
  #readBody(req: IncomingMessage): Promise<string | 'too-large'> {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > this.#maxBody) return Promise.resolve('too-large');
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > this.#maxBody) {
          req.removeAllListeners('data');
          req.resume();
          resolve('too-large');
        } else chunks.push(chunk);
      });
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });
  }

  #modelIds(): string[] {
    const ids = new Set([...(this.#options.models ?? []), ...this.scripts.models(), ...this.faults.models()]);
    return [...ids].sort();
  }

  #models(res: ServerResponse, path: string): void {
    const entry = (id: string) => ({ id, object: 'model', created: 0, owned_by: 'troupe' });
    if (path === '/v1/models') {
      sendJson(res, 200, { object: 'list', data: this.#modelIds().map(entry) });
    } else {
      sendJson(res, 200, entry(decodeURIComponent(path.slice('/v1/models/'.length))));
    }
  }

  async #embeddings(
    res: ServerResponse,
    body: Record<string, unknown>,
    record: LlmRequestRecord,
  ): Promise<void> {
    const texts = inputTexts(body.input);
    const dimensions = body.dimensions ?? this.embeddingDimensions;
    const format = body.encoding_format ?? 'float';
    const problem =
      typeof body.model !== 'string' || body.model === ''
        ? "'model' is required"
        : texts === undefined
          ? "'input' must be a string, an array of strings, or token arrays"
          : !Number.isInteger(dimensions) || (dimensions as number) < 1 || (dimensions as number) > 8192
            ? "'dimensions' must be an integer from 1 to 8192"
            : format !== 'float' && format !== 'base64'
              ? "'encoding_format' must be 'float' or 'base64'"
              : undefined;
    if (problem !== undefined || texts === undefined) {
      return this.#fail(record, res, 400, problem ?? 'bad input', 'invalid_request');
    }
    const model = body.model as string;
    const fault = this.faults.take(model);
    record.fault = fault?.type;
    const delay = this.latencyOf(model);
    if (delay > 0) await sleep(delay);
    if (!writable(res)) return;
    if (fault !== undefined) {
      const status = sendFaultError(res, fault, model);
      if (status !== undefined) {
        record.status = status;
        return;
      }
      if (fault.type === 'hang') {
        this.hanging.add(res);
        res.once('close', () => this.hanging.delete(res));
        return;
      }
    }
    const inputTokens = texts.reduce((sum, text) => sum + estimateTokens(text), 0);
    const data = texts.map((text, index) => ({
      object: 'embedding',
      index,
      embedding: encodeEmbedding(embedText(text, dimensions as number), format as 'float' | 'base64'),
    }));
    const text = JSON.stringify({
      object: 'list',
      data,
      model,
      usage: { prompt_tokens: inputTokens, total_tokens: inputTokens },
    });
    this.log.bill(record, inputTokens, 0, 0);
    record.status = 200;
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(text)),
    });
    if (fault?.type === 'malformed') res.end(text.slice(0, Math.floor(text.length / 2)));
    else if (fault?.type === 'drop-stream')
      res.write(text.slice(0, Math.floor(text.length / 2)), () => res.destroy());
    else res.end(text);
  }
}

const ROUTES: Record<string, { method: string; endpoint: LlmEndpoint }> = {
  '/v1/chat/completions': { method: 'POST', endpoint: 'chat' },
  '/v1/embeddings': { method: 'POST', endpoint: 'embeddings' },
  '/v1/models': { method: 'GET', endpoint: 'models' },
};

/**
 * Starts an offline OpenAI-compatible model server on a free loopback port.
 *
 * @example
 * ```ts
 * await using llm = await startLlmServer();
 * llm.script('small', ['Hello!', { toolCalls: [{ name: 'lookup', arguments: { q: 'x' } }] }]);
 * llm.fault('small', { type: 'rate-limit', retryAfterMs: 200 }, { times: 1 });
 * const client = new OpenAI({ baseURL: llm.url, apiKey: 'test', maxRetries: 0 });
 * ```
 */
export async function startLlmServer(options: LlmServerOptions = {}): Promise<LlmServer> {
  const server = new OfflineLlmServer(options);
  await server.listen();
  return server;
}
