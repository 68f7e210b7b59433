// The model router: named groups of deployments behind one `chat`/`stream`/`embed`, with strategies, retries,
// per-deployment breakers and cooldowns (shared by a fleet through a KeyValueStore), fallbacks, budgets, an
// optional response cache, and a span hook per call.

import {
  type Clock,
  createLogger,
  InvalidOptionsError,
  type Logger,
  type LogLevel,
  systemClock,
  TroupeError,
} from '../runtime/index.js';
import { resolveBreaker } from './breaker.js';
import type { BudgetLedger } from './budget.js';
import { ResponseCache } from './cache.js';
import {
  type AttemptHandle,
  type AttemptSpec,
  type CallSettings,
  type CallState,
  execute,
  type Group,
  type RouterCore,
} from './call.js';
import { Deployment } from './deployment.js';
import { ModelError, ModelErrorCode } from './errors.js';
import { estimateCall, priceOf } from './estimate.js';
import type { ChatChunk, ChatRequest, ChatResult, EmbedResult } from './provider.js';
import { resolveRetry } from './retry.js';
import { RouterErrorCode } from './router-errors.js';
import type { ModelRouter, ModelRouterOptions, RouterCallOptions } from './router-options.js';
import { type HealthTarget, SharedHealth } from './shared-health.js';
import { STRATEGIES } from './strategies.js';
import {
  genAiAttributes,
  type ModelCallInfo,
  type ModelCallObserver,
  type ModelCallOutcome,
  type ModelTelemetry,
  traceIdOf,
} from './telemetry.js';
import type { Usage } from './usage.js';

export type {
  ModelGroupConfig,
  ModelRouter,
  ModelRouterOptions,
  RouterCallOptions,
} from './router-options.js';

function defaultLogger(): Logger {
  const level = process.env.TROUPE_LOG_LEVEL;
  return createLogger({ level: (level === undefined || level === '' ? 'warn' : level) as LogLevel });
}

class Router implements ModelRouter, RouterCore {
  readonly groups = new Map<string, Group>();
  readonly retry;
  readonly cooldownMs: number;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly budget: BudgetLedger | undefined;
  readonly shared: SharedHealth | undefined;
  readonly attemptTimeoutMs: number | undefined;
  readonly #cache: ResponseCache | undefined;
  readonly #telemetry: ModelTelemetry | undefined;
  readonly #targets = new Map<Deployment, HealthTarget>();

  constructor(options: ModelRouterOptions) {
    if (typeof options !== 'object' || options === null)
      throw new InvalidOptionsError('options', 'expected an object');
    this.retry = resolveRetry(options.retries);
    const breaker = resolveBreaker(options.breaker);
    this.cooldownMs = breaker.cooldownMs;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? defaultLogger();
    this.budget = options.budget;
    this.attemptTimeoutMs = options.attemptTimeoutMs;
    this.#telemetry = options.telemetry;
    this.#cache = options.cache === undefined ? undefined : new ResponseCache(options.cache);
    const ids = new Set<string>();
    for (const [name, config] of Object.entries(options.groups ?? {})) {
      if (!Array.isArray(config?.deployments) || config.deployments.length === 0)
        throw new InvalidOptionsError(`groups.${name}.deployments`, 'expected at least one deployment');
      const strategy = config.strategy ?? 'weighted';
      if (!STRATEGIES.includes(strategy))
        throw new InvalidOptionsError(`groups.${name}.strategy`, `expected one of ${STRATEGIES.join(', ')}`);
      const deployments = config.deployments.map((c) => new Deployment(name, c, breaker));
      for (const d of deployments) {
        if (ids.has(d.id))
          throw new InvalidOptionsError(`groups.${name}.deployments`, `duplicate deployment id ${d.id}`);
        ids.add(d.id);
        this.#targets.set(d, {
          id: d.id,
          breaker: d.breaker,
          onRemote: (state, by) =>
            this.logger.info('model breaker changed on another node', {
              deployment: d.id,
              group: name,
              state,
              by,
            }),
        });
      }
      this.groups.set(name, { name, config, strategy, deployments });
    }
    if (this.groups.size === 0) throw new InvalidOptionsError('groups', 'expected at least one model group');
    for (const group of this.groups.values())
      for (const kind of ['fallbacks', 'contextFallbacks', 'contentFallbacks'] as const)
        for (const g of group.config[kind] ?? [])
          if (!this.groups.has(g))
            throw new InvalidOptionsError(`groups.${group.name}.${kind}`, `unknown group ${g}`);
    const id = options.id ?? `router-${Math.random().toString(36).slice(2, 10)}`;
    this.shared =
      options.shared === undefined
        ? undefined
        : new SharedHealth(options.shared, id, this.logger, this.#targets.values());
  }

  target(d: Deployment): HealthTarget {
    return this.#targets.get(d) as HealthTarget;
  }

  transition(d: Deployment, t: { to: string; until: number } | undefined): void {
    if (t === undefined) return;
    const fields = {
      deployment: d.id,
      group: d.group,
      state: t.to,
      ...(t.to === 'closed' ? {} : { until: t.until }),
    };
    if (t.to === 'open') this.logger.warn('model circuit opened', fields);
    else this.logger.info(`model circuit ${t.to}`, fields);
    if (t.to !== 'half-open') this.shared?.publish(this.target(d));
  }

  async chat(group: string, request: ChatRequest, options: RouterCallOptions = {}): Promise<ChatResult> {
    const call = this.#begin('chat', group, false, options);
    try {
      let key: string | undefined;
      if (this.#cache !== undefined) {
        key = this.#cache.keyOf(group, request);
        const hit = await this.#cache.get(key, this.clock.now());
        if (hit !== undefined) {
          call.outcome.cached = true;
          call.outcome.responseModel = hit.model;
          return hit;
        }
      }
      const handle = await execute(this, group, chatSpec(request), call.settings, call.state);
      const result = handle.value;
      await this.#succeed(call, handle, result.usage, result.model);
      if (key !== undefined) this.#cache?.set(key, result, this.clock.now());
      return result;
    } catch (err) {
      call.outcome.error = err;
      throw err;
    } finally {
      this.#end(call);
    }
  }

  stream(group: string, request: ChatRequest, options: RouterCallOptions = {}): AsyncIterable<ChatChunk> {
    return this.#stream(group, request, options);
  }

  async *#stream(group: string, request: ChatRequest, options: RouterCallOptions): AsyncGenerator<ChatChunk> {
    const call = this.#begin('chat', group, true, options);
    let handle: AttemptHandle<{ it: AsyncIterator<ChatChunk>; first: IteratorResult<ChatChunk> }> | undefined;
    let finished = false;
    try {
      handle = await execute(this, group, streamSpec(request), call.settings, call.state);
      const { it } = handle.value;
      let next = handle.value.first;
      let yielded = false;
      try {
        while (!next.done) {
          const chunk = next.value;
          if (chunk.type === 'done') {
            await this.#succeed(call, handle, chunk.result.usage, chunk.result.model);
            finished = true;
          }
          yield chunk;
          yielded = true;
          if (finished) return;
          next = await it.next();
        }
        throw new ModelError(ModelErrorCode.StreamBroken, 'the stream ended without its result');
      } catch (err) {
        await handle.fail(err);
        if (
          !yielded ||
          TroupeError.is(err, ModelErrorCode.StreamBroken) ||
          TroupeError.is(err, ModelErrorCode.Aborted)
        )
          throw err;
        // Something was already yielded: a failover would repeat it, so the stream fails with a code.
        throw new ModelError(
          ModelErrorCode.StreamBroken,
          `stream broken after it started: ${(err as Error).message}`,
          {},
          err,
        );
      }
    } catch (err) {
      call.outcome.error = err;
      throw err;
    } finally {
      if (handle !== undefined && !finished) {
        // The consumer broke out early: the provider's stream is cancelled, the call ends unbilled-for-health.
        await handle.value.it.return?.();
        await handle.fail(new ModelError(ModelErrorCode.Aborted, 'stream closed by the consumer'));
      }
      this.#end(call);
    }
  }

  async embed(
    group: string,
    input: string | readonly string[],
    options: RouterCallOptions & { dimensions?: number } = {},
  ): Promise<EmbedResult> {
    const call = this.#begin('embeddings', group, false, options);
    try {
      const inputs = typeof input === 'string' ? [input] : input;
      let tokens = 0;
      for (const text of inputs) tokens += Math.ceil(text.length / 4);
      const spec: AttemptSpec<EmbedResult> = {
        estimate: (d) => ({ inputTokens: tokens, outputTokens: 0, cost: priceOf(d.pricing, tokens, 0) }),
        run: (d, o) =>
          d.provider.embed(input, {
            ...o,
            ...(d.model === undefined ? {} : { model: d.model }),
            ...(options.dimensions === undefined ? {} : { dimensions: options.dimensions }),
          }),
      };
      const handle = await execute(this, group, spec, call.settings, call.state);
      await this.#succeed(call, handle, handle.value.usage, handle.value.model);
      return handle.value;
    } catch (err) {
      call.outcome.error = err;
      throw err;
    } finally {
      this.#end(call);
    }
  }

  health(): ReturnType<ModelRouter['health']> {
    const out: ReturnType<ModelRouter['health']> = {};
    for (const g of this.groups.values())
      for (const d of g.deployments)
        out[d.id] = {
          group: g.name,
          state: d.breaker.state,
          until: d.breaker.until,
          cooldownUntil: d.breaker.cooldownUntil,
          inflight: d.inflight,
        };
    return out;
  }

  async close(): Promise<void> {
    this.shared?.close();
  }

  #begin(
    operation: ModelCallInfo['operation'],
    group: string,
    stream: boolean,
    options: RouterCallOptions,
  ): ActiveCall {
    if (!this.groups.has(group))
      throw new TroupeError(RouterErrorCode.UnknownGroup, `unknown model group ${group}`, {
        data: { group },
      });
    const info: ModelCallInfo = { operation, group, stream, budget: options.budget };
    const observer = this.#telemetry?.onCall(info);
    const traceparent = observer?.traceparent;
    let headers = options.headers;
    if (traceparent !== undefined) headers = { ...headers, traceparent };
    const settings: CallSettings = {
      signal: options.signal,
      deadline: stream || options.timeoutMs === undefined ? undefined : this.clock.now() + options.timeoutMs,
      timeoutMs: stream ? options.timeoutMs : undefined,
      headers,
      budget: options.budget,
      traceId: traceIdOf(traceparent),
    };
    const state: CallState = { retries: 0, fallback: undefined, deployment: undefined };
    const outcome: ModelCallOutcome = {
      deployment: undefined,
      system: undefined,
      requestModel: undefined,
      responseModel: undefined,
      usage: undefined,
      cost: 0,
      retries: 0,
      fallback: undefined,
      cached: false,
      error: undefined,
    };
    return { info, observer, settings, state, outcome };
  }

  async #succeed(
    call: ActiveCall,
    handle: AttemptHandle<unknown>,
    usage: Usage | undefined,
    model: string,
  ): Promise<void> {
    const cost = await handle.succeed(usage);
    call.outcome.usage = usage;
    call.outcome.cost = cost.cost;
    call.outcome.responseModel = model;
  }

  #end(call: ActiveCall): void {
    if (call.observer === undefined) return;
    const { outcome, state } = call;
    outcome.retries = state.retries;
    outcome.fallback = state.fallback;
    const d = state.deployment;
    if (d !== undefined) {
      outcome.deployment = d.id;
      outcome.system = d.provider.system;
      outcome.requestModel = d.model;
    }
    try {
      call.observer.end(outcome, genAiAttributes(call.info, outcome));
    } catch (err) {
      this.logger.warn('model telemetry hook threw', { err });
    }
  }
}

interface ActiveCall {
  info: ModelCallInfo;
  observer: ModelCallObserver | undefined;
  settings: CallSettings;
  state: CallState;
  outcome: ModelCallOutcome;
}

function withModel(request: ChatRequest, d: Deployment): ChatRequest {
  return d.model === undefined || request.model === d.model ? request : { ...request, model: d.model };
}

function chatSpec(request: ChatRequest): AttemptSpec<ChatResult> {
  return {
    estimate: (d) => estimateCall(request, d.pricing),
    run: (d, o) => d.provider.chat(withModel(request, d), o),
  };
}

function streamSpec(
  request: ChatRequest,
): AttemptSpec<{ it: AsyncIterator<ChatChunk>; first: IteratorResult<ChatChunk> }> {
  return {
    estimate: (d) => estimateCall(request, d.pricing),
    // The first chunk is awaited inside the attempt: a stream that fails before it fails over like a chat.
    run: async (d, o) => {
      const it = d.provider.stream(withModel(request, d), o)[Symbol.asyncIterator]();
      return { it, first: await it.next() };
    },
  };
}

/**
 * A router over named groups of model deployments.
 *
 * @example
 * const router = modelRouter({
 *   groups: {
 *     fast: { deployments: [{ id: 'mini-a', baseURL, model: 'gpt-4.1-mini', apiKeyEnv: 'OPENAI_API_KEY' }], fallbacks: ['backup'] },
 *     backup: { deployments: [{ id: 'local', baseURL: 'http://127.0.0.1:11434/v1', model: 'llama3' }] },
 *   },
 *   shared: await natsKeyValue({ servers }),
 * });
 * const { text } = await router.chat('fast', { messages: [{ role: 'user', content: 'Hi' }] }, { timeoutMs: 30_000 });
 */
export function modelRouter(options: ModelRouterOptions): ModelRouter {
  return new Router(options);
}
