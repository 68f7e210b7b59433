// Scenario `virtual-ask`: asks to virtual actors spread over two node processes, placed by hash (NATS routes
// straight to the shard's owner) and by least-loaded (the shard's owner looks the actor up in its directory
// and forwards), vs plain nc.request() to a queue group on the same two processes.

import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  type ActorRef,
  type ActorSystem,
  createSystem,
  defineActor,
  leastLoadedPlacement,
  type Reply,
} from '../../runtime/index.js';
import { natsTransport } from '../../transport/index.js';
import { pipelined } from '../load.js';
import { baselineSubject, PAYLOAD_BYTES_ARRAY, PAYLOAD_STRING } from '../payload.js';
import type { RoleCommands, Scenario } from '../scenario.js';

/** Asks outstanding at once, on every side. */
const WINDOW = 256;
/** Virtual actor ids the asks cycle over. */
const KEYS = 64;
const ASK_TIMEOUT_MS = 30_000;
const SUBJECT = 'vecho';

type Echo = { echo: { body: string } & Reply<string> };

interface HostInit {
  url: string;
  namespace: string;
  nodeId: string;
}

/** A cluster node hosting both echo types, plus a raw responder in the baseline's queue group. */
async function hostRole(init: unknown): Promise<RoleCommands> {
  const { url, namespace, nodeId } = init as HostInit;
  const nc = await connect({ servers: url, name: `bench-${nodeId}` });
  const system = await createSystem({ nodeId, transport: natsTransport({ connection: nc, namespace }) });
  const echo = defineActor<Echo, undefined>({ type: 'echo', handlers: { echo: (m) => m.body } });
  system.register('hashed', echo, { passivateAfterMs: 0 });
  system.register('directed', echo, { placement: leastLoadedPlacement(), passivateAfterMs: 0 });
  const sub = nc.subscribe(baselineSubject(namespace, SUBJECT), {
    queue: 'hosts',
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

async function throughput(
  total: number,
  deadline: number,
  issue: (i: number) => Promise<unknown>,
): Promise<number> {
  const r = await pipelined({ total, window: WINDOW, deadline, issue });
  if (r.failed > 0) throw r.firstError;
  return (r.completed / r.elapsedMs) * 1000;
}

/** `virtual-ask`: see the file comment. */
export const virtualAsk: Scenario = {
  name: 'virtual-ask',
  description: `asks (${WINDOW} in flight) to ${KEYS} virtual actors on 2 node processes, placed by hash and by least-loaded through the activation directory, vs plain nc.request() to a queue group on the same processes`,
  needs: ['nats'],
  metrics: () => [
    {
      id: 'hash',
      label: `virtual ask, hash placement (window ${WINDOW})`,
      unit: 'ask/s',
      kind: 'throughput',
      better: 'higher',
    },
    {
      id: 'directory',
      label: `virtual ask, least-loaded via directory (window ${WINDOW})`,
      unit: 'ask/s',
      kind: 'throughput',
      better: 'higher',
    },
  ],
  roles: { host: hostRole },
  async open(ctx) {
    const url = ctx.natsUrl!;
    const namespace = ctx.namespace;
    const hosts = await Promise.all(
      ['vh0', 'vh1'].map((nodeId) => ctx.fork('host', { url, namespace, nodeId } satisfies HostInit)),
    );
    const nc: NatsConnection = await connect({ servers: url, name: 'bench-virtual-asker' });
    const system: ActorSystem = await createSystem({
      nodeId: 'client',
      transport: natsTransport({ connection: nc, namespace }),
    });
    const close = async (): Promise<void> => {
      await system.close();
      await nc.close();
      await Promise.all(hosts.map((h) => h.close()));
    };
    try {
      const deadline = Date.now() + 10_000;
      const hostsSeen = (): number =>
        (system.transport?.members?.() ?? []).filter((m) => m.types.includes('directed')).length;
      while (hostsSeen() < 2) {
        if (Date.now() > deadline) throw new Error('virtual-ask: the hosts never joined');
        await new Promise((r) => setTimeout(r, 20));
      }
    } catch (err) {
      await close();
      throw err;
    }
    const message = { type: 'echo', body: PAYLOAD_STRING } as const;
    const refs = (type: string): ActorRef<Echo>[] =>
      Array.from({ length: KEYS }, (_, k) => system.virtual<Echo>(type, `k${k}`));
    const hashed = refs('hashed');
    const directed = refs('directed');
    const subject = baselineSubject(namespace, SUBJECT);
    // Activate every actor once (and let shard moves settle: asks are re-sent until an owner answers).
    await Promise.all([...hashed, ...directed].map((r) => r.ask(message, { timeout: ASK_TIMEOUT_MS })));
    return {
      async round(budget) {
        const total = ctx.count(20_000, 100_000, budget);
        const ask = (list: ActorRef<Echo>[]) => (i: number) =>
          list[i % KEYS]!.ask(message, { timeout: ASK_TIMEOUT_MS });
        ctx.progress(`troupe: ${total} asks to hash-placed virtual actors`);
        const hash = await throughput(total, budget.deadline(), ask(hashed));
        ctx.progress(`troupe: ${total} asks to directory-placed virtual actors`);
        const directory = await throughput(total, budget.deadline(), ask(directed));
        ctx.progress(`baseline: ${total} nc.request() to a queue group`);
        const baseline = await throughput(total, budget.deadline(), () =>
          nc.request(subject, PAYLOAD_BYTES_ARRAY, { timeout: ASK_TIMEOUT_MS }),
        );
        return {
          figures: {
            hash: { troupe: hash, baseline },
            directory: { troupe: directory, baseline },
          },
        };
      },
      close,
    };
  },
};
