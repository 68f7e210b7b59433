// Spans for agent steps and tool calls through the same hook the model router reports to (models'
// `ModelTelemetry`, e.g. `otelModelTelemetry()` from troupe/telemetry): `invoke_agent <agent>` per step and
// `execute_tool <tool>` per tool call, with GenAI semantic-convention attributes. Absent: one branch per span.

import type { ModelCallOutcome, ModelTelemetry } from '../../models/index.js';

export type SpanAttributes = Record<string, string | number | boolean>;

export interface AgentSpan {
  end(attributes: SpanAttributes, error?: unknown): void;
}

const NONE: ModelCallOutcome = {
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

/** Starts a span named `<operation> <name>`, or returns undefined without a hook (or an unsampled one). */
export function startSpan(
  telemetry: ModelTelemetry | undefined,
  operation: 'invoke_agent' | 'execute_tool' | 'retrieve_memory',
  name: string,
  attributes: SpanAttributes,
): AgentSpan | undefined {
  if (telemetry === undefined) return undefined;
  const observer = telemetry.onCall({
    operation: operation as never, // the hook names spans `<operation> <group>`: agents add two operations
    group: name,
    stream: false,
    budget: undefined,
  });
  if (observer === undefined) return undefined;
  return {
    end(extra, error) {
      const all: SpanAttributes = { 'gen_ai.operation.name': operation, ...attributes, ...extra };
      if (error !== undefined) {
        const code = (error as { code?: unknown } | null)?.code;
        all['error.type'] = typeof code === 'string' ? code : 'Error';
      }
      observer.end({ ...NONE, error }, all);
    },
  };
}
