// The module each sandbox worker thread runs: it loads task handler modules and runs one job at a time.
// The pool starts it from dist/ (see threads.ts), so it imports only what compiles beside it.

import { parentPort } from 'node:worker_threads';
import type { TaskHandler } from './definition.js';
import { loadHandler } from './handlers.js';
import type { ThreadMessage, ToThreadMessage } from './threads.js';

/** Handlers by `url#export`: a job imports its module once per thread. */
const handlers = new Map<string, TaskHandler<unknown, unknown>>();
let current: { id: string; controller: AbortController } | undefined;

function post(message: ThreadMessage): void {
  parentPort?.postMessage(message);
}

async function run(msg: Extract<ToThreadMessage, { type: 'run' }>): Promise<void> {
  const controller = new AbortController();
  current = { id: msg.id, controller };
  try {
    const key = `${msg.url}#${msg.export}`;
    let handler = handlers.get(key);
    if (handler === undefined) {
      handler = await loadHandler({ url: msg.url, export: msg.export });
      handlers.set(key, handler);
    }
    const value = await handler(msg.input, {
      id: msg.id,
      attempt: msg.attempt,
      signal: controller.signal,
      progress: (progress) => {
        try {
          post({ type: 'progress', id: msg.id, value: progress });
        } catch {
          // A value that cannot cross threads is dropped, as progress is best effort.
        }
      },
    });
    // Inside the try: a value that cannot be cloned fails the job instead of the thread.
    post({ type: 'done', id: msg.id, ok: true, value });
  } catch (err) {
    const e = (err !== null && typeof err === 'object' ? err : { message: String(err) }) as {
      name?: unknown;
      message?: unknown;
      code?: unknown;
    };
    post({
      type: 'done',
      id: msg.id,
      ok: false,
      error: {
        name: String(e.name || 'Error'),
        message: String(e.message),
        ...(typeof e.code === 'string' ? { code: e.code } : {}),
      },
    });
  } finally {
    if (current?.id === msg.id) current = undefined;
  }
}

parentPort?.on('message', (msg: ToThreadMessage) => {
  if (msg.type === 'abort') {
    if (current?.id === msg.id) current.controller.abort(new Error(msg.reason || 'aborted'));
    return;
  }
  if (msg.type === 'run') void run(msg);
});
