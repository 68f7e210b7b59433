// Model-call spans through otelModelTelemetry with a real OpenTelemetry SDK: one CLIENT span per router call with
// the GenAI attributes, its traceparent on the HTTP request the offline server received, failures as errors.

import { propagation } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { modelRouter } from '../../models/index.js';
import { otelModelTelemetry } from '../../telemetry/index.js';
import { type LlmServer, startLlmServer } from '../../testing/index.js';
import { ask, capturedLogger, failureCode, on } from '../helpers/models.js';

let server: LlmServer;
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
beforeEach(async () => {
  server = await startLlmServer();
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  exporter.reset();
});
afterEach(async () => {
  propagation.disable();
  await server.close();
});

describe('otelModelTelemetry', () => {
  it('records one span per call with GenAI attributes and sends its traceparent', async () => {
    const { logger, lines } = capturedLogger();
    server.fault('primary', 'server-error', { times: 1 });
    const router = modelRouter({
      groups: {
        g: { deployments: [on(server, 'primary', { inputPricePer1k: 1, outputPricePer1k: 1 })] },
      },
      retries: { attempts: 2, baseMs: 5, maxMs: 50, jitter: 0 },
      telemetry: otelModelTelemetry({ tracerProvider: provider }),
      logger,
    });
    const result = await router.chat('g', ask('trace me'));
    const [span] = exporter.getFinishedSpans();
    expect(span?.name).toBe('chat primary');
    expect(span?.kind).toBe(2); // CLIENT
    expect(span?.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': 'primary',
      'gen_ai.response.model': 'primary',
      'gen_ai.provider.name': 'openai',
      'gen_ai.usage.input_tokens': result.usage?.inputTokens,
      'gen_ai.usage.output_tokens': result.usage?.outputTokens,
      'troupe.model.deployment': 'primary',
      'troupe.model.retries': 1,
    });
    const traceId = span?.spanContext().traceId;
    // Both attempts carried the span's context; the retry's log line names the trace.
    for (const r of server.requests) expect(String(r.headers.traceparent)).toContain(traceId);
    expect(lines.find((l) => l.msg === 'model call retry')?.traceId).toBe(traceId);
  });

  it('marks a failed call as an error with its code', async () => {
    server.fault('primary', 'auth');
    const router = modelRouter({
      groups: { g: { deployments: [on(server, 'primary')] } },
      telemetry: otelModelTelemetry({ tracerProvider: provider }),
    });
    expect(await failureCode(router.chat('g', ask('x')))).toBe('MODEL_AUTH');
    const [span] = exporter.getFinishedSpans();
    expect(span?.status.code).toBe(2); // ERROR
    expect(span?.attributes['error.type']).toBe('MODEL_AUTH');
  });
});
