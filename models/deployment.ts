// A deployment: one model on one endpoint, with its weight, rpm/tpm limits, prices, breaker and the live
// figures the strategies read (calls in flight, latency).

import { InvalidOptionsError } from '../runtime/index.js';
import { CircuitBreaker, type ResolvedBreaker } from './breaker.js';
import type { Pricing } from './estimate.js';
import { openaiProvider } from './openai-provider.js';
import { Pacer } from './pacer.js';
import type { ModelProvider } from './provider.js';

/** One deployment of a model group, as configured. */
export interface DeploymentConfig extends Pricing {
  /** Unique across the router: names the deployment in logs, spans and the shared breaker state. */
  id: string;
  /** A ready provider, or what makes an OpenAI-compatible one. */
  provider?: ModelProvider;
  baseURL?: string;
  /** The model this deployment serves (overrides the provider's default). */
  model?: string;
  /** The environment variable holding the key (read once, when the router is made). */
  apiKeyEnv?: string;
  /** Relative share of calls under the `weighted` strategy. @defaultValue 1 */
  weight?: number;
  /** Requests per minute this node sends at most. */
  rpm?: number;
  /** Tokens (estimated) per minute this node sends at most. */
  tpm?: number;
}

/** Weight of the newest sample in the latency average. */
const LATENCY_ALPHA = 0.3;

export class Deployment {
  readonly id: string;
  readonly group: string;
  readonly provider: ModelProvider;
  readonly model: string | undefined;
  readonly weight: number;
  readonly pricing: Pricing;
  readonly breaker: CircuitBreaker;
  readonly pacer: Pacer;
  inflight = 0;
  /** Average latency of successful calls, ms (undefined until one). */
  latencyMs: number | undefined;

  constructor(group: string, config: DeploymentConfig, breaker: ResolvedBreaker) {
    const field = `groups.${group}.deployments.${config.id}`;
    if (typeof config.id !== 'string' || config.id === '')
      throw new InvalidOptionsError(`groups.${group}.deployments`, 'each deployment needs an id');
    this.id = config.id;
    this.group = group;
    if (config.provider !== undefined) {
      this.provider = config.provider;
    } else if (config.baseURL !== undefined) {
      this.provider = openaiProvider({
        baseURL: config.baseURL,
        ...(config.apiKeyEnv === undefined ? {} : { apiKeyEnv: config.apiKeyEnv }),
        ...(config.model === undefined ? {} : { model: config.model }),
      });
    } else {
      throw new InvalidOptionsError(field, 'give a provider, or a baseURL (with model and apiKeyEnv)');
    }
    this.model = config.model ?? this.provider.model;
    this.weight = config.weight ?? 1;
    if (!(this.weight > 0)) throw new InvalidOptionsError(`${field}.weight`, 'expected a positive number');
    for (const key of ['rpm', 'tpm'] as const) {
      const v = config[key];
      if (v !== undefined && !(Number.isInteger(v) && v > 0))
        throw new InvalidOptionsError(`${field}.${key}`, 'expected a positive integer');
    }
    this.pricing = { inputPricePer1k: config.inputPricePer1k, outputPricePer1k: config.outputPricePer1k };
    this.breaker = new CircuitBreaker(breaker);
    this.pacer = new Pacer(config.rpm, config.tpm);
  }

  observeLatency(ms: number): void {
    this.latencyMs =
      this.latencyMs === undefined ? ms : this.latencyMs + LATENCY_ALPHA * (ms - this.latencyMs);
  }
}
