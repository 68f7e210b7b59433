// Shared pieces of the model router tests: deployments on the offline server, a captured logger, a recording
// telemetry hook, and the code a call failed with.

import type {
  DeploymentConfig,
  ModelCallInfo,
  ModelCallOutcome,
  ModelTelemetry,
} from '../../models/index.js';
import { createLogger, type Logger, TroupeError } from '../../runtime/index.js';
import type { LlmServer } from '../../testing/index.js';

/** A deployment serving `model` on the offline server. */
export const on = (
  server: LlmServer,
  model: string,
  extra: Partial<DeploymentConfig> = {},
): DeploymentConfig => ({
  id: model,
  baseURL: server.url,
  model,
  ...extra,
});

export const ask = (content: string, maxTokens?: number) => ({
  messages: [{ role: 'user' as const, content }],
  ...(maxTokens === undefined ? {} : { maxTokens }),
});

export function capturedLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    level: 'debug',
    format: 'json',
    write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>),
  });
  return { logger, lines };
}

export interface RecordedCall {
  info: ModelCallInfo;
  outcome: ModelCallOutcome;
  attributes: Record<string, string | number | boolean>;
  traceparent: string;
}

/** A telemetry hook that hands each call a fresh traceparent and records how it ended. */
export function recordingTelemetry(): { telemetry: ModelTelemetry; calls: RecordedCall[] } {
  const calls: RecordedCall[] = [];
  let n = 0;
  const telemetry: ModelTelemetry = {
    onCall(info) {
      n++;
      const traceId = n.toString(16).padStart(32, '0');
      const traceparent = `00-${traceId}-${'1'.padStart(16, '0')}-01`;
      return {
        traceparent,
        end: (outcome, attributes) => calls.push({ info, outcome: { ...outcome }, attributes, traceparent }),
      };
    },
  };
  return { telemetry, calls };
}

/** The code `p` rejected with (throws if it fulfilled). */
export async function failureCode(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return TroupeError.is(err) ? err.code : `not a troupe error: ${String(err)}`;
  }
  throw new Error('expected a failure');
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
