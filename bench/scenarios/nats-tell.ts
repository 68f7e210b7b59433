// Scenario `nats-tell`: tells from K sender processes to M receiver processes over NATS, vs raw nats.js pub/sub.

import { wallNow } from '../load.js';
import { type TellReceived, tellReceiverRole } from '../roles/tell-receiver.js';
import { tellSenderRole } from '../roles/tell-sender.js';
import type { Figure, MetricSpec, Scenario, ScenarioSettings } from '../scenario.js';
import type { WorkerHandle } from '../worker-client.js';

/** One load layout: `clients` sender processes spreading messages round-robin over `nodes` receiver processes. */
interface Layout {
  clients: number;
  nodes: number;
}

function layouts(settings: ScenarioSettings): Layout[] {
  return settings.clients.flatMap((clients) => settings.nodes.map((nodes) => ({ clients, nodes })));
}

/** Metric id of a layout: plain `throughput` for 1→1, `throughput-KxM` otherwise. */
export function layoutMetricId(layout: Layout): string {
  return layout.clients === 1 && layout.nodes === 1
    ? 'throughput'
    : `throughput-${layout.clients}x${layout.nodes}`;
}

/** How many messages sender `i` of `clients` sends, splitting `total` as evenly as possible. */
export function senderShare(total: number, clients: number, i: number): number {
  return Math.floor(total / clients) + (i < total % clients ? 1 : 0);
}

/** How many of `count` round-robin messages land on receiver `j` of `nodes`. */
export function receiverShare(count: number, nodes: number, j: number): number {
  return Math.floor(count / nodes) + (j < count % nodes ? 1 : 0);
}

/** Longest wait for the last messages after the senders are done. */
const SETTLE_MS = 30_000;

/** Runs one layout in one mode; returns total messages received per second (first send to last receipt). */
async function runLayout(
  mode: 'troupe' | 'nats',
  layout: Layout,
  senders: WorkerHandle[],
  receivers: WorkerHandle[],
  total: number,
  deadline: number,
): Promise<number> {
  const active = senders.slice(0, layout.clients);
  const sinks = receivers.slice(0, layout.nodes);
  const shares = active.map((_, i) => senderShare(total, layout.clients, i));
  await Promise.all(
    sinks.map((r, j) =>
      r.call('reset', { expected: shares.reduce((sum, c) => sum + receiverShare(c, layout.nodes, j), 0) }),
    ),
  );
  const t0 = wallNow();
  const sent = await Promise.all(
    active.map((s, i) =>
      s.call<{ sent: number[] }>('send', { mode, count: shares[i], receivers: layout.nodes, deadline }),
    ),
  );
  const received = await Promise.all(
    sinks.map((r, j) =>
      r.call<TellReceived>('await', {
        expected: sent.reduce((sum, s) => sum + (s.sent[j] ?? 0), 0),
        timeoutMs: SETTLE_MS,
      }),
    ),
  );
  const count = received.reduce((sum, r) => sum + r.received, 0);
  const end = Math.max(...received.map((r) => r.lastAt));
  return (count / Math.max(end - t0, 0.001)) * 1000;
}

/** `nats-tell`: see the file comment. */
export const natsTell: Scenario = {
  name: 'nats-tell',
  description:
    'tells between OS processes over NATS (K senders → M receivers, --clients/--nodes) vs plain nats.js publish/subscribe',
  needs: ['nats'],
  metrics: (settings) =>
    layouts(settings).map(
      (layout): MetricSpec => ({
        id: layoutMetricId(layout),
        label: `tell throughput ${layout.clients} sender${layout.clients > 1 ? 's' : ''} → ${layout.nodes} receiver${layout.nodes > 1 ? 's' : ''}`,
        unit: 'msg/s',
        kind: 'throughput',
        better: 'higher',
        target: 0.5,
        processes: layout,
      }),
    ),
  roles: { sender: tellSenderRole, receiver: tellReceiverRole },
  async open(ctx) {
    const all = layouts(ctx.settings);
    const maxClients = Math.max(...all.map((l) => l.clients));
    const maxNodes = Math.max(...all.map((l) => l.nodes));
    const init = (index: number) => ({ url: ctx.natsUrl, namespace: ctx.namespace, index });
    ctx.progress(`starting ${maxNodes} receiver and ${maxClients} sender processes`);
    const receivers = await Promise.all(
      Array.from({ length: maxNodes }, (_, j) => ctx.fork('receiver', init(j))),
    );
    const senders = await Promise.all(
      Array.from({ length: maxClients }, (_, i) => ctx.fork('sender', init(i))),
    );
    return {
      async round(budget) {
        const total = ctx.count(100_000, 300_000, budget);
        const figures: Record<string, Figure> = {};
        for (const layout of all) {
          const tag = `${layout.clients}→${layout.nodes}`;
          ctx.progress(`troupe ${tag}: ${total} tells`);
          const troupe = await runLayout('troupe', layout, senders, receivers, total, budget.deadline());
          ctx.progress(`baseline ${tag}: ${total} publishes`);
          const baseline = await runLayout('nats', layout, senders, receivers, total, budget.deadline());
          figures[layoutMetricId(layout)] = { troupe, baseline };
        }
        return { figures };
      },
      async close() {
        await Promise.all([...senders, ...receivers].map((w) => w.close()));
      },
    };
  },
};
