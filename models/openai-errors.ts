// Turns whatever the `openai` client threw into a ModelError: its APIError subclasses by status and error code,
// its connection errors, and the bare fetch errors a dropped body or stream surfaces as.

import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import type { CallDeadline } from './deadline.js';
import { classifyHttpError, ModelError, ModelErrorCode } from './errors.js';

/** `request`: before the answer began; `body`: while reading it (a stream's chunks included). */
export type CallPhase = 'request' | 'body';

export function classifyOpenAIError(
  err: unknown,
  context: { deadline: CallDeadline; phase: CallPhase; model: string | undefined },
): ModelError {
  if (err instanceof ModelError) return err;
  const cut = context.deadline.cutError(err);
  if (cut !== undefined) return cut;
  const model = context.model === undefined ? {} : { model: context.model };
  if (err instanceof APIUserAbortError)
    return new ModelError(ModelErrorCode.Aborted, err.message, model, err);
  if (err instanceof APIConnectionTimeoutError)
    return new ModelError(ModelErrorCode.Timeout, err.message, model, err);
  if (err instanceof APIConnectionError) {
    return context.phase === 'body'
      ? new ModelError(ModelErrorCode.StreamBroken, `connection lost midway: ${err.message}`, model, err)
      : new ModelError(ModelErrorCode.Unreachable, `${err.message} (${causeText(err)})`, model, err);
  }
  if (err instanceof APIError) {
    return classifyHttpError(
      {
        status: err.status,
        providerCode: err.code ?? undefined,
        message: err.message,
        headers: err.headers,
        requestId: err.requestID ?? undefined,
        model: context.model,
      },
      err,
    );
  }
  if (err instanceof SyntaxError) {
    return new ModelError(
      ModelErrorCode.MalformedResponse,
      `answer is not valid JSON: ${err.message}`,
      model,
      err,
    );
  }
  if (context.phase === 'body' || (err instanceof TypeError && err.message === 'terminated')) {
    return new ModelError(
      ModelErrorCode.StreamBroken,
      `answer broke off midway: ${causeText(err)}`,
      model,
      err,
    );
  }
  return new ModelError(ModelErrorCode.ServerError, `model call failed: ${causeText(err)}`, model, err);
}

function causeText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return `${err.message}${cause}`;
}
