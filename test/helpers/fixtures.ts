// Test fixtures: a transport "world" in which several nodes talk, the same way for every transport.

import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { ActorSystem, SystemOptions, Transport } from '../../runtime/index.js';
import { createSystem } from '../../runtime/index.js';
import type { ServerProcess } from '../../testing/index.js';
import { startNats } from '../../testing/index.js';
import { createLocalHub, localTransport, natsTransport } from '../../transport/index.js';

/** A network of nodes over one transport kind; `dispose` closes every system it made. */
export interface World {
  readonly kind: 'local' | 'nats';
  transport(options?: { maxFrameBytes?: number }): Transport;
  node(
    nodeId: string,
    options?: Omit<SystemOptions, 'nodeId' | 'transport'> & { maxFrameBytes?: number },
  ): Promise<ActorSystem>;
  /** Puts raw bytes on the wire to `address`, bypassing the codec. */
  injectFrame(address: string, frame: Uint8Array): Promise<void>;
  dispose(): Promise<void>;
}

/** A NATS server shared by the tests of one file (started in beforeAll). */
export interface NatsServerRef {
  server: ServerProcess | undefined;
}

export async function startSharedNats(ref: NatsServerRef): Promise<void> {
  ref.server = await startNats({ jetstream: false });
}

export function makeWorld(kind: 'local' | 'nats', nats: NatsServerRef): World {
  const systems: ActorSystem[] = [];
  const hub = createLocalHub();
  const namespace = `t${randomBytes(4).toString('hex')}`;
  let raw: NatsConnection | undefined;
  const transport = (options: { maxFrameBytes?: number } = {}): Transport => {
    if (kind === 'local') return localTransport({ hub, ...options });
    if (!nats.server) throw new Error('NATS server not started');
    return natsTransport({ servers: nats.server.url, namespace, ...options });
  };
  return {
    kind,
    transport,
    async node(nodeId, options = {}) {
      const { maxFrameBytes, ...rest } = options;
      const system = await createSystem({
        ...rest,
        nodeId,
        transport: transport(maxFrameBytes === undefined ? {} : { maxFrameBytes }),
      });
      systems.push(system);
      return system;
    },
    async injectFrame(address, frame) {
      if (kind === 'local') {
        hub.injectFrame(address, frame);
        return;
      }
      raw ??= await connect({ servers: nats.server!.url });
      raw.publish(`troupe.${namespace}.${address.replaceAll('/', '.')}`, frame);
      await raw.flush();
    },
    async dispose() {
      await Promise.all(systems.map((s) => s.close()));
      await raw?.close();
    },
  };
}

/** Resolves once `predicate` holds, polling on the event loop; rejects after `ms` of real time. */
export async function until(predicate: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}
