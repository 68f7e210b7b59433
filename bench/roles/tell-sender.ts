// Worker role of `nats-tell`: a sending node that tells troupe actors, or publishes raw, in a bounded tight loop.

import { connect } from '@nats-io/transport-node';
import { createSystem } from '../../runtime/index.js';
import { natsTransport } from '../../transport/index.js';
import { wallNow } from '../load.js';
import { baselineSubject, PAYLOAD_BYTES_ARRAY, PAYLOAD_STRING } from '../payload.js';
import type { RoleCommands } from '../scenario.js';
import { receiverNode } from './tell-receiver.js';

/** What the parent passes to {@link tellSenderRole}. */
export interface TellSenderInit {
  url: string;
  namespace: string;
  index: number;
}

/** Arguments of `send`. */
export interface TellSendArgs {
  mode: 'troupe' | 'nats';
  count: number;
  /** Messages go round-robin to receivers 0..receivers-1. */
  receivers: number;
  /** Epoch ms after which the loop stops early. */
  deadline: number;
}

/** Flush (one round trip to the server) every so many messages, so the socket buffer stays bounded. */
const FLUSH_EVERY = 8192;

/** Builds the sender: one connection shared by the troupe node `send<i>` and the raw publisher. */
export async function tellSenderRole(init: unknown): Promise<RoleCommands> {
  const { url, namespace, index } = init as TellSenderInit;
  const nc = await connect({ servers: url, name: `bench-send-${index}` });
  const system = await createSystem({
    nodeId: `send${index}`,
    transport: natsTransport({ connection: nc, namespace }),
  });
  return {
    async send(args): Promise<{ sent: number[] }> {
      const { mode, count, receivers, deadline } = args as TellSendArgs;
      const sent = new Array<number>(receivers).fill(0);
      let send: (j: number) => void;
      if (mode === 'troupe') {
        const refs = Array.from({ length: receivers }, (_, j) =>
          system.ref<{ m: { body: string } }>(`${receiverNode(j)}/sink`),
        );
        const message = { type: 'm', body: PAYLOAD_STRING } as const;
        send = (j) => refs[j]!.tell(message);
      } else {
        const subjects = Array.from({ length: receivers }, (_, j) => baselineSubject(namespace, `sink${j}`));
        send = (j) => nc.publish(subjects[j]!, PAYLOAD_BYTES_ARRAY);
      }
      for (let i = 0; i < count; i++) {
        const j = i % receivers;
        send(j);
        sent[j]!++;
        if ((i & 1023) === 1023 && wallNow() > deadline) break;
        if (i % FLUSH_EVERY === FLUSH_EVERY - 1) await nc.flush();
      }
      await nc.flush();
      return { sent };
    },
    async close() {
      await system.close();
      await nc.close();
    },
  };
}
