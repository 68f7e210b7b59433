// The asking side of the NATS ask scenarios: a troupe node and a raw nats.js connection in the runner's process.

import { connect, type NatsConnection } from '@nats-io/transport-node';
import { type ActorRef, type ActorSystem, createSystem } from '../runtime/index.js';
import { natsTransport } from '../transport/index.js';
import { baselineSubject, PAYLOAD_BYTES_ARRAY, PAYLOAD_STRING } from './payload.js';
import { ECHO_ADDRESS, ECHO_SUBJECT, type EchoProtocol } from './roles/echo-responder.js';
import type { ScenarioContext } from './scenario.js';
import type { WorkerHandle } from './worker-client.js';

/** Asks a timeout this long never fire in a healthy run; they only bound a broken one. */
const ASK_TIMEOUT_MS = 30_000;

/** Both ways of asking the responder in the child process, and `close()` for all of it. */
export interface AskClient {
  /** One troupe ask to `responder/echo`. */
  troupe(): Promise<unknown>;
  /** One plain `nc.request()` to the raw responder (nats.js muxes replies on one subscription). */
  baseline(): Promise<unknown>;
  close(): Promise<void>;
}

/** Forks the echo responder (role `responder` of the calling scenario) and connects the asking side. */
export async function openAskClient(ctx: ScenarioContext): Promise<AskClient> {
  const url = ctx.natsUrl!;
  const worker: WorkerHandle = await ctx.fork('responder', { url, namespace: ctx.namespace });
  let nc: NatsConnection | undefined;
  let system: ActorSystem | undefined;
  try {
    nc = await connect({ servers: url, name: 'bench-asker' });
    system = await createSystem({
      nodeId: 'client',
      transport: natsTransport({ connection: nc, namespace: ctx.namespace }),
    });
  } catch (err) {
    await nc?.close();
    await worker.close();
    throw err;
  }
  const conn = nc;
  const sys = system;
  const ref: ActorRef<EchoProtocol> = sys.ref<EchoProtocol>(ECHO_ADDRESS);
  const message = { type: 'echo', body: PAYLOAD_STRING } as const;
  const subject = baselineSubject(ctx.namespace, ECHO_SUBJECT);
  return {
    troupe: () => ref.ask(message, { timeout: ASK_TIMEOUT_MS }),
    baseline: () => conn.request(subject, PAYLOAD_BYTES_ARRAY, { timeout: ASK_TIMEOUT_MS }),
    async close() {
      await sys.close();
      await conn.close();
      await worker.close();
    },
  };
}
