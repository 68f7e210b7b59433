// POST /v1/chat/completions: picks the fault or the scripted reply, waits the model's latency, and answers as
// JSON or as SSE, billing what it generated.

import type { ServerResponse } from 'node:http';
import { errorBody, type FaultTable, faultOf, type LlmFault, sendFaultError, sendJson } from './faults.js';
import type { LlmRequestRecord, RequestLog } from './log.js';
import { contentText, type LlmChatRequest, type LlmReplyObject, type ScriptTable } from './scripts.js';
import {
  type Completion,
  completionBody,
  completionChunks,
  inputTokensOf,
  startSse,
  toCompletion,
  writeEvent,
} from './sse.js';

/** What the endpoints share with the server. */
export interface ServerState {
  readonly log: RequestLog;
  readonly faults: FaultTable;
  readonly scripts: ScriptTable;
  latencyOf(model: string): number;
  readonly chunkDelayMs: number;
  readonly embeddingDimensions: number;
  /** Responses held open by a `hang` fault, ended when the server closes. */
  readonly hanging: Set<ServerResponse>;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** False once the client went away or the response ended: nothing more to write. */
export const writable = (res: ServerResponse) => !res.destroyed && !res.writableEnded;

const MALFORMED = '{"id":"chatcmpl-malformed","object":"chat.completion","choices":[{"index":0,"message":';

/** A 400 for a body that is JSON but not a chat request; undefined when it is one. */
function invalidChat(body: Record<string, unknown>): string | undefined {
  if (typeof body.model !== 'string' || body.model === '') return "'model' is required";
  if (!Array.isArray(body.messages) || body.messages.length === 0)
    return "'messages' must be a non-empty array";
  for (const m of body.messages) {
    if (typeof m !== 'object' || m === null || typeof (m as { role?: unknown }).role !== 'string') {
      return "each message needs a 'role'";
    }
  }
  return undefined;
}

export async function handleChat(
  state: ServerState,
  res: ServerResponse,
  body: Record<string, unknown>,
  record: LlmRequestRecord,
): Promise<void> {
  const problem = invalidChat(body);
  if (problem !== undefined) {
    record.status = 400;
    sendJson(res, 400, errorBody(problem, 'invalid_request_error', 'invalid_request'));
    return;
  }
  const model = body.model as string;
  const messages = body.messages as LlmChatRequest['messages'];
  const stream = body.stream === true;
  const lastUser = [...messages].reverse().find((m) => m.role === 'user');
  const request: LlmChatRequest = {
    seq: record.seq,
    model,
    stream,
    messages,
    lastUserText: lastUser === undefined ? '' : contentText(lastUser.content),
    tools: Array.isArray(body.tools) ? body.tools : undefined,
    responseFormat: body.response_format as LlmChatRequest['responseFormat'],
    body,
  };

  let fault: LlmFault | undefined = state.faults.take(model);
  let reply: LlmReplyObject | undefined;
  if (fault === undefined) {
    reply = await state.scripts.reply(request);
    if (reply.fault !== undefined) fault = faultOf(reply.fault);
  }
  record.fault = fault?.type;
  const delay = state.latencyOf(model) + (reply?.delayMs ?? 0);
  if (delay > 0) await sleep(delay);
  if (!writable(res)) return;

  if (fault !== undefined) {
    const status = sendFaultError(res, fault, model);
    if (status !== undefined) {
      record.status = status;
      return;
    }
    if (fault.type === 'hang') {
      state.hanging.add(res);
      res.once('close', () => state.hanging.delete(res));
      return;
    }
    if (fault.type === 'malformed') {
      record.status = 200;
      if (stream) {
        startSse(res);
        await writeEvent(res, MALFORMED);
        res.end();
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(MALFORMED);
      }
      return;
    }
    // A drop bills the reply that was being sent; a content filter bills the prompt only.
    if (fault.type === 'drop-stream') reply = await state.scripts.reply(request);
  }

  const completion = toCompletion(reply ?? {}, {
    seq: record.seq,
    model,
    inputTokens: inputTokensOf(messages),
    contentFiltered: fault?.type === 'content-filter',
  });
  state.log.bill(record, completion.inputTokens, completion.outputTokens, completion.cachedTokens);
  record.status = 200;
  const dropAfter = fault?.type === 'drop-stream' ? (fault.afterChunks ?? 2) : undefined;
  if (stream) {
    const options = body.stream_options as { include_usage?: unknown } | undefined;
    await streamCompletion(res, completion, options?.include_usage === true, {
      chunkDelayMs: reply?.chunkDelayMs ?? state.chunkDelayMs,
      dropAfter,
    });
  } else if (dropAfter !== undefined) {
    const text = JSON.stringify(completionBody(completion));
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(text)),
    });
    res.write(text.slice(0, Math.floor(text.length / 2)), () => res.destroy());
  } else {
    sendJson(res, 200, completionBody(completion));
  }
}

async function streamCompletion(
  res: ServerResponse,
  completion: Completion,
  includeUsage: boolean,
  options: { chunkDelayMs: number; dropAfter: number | undefined },
): Promise<void> {
  startSse(res);
  let sent = 0;
  for (const chunk of completionChunks(completion, includeUsage)) {
    if (options.dropAfter !== undefined && sent >= options.dropAfter) {
      res.destroy();
      return;
    }
    if (sent > 0 && options.chunkDelayMs > 0) await sleep(options.chunkDelayMs);
    if (!writable(res)) return;
    await writeEvent(res, JSON.stringify(chunk));
    sent += 1;
  }
  if (options.dropAfter !== undefined) {
    res.destroy();
    return;
  }
  await writeEvent(res, '[DONE]');
  res.end();
}
