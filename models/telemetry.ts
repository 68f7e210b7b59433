// What the router tells about each call, for spans and metrics: a hook called at the start of a call and
// ended with its outcome, and the GenAI semantic-convention attributes of that outcome. The runtime's Tracing
// port speaks of messages and tasks; a model call is neither, so it has this hook of its own.

import type { Usage } from './usage.js';

export type ModelOperation = 'chat' | 'embeddings';

/** A call as it starts. */
export interface ModelCallInfo {
  readonly operation: ModelOperation;
  /** The model group asked for. */
  readonly group: string;
  readonly stream: boolean;
  readonly budget:
    | { agent?: string | undefined; team?: string | undefined; tenant?: string | undefined }
    | undefined;
}

/** A call as it ended (success or failure). */
export interface ModelCallOutcome {
  /** The deployment that answered (or failed last). */
  deployment: string | undefined;
  /** Its provider family (`openai`, ...). */
  system: string | undefined;
  /** The model sent. */
  requestModel: string | undefined;
  /** The model as the server named it. */
  responseModel: string | undefined;
  usage: Usage | undefined;
  /** Priced with the deployment's prices (0 when it has none). */
  cost: number;
  /** Attempts after the first, all groups together. */
  retries: number;
  /** The group that answered when it is not the one asked for. */
  fallback: string | undefined;
  /** Served from the response cache. */
  cached: boolean;
  error: unknown;
}

/** The call's span, as the hook made it. */
export interface ModelCallObserver {
  /** The W3C `traceparent` to send with the HTTP call (and to log with retries). */
  readonly traceparent?: string | undefined;
  end(outcome: ModelCallOutcome, attributes: Record<string, string | number | boolean>): void;
}

/**
 * A hook for spans: `onCall` runs as each router call starts and returns what ends it. Adapt it to
 * OpenTelemetry by starting a CLIENT span named `${operation} ${group}` and setting the attributes given to
 * `end` (see {@link genAiAttributes}).
 */
export interface ModelTelemetry {
  onCall(info: ModelCallInfo): ModelCallObserver | undefined;
}

/** The trace id in a `traceparent`, for log lines. */
export function traceIdOf(traceparent: string | undefined): string | undefined {
  return traceparent?.split('-')[1];
}

/** The GenAI semantic-convention attributes of a call (plus troupe's own). */
export function genAiAttributes(
  info: ModelCallInfo,
  outcome: ModelCallOutcome,
): Record<string, string | number | boolean> {
  const a: Record<string, string | number | boolean> = {
    'gen_ai.operation.name': info.operation,
    'troupe.model.group': info.group,
    'troupe.model.retries': outcome.retries,
    'troupe.model.cost': outcome.cost,
    'troupe.model.cached': outcome.cached,
  };
  if (outcome.system !== undefined) {
    a['gen_ai.provider.name'] = outcome.system;
    a['gen_ai.system'] = outcome.system;
  }
  if (outcome.requestModel !== undefined) a['gen_ai.request.model'] = outcome.requestModel;
  if (outcome.responseModel !== undefined) a['gen_ai.response.model'] = outcome.responseModel;
  if (outcome.usage !== undefined) {
    a['gen_ai.usage.input_tokens'] = outcome.usage.inputTokens;
    a['gen_ai.usage.output_tokens'] = outcome.usage.outputTokens;
  }
  if (outcome.deployment !== undefined) a['troupe.model.deployment'] = outcome.deployment;
  if (outcome.fallback !== undefined) a['troupe.model.fallback'] = outcome.fallback;
  if (outcome.error !== undefined) {
    const code = (outcome.error as { code?: unknown } | null)?.code;
    a['error.type'] = typeof code === 'string' ? code : 'Error';
  }
  return a;
}
