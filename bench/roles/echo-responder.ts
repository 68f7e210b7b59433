// Worker role of the ask scenarios: a node answering troupe asks (actor `responder/echo`) and raw nats.js requests.

import { connect } from '@nats-io/transport-node';
import { createSystem, defineActor, type Reply } from '../../runtime/index.js';
import { natsTransport } from '../../transport/index.js';
import { baselineSubject } from '../payload.js';
import type { RoleCommands } from '../scenario.js';

/** The protocol of the echo actor. */
export type EchoProtocol = { echo: { body: string } & Reply<string> };

/** Address of the echo actor and subject of the raw responder. */
export const ECHO_ADDRESS = 'responder/echo';
export const ECHO_SUBJECT = 'echo';

/** Builds the responder: one connection shared by the troupe node and the raw `msg.respond()` subscription. */
export async function echoResponderRole(init: unknown): Promise<RoleCommands> {
  const { url, namespace } = init as { url: string; namespace: string };
  const nc = await connect({ servers: url, name: 'bench-responder' });
  const system = await createSystem({
    nodeId: 'responder',
    transport: natsTransport({ connection: nc, namespace }),
  });
  system.spawn(defineActor<EchoProtocol, undefined>({ type: 'echo', handlers: { echo: (m) => m.body } }), {
    name: 'echo',
  });
  const sub = nc.subscribe(baselineSubject(namespace, ECHO_SUBJECT), {
    callback: (err, msg) => {
      if (!err) msg.respond(msg.data);
    },
  });
  await nc.flush();
  return {
    async close() {
      sub.unsubscribe();
      await system.close();
      await nc.close();
    },
  };
}
