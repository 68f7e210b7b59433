// Worker role of `nats-tell`: a receiving node that counts tells to a troupe actor and raw nats.js messages alike.

import { connect } from '@nats-io/transport-node';
import { createSystem, defineActor } from '../../runtime/index.js';
import { natsTransport } from '../../transport/index.js';
import { wallNow } from '../load.js';
import { baselineSubject } from '../payload.js';
import type { RoleCommands } from '../scenario.js';

/** What the parent passes to {@link tellReceiverRole}. */
export interface TellReceiverInit {
  url: string;
  namespace: string;
  index: number;
}

/** What `await` answers. */
export interface TellReceived {
  received: number;
  /** Epoch ms (wallNow) of the last message counted (exact when the announced count was reached). */
  lastAt: number;
}

/** Node id of receiver `index`; its counting actor is `sink`. */
export function receiverNode(index: number): string {
  return `recv${index}`;
}

/** Builds the receiver: one connection shared by the troupe node `recv<i>` and the raw subscription. */
export async function tellReceiverRole(init: unknown): Promise<RoleCommands> {
  const { url, namespace, index } = init as TellReceiverInit;
  const nc = await connect({ servers: url, name: `bench-recv-${index}` });
  let count = 0;
  let expected = Number.POSITIVE_INFINITY;
  let lastAt = 0;
  let waiter: (() => void) | undefined;
  const hit = (): void => {
    const c = ++count;
    // Stamp the clock now and then (cheaply) and exactly when the announced count is reached.
    if ((c & 1023) === 0) lastAt = wallNow();
    if (c === expected) {
      lastAt = wallNow();
      waiter?.();
    }
  };
  const system = await createSystem({
    nodeId: receiverNode(index),
    transport: natsTransport({ connection: nc, namespace }),
  });
  system.spawn(defineActor<{ m: { body: string } }, undefined>({ type: 'sink', handlers: { m: hit } }), {
    name: 'sink',
  });
  const sub = nc.subscribe(baselineSubject(namespace, `sink${index}`), { callback: hit });
  await nc.flush();
  return {
    reset(args) {
      count = 0;
      lastAt = 0;
      expected = (args as { expected: number }).expected;
      return undefined;
    },
    async await(args): Promise<TellReceived> {
      const { expected: actual, timeoutMs } = args as { expected: number; timeoutMs: number };
      expected = actual;
      if (count < actual) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, timeoutMs);
          waiter = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        waiter = undefined;
      }
      return { received: count, lastAt: lastAt || wallNow() };
    },
    async close() {
      sub.unsubscribe();
      await system.close();
      await nc.close();
    },
  };
}
