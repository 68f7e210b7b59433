// The strong ask baseline of `nats-ask-pipelined`: plain nats.js request/reply correlated by a header.
//
// The asker keeps one reply subscription on a fixed inbox subject and one map of pending requests; each request
// carries its correlation id in a header, and the responder echoes the body back to the request's reply subject
// with that header. No per-request subscription, subject, timer or stack capture: what a careful hand-written
// nats.js client does, and the bar troupe's pipelined asks are measured against.

import { connect, createInbox, headers, type NatsConnection } from '@nats-io/transport-node';
import { baselineSubject, PAYLOAD_BYTES_ARRAY } from '../payload.js';
import type { RoleCommands } from '../scenario.js';
import { echoResponderRole } from './echo-responder.js';

/** Subject of the correlated responder (under {@link baselineSubject}). */
export const CORRELATED_SUBJECT = 'echo-correlated';

/** Header carrying the correlation id, on the request and on its reply. */
export const CORRELATION_HEADER = 'Correlation-Id';

/** How often the asker looks for requests past their deadline (one timer for all of them). */
const SWEEP_MS = 1000;

/** What the parent passes to {@link pipelinedResponderRole} (the same as the echo responder's). */
export interface CorrelatedResponderInit {
  url: string;
  namespace: string;
}

/**
 * Worker role of `nats-ask-pipelined`: the echo responder of the ask scenarios (troupe actor and `msg.respond()`
 * subscription) plus the correlated responder, on its own connection in the same process.
 */
export async function pipelinedResponderRole(init: unknown): Promise<RoleCommands> {
  const { url, namespace } = init as CorrelatedResponderInit;
  const echo = await echoResponderRole(init);
  let nc: NatsConnection;
  try {
    nc = await connect({ servers: url, name: 'bench-responder-correlated' });
  } catch (err) {
    await echo.close?.(undefined);
    throw err;
  }
  const sub = nc.subscribe(baselineSubject(namespace, CORRELATED_SUBJECT), {
    callback: (err, msg) => {
      // The request's headers (its correlation id) go back as they came.
      if (!err && msg.reply && msg.headers) nc.publish(msg.reply, msg.data, { headers: msg.headers });
    },
  });
  await nc.flush();
  return {
    async close() {
      sub.unsubscribe();
      await nc.close();
      await echo.close?.(undefined);
    },
  };
}

/** The asking side of the correlated baseline. */
export interface CorrelatedAsker {
  /** One request to the correlated responder; resolves with the echoed body. */
  request(): Promise<Uint8Array>;
  /** Fails what is still pending and closes the connection. */
  close(): Promise<void>;
}

interface Pending {
  resolve(data: Uint8Array): void;
  reject(err: Error): void;
  /** Epoch ms after which the request fails. */
  deadline: number;
}

/**
 * Connects the correlated asker: one connection, one reply subscription on a fixed inbox subject, a map of
 * pending requests by correlation id, and one sweeping timer for deadlines (requests share one timeout, so the
 * map, in insertion order, is also in deadline order).
 */
export async function openCorrelatedAsker(
  url: string,
  namespace: string,
  timeoutMs: number,
): Promise<CorrelatedAsker> {
  const nc = await connect({ servers: url, name: 'bench-asker-correlated' });
  const subject = baselineSubject(namespace, CORRELATED_SUBJECT);
  const inbox = createInbox();
  const pending = new Map<string, Pending>();
  let seq = 0;
  const sub = nc.subscribe(inbox, {
    callback: (err, msg) => {
      if (err) return;
      const id = msg.headers?.get(CORRELATION_HEADER);
      if (id === undefined) return;
      const p = pending.get(id);
      if (!p) return;
      pending.delete(id);
      p.resolve(msg.data);
    },
  });
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [id, p] of pending) {
      if (p.deadline > now) break;
      pending.delete(id);
      p.reject(new Error(`correlated request ${id} timed out after ${timeoutMs} ms`));
    }
  }, SWEEP_MS);
  sweep.unref();
  await nc.flush();
  return {
    request() {
      const id = (seq++).toString(36);
      const h = headers();
      h.set(CORRELATION_HEADER, id);
      return new Promise<Uint8Array>((resolve, reject) => {
        pending.set(id, { resolve, reject, deadline: Date.now() + timeoutMs });
        try {
          nc.publish(subject, PAYLOAD_BYTES_ARRAY, { reply: inbox, headers: h });
        } catch (err) {
          pending.delete(id);
          reject(err as Error);
        }
      });
    },
    async close() {
      clearInterval(sweep);
      for (const p of pending.values()) p.reject(new Error('correlated asker closed'));
      pending.clear();
      sub.unsubscribe();
      await nc.close();
    },
  };
}
