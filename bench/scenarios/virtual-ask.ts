// Scenario `virtual-ask`: asks to virtual actors spread over two node processes, placed by hash (NATS routes
// straight to the shard's owner) and by least-loaded (the shard's owner looks the actor up in its directory
// and forwards), vs plain nc.request() to a queue group on the same two processes; and tells to the
// hash-placed ones (each kept until confirmed, so one that finds no owner is sent again) vs nc.publish().

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
import { pipelinedRate, wallNow } from '../load.js';
import { baselineSubject, PAYLOAD_BYTES_ARRAY, PAYLOAD_STRING } from '../payload.js';
import type { RoleCommands, Scenario } from '../scenario.js';

/** Asks outstanding at once, on every side. */
const WINDOW = 256;
/** Virtual actor ids the asks cycle over. */
const KEYS = 64;
const ASK_TIMEOUT_MS = 30_000;
const SUBJECT = 'vecho';

type Echo = { echo: { body: string } & Reply<string>; m: { body: string } };

/** Flush (one round trip) every so many tells, so the socket buffer stays bounded; as in nats-tell. */
const FLUSH_EVERY = 8192;

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
  let received = 0;
  const echo = defineActor<Echo, undefined>({
    type: 'echo',
    handlers: {
      echo: (m) => m.body,
      m: () => {
        received++;
      },
    },
  });
  system.register('hashed', echo, { passivateAfterMs: 0 });
  system.register('directed', echo, { placement: leastLoadedPlacement(), passivateAfterMs: 0 });
  const sub = nc.subscribe(baselineSubject(namespace, SUBJECT), {
    queue: 'hosts',
    callback: (err, msg) => {
      if (err) return;
      if (msg.reply) msg.respond(msg.data);
      else received++;
    },
  });
  await nc.flush();
  return {
    count: () => received,
    reset() {
      received = 0;
      return undefined;
    },
    async close() {
      sub.unsubscribe();
      await system.close();
      await nc.close();
    },
  };
}

const throughput = (
  total: number,
  deadline: number,
  issue: (i: number) => Promise<unknown>,
): Promise<number> => pipelinedRate({ total, window: WINDOW, deadline, issue });

/** `virtual-ask`: see the file comment. */
export const virtualAsk: Scenario = {
  name: 'virtual-ask',
  description: `asks (${WINDOW} in flight) to ${KEYS} virtual actors on 2 node processes, placed by hash and by least-loaded through the activation directory, vs plain nc.request() to a queue group on the same processes; tells to the hash-placed ones vs plain nc.publish() to that queue group`,
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
    {
      id: 'tell',
      label: 'virtual tell, hash placement, until all handled',
      unit: 'msg/s',
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
    /** Sends `total` one-way messages, then waits until the hosts counted them all: messages per second. */
    const told = async (total: number, deadline: number, send: (i: number) => void): Promise<number> => {
      await Promise.all(hosts.map((h) => h.call('reset')));
      const t0 = wallNow();
      let sent = 0;
      for (; sent < total; sent++) {
        send(sent);
        if ((sent & 1023) === 1023 && wallNow() > deadline) break;
        if (sent % FLUSH_EVERY === FLUSH_EVERY - 1) await nc.flush();
      }
      await nc.flush();
      const settleBy = wallNow() + 10_000;
      for (;;) {
        const counts = await Promise.all(hosts.map((h) => h.call<number>('count')));
        const got = counts.reduce((a, b) => a + b, 0);
        if (got >= sent) return (got / Math.max(wallNow() - t0, 0.001)) * 1000;
        if (wallNow() > settleBy)
          throw new Error(`virtual-ask: ${sent - got} of ${sent} one-way messages never arrived`);
        await new Promise((r) => setTimeout(r, 2));
      }
    };
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
        const tells = total * 5;
        const tell = { type: 'm', body: PAYLOAD_STRING } as const;
        ctx.progress(`troupe: ${tells} tells to hash-placed virtual actors`);
        const troupeTells = await told(tells, budget.deadline(), (i) => hashed[i % KEYS]!.tell(tell));
        ctx.progress(`baseline: ${tells} nc.publish() to a queue group`);
        const baselineTells = await told(tells, budget.deadline(), () =>
          nc.publish(subject, PAYLOAD_BYTES_ARRAY),
        );
        return {
          figures: {
            hash: { troupe: hash, baseline },
            directory: { troupe: directory, baseline },
            tell: { troupe: troupeTells, baseline: baselineTells },
          },
        };
      },
      close,
    };
  },
};
