// Scenario `failover`: a node hosting a durable virtual actor is SIGKILLed; how long until a survivor serves it.

import { createSystem, defineActor, type Reply } from '../../runtime/index.js';
import { natsTransport } from '../../transport/index.js';
import { wallNow } from '../load.js';
import type { RoleCommands, Scenario } from '../scenario.js';

type Probe = { where: Reply<string> };

interface HostInit {
  url: string;
  namespace: string;
  nodeId: string;
}

/** A cluster node in its own process with the default failure detection, hosting the durable `probe` type. */
async function hostRole(init: unknown): Promise<RoleCommands> {
  const { url, namespace, nodeId } = init as HostInit;
  const system = await createSystem({ nodeId, transport: natsTransport({ servers: url, namespace }) });
  system.register(
    'probe',
    defineActor<Probe, undefined>({ type: 'probe', handlers: { where: () => nodeId } }),
    { durable: true, passivateAfterMs: 0 },
  );
  return {
    close: () => system.close(),
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** `failover`: see the file comment. */
export const failoverScenario: Scenario = {
  name: 'failover',
  description:
    'SIGKILL of the node hosting a durable virtual actor (3 node processes, default 500 ms heartbeats, 2 s failure timeout): time to detect it, and time until an ask is answered by a survivor (issue target: back within 3 s); no raw baseline',
  needs: ['nats'],
  metrics: () => [
    { id: 'detection', label: 'kill → failure detected', unit: 'ms', kind: 'latency', better: 'lower' },
    {
      id: 'recovery',
      label: 'kill → first message handled on a survivor',
      unit: 'ms',
      kind: 'latency',
      better: 'lower',
    },
  ],
  roles: { host: hostRole },
  async open(ctx) {
    let round = 0;
    return {
      async round(budget) {
        round++;
        const namespace = `${ctx.namespace}-r${round}`;
        const ids = [0, 1, 2].map((i) => `fo${round}h${i}`);
        ctx.progress(`round ${round}: starting 3 node processes`);
        const hosts = await Promise.all(
          ids.map((nodeId) => ctx.fork('host', { url: ctx.natsUrl!, namespace, nodeId } satisfies HostInit)),
        );
        const transport = natsTransport({ servers: ctx.natsUrl!, namespace });
        const client = await createSystem({ nodeId: `fo${round}client`, transport });
        try {
          const deadline = Math.min(budget.deadline(), wallNow() + 20_000);
          while (
            (transport.membership?.members() ?? []).filter((m) => m.types.includes('probe')).length < 3
          ) {
            if (wallNow() > deadline) throw new Error('failover: the 3 nodes never all joined');
            await sleep(20);
          }
          const probe = client.virtual<Probe>('probe', 'p0');
          // Shards settle right after the joins; ask until the same owner answers twice.
          let owner = await probe.ask({ type: 'where' }, { timeout: 10_000 });
          await sleep(1000);
          owner = await probe.ask({ type: 'where' }, { timeout: 10_000 });
          const victim = hosts[ids.indexOf(owner)];
          if (!victim) throw new Error(`failover: unknown owner ${owner}`);
          let detectedAt = 0;
          const off = transport.membership!.onChange((e) => {
            if (e.type === 'failed' && e.node.id === owner && detectedAt === 0) detectedAt = wallNow();
          });
          ctx.progress(`round ${round}: SIGKILL ${owner}`);
          const killedAt = wallNow();
          process.kill(victim.pid, 'SIGKILL');
          // A fresh ask every 20 ms (each retries while the shard has no owner); the first answer from a
          // survivor marks recovery.
          let recoveredAt = 0;
          const pending: Promise<void>[] = [];
          while (recoveredAt === 0 && wallNow() < killedAt + 15_000) {
            pending.push(
              probe.ask({ type: 'where' }, { timeout: 10_000 }).then(
                (node) => {
                  if (node !== owner && recoveredAt === 0) recoveredAt = wallNow();
                },
                () => undefined,
              ),
            );
            await sleep(20);
          }
          await Promise.all(pending);
          off();
          if (recoveredAt === 0) throw new Error('failover: no survivor answered within 15 s');
          return {
            figures: {
              detection: { troupe: detectedAt === 0 ? Number.NaN : detectedAt - killedAt },
              recovery: { troupe: recoveredAt - killedAt },
            },
          };
        } finally {
          await client.close();
          await Promise.all(hosts.map((h) => h.close(1000).catch(() => undefined)));
        }
      },
      close: async () => undefined,
    };
  },
};
