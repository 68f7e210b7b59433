// Spans for model calls: an OpenTelemetry implementation of the model router's `telemetry` hook (troupe/models
// `ModelTelemetry`, matched by shape: telemetry/ does not import models/). One CLIENT span per router call,
// named `<operation> <model>`, with the GenAI semantic-convention attributes the router hands it when the call
// ends, and its W3C `traceparent` sent with the HTTP request.

import {
  context,
  propagation,
  SpanKind,
  SpanStatusCode,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';
import { TRACER_NAME } from './semconv.js';

/** Options of {@link otelModelTelemetry}. */
export interface OtelModelTelemetryOptions {
  /** @defaultValue the global tracer provider */
  tracerProvider?: TracerProvider;
  /** @defaultValue `troupe` */
  tracerName?: string;
}

/** The shape of troupe/models' `ModelTelemetry` this adapter fills. */
export interface ModelCallHook {
  onCall(info: { operation: string; group: string }):
    | {
        readonly traceparent?: string | undefined;
        end(
          outcome: { error: unknown; requestModel: string | undefined },
          attributes: Record<string, string | number | boolean>,
        ): void;
      }
    | undefined;
}

/**
 * Model-call spans on `@opentelemetry/api`: give it to `modelRouter({ telemetry: otelModelTelemetry() })`. With no
 * SDK registered, spans do not record and the hook returns nothing (no header, no work).
 */
export function otelModelTelemetry(options: OtelModelTelemetryOptions = {}): ModelCallHook {
  const name = options.tracerName ?? TRACER_NAME;
  return {
    onCall(info) {
      const provider = options.tracerProvider ?? trace.getTracerProvider();
      const parent = context.active();
      const span = provider
        .getTracer(name)
        .startSpan(
          `${info.operation} ${info.group}`,
          { kind: SpanKind.CLIENT, attributes: { 'gen_ai.operation.name': info.operation } },
          parent,
        );
      if (!span.isRecording()) return undefined;
      const carrier: Record<string, string> = {};
      propagation.inject(trace.setSpan(parent, span), carrier);
      return {
        traceparent: carrier.traceparent,
        end(outcome, attributes) {
          if (outcome.requestModel !== undefined)
            span.updateName(`${info.operation} ${outcome.requestModel}`);
          span.setAttributes(attributes);
          if (outcome.error !== undefined) {
            const err = outcome.error;
            span.recordException(err instanceof Error ? err : { message: String(err) });
            span.setStatus({
              code: SpanStatusCode.ERROR,
              message: err instanceof Error ? err.message : String(err),
            });
          }
          span.end();
        },
      };
    },
  };
}
