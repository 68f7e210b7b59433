// Scenario `durable-tell`: acknowledged sends to a durable virtual actor vs plain JetStream publish-with-ack.

import {
  AckPolicy,
  type ConsumerMessages,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { type ActorSystem, createSystem, defineActor } from '../../runtime/index.js';
import { natsTransport } from '../../transport/index.js';
import { pipelinedRate } from '../load.js';
import { PAYLOAD_BYTES_ARRAY, PAYLOAD_STRING } from '../payload.js';
import type { Scenario } from '../scenario.js';

/** Sends (and publishes) outstanding at once, on both sides. */
const WINDOW = 256;
/** Actor ids the troupe side spreads its sends over (and subjects the baseline spreads over). */
const KEYS = 16;

type Sink = { m: { body: string } };

const throughput = (
  total: number,
  deadline: number,
  issue: (i: number) => Promise<unknown>,
): Promise<number> => pipelinedRate({ total, window: WINDOW, deadline, issue });

/** `durable-tell`: see the file comment. */
export const durableTell: Scenario = {
  name: 'durable-tell',
  description: `ref.send() to durable virtual actors (${WINDOW} in flight), consumed and acked by their host, vs plain js.publish() with ack to a work-queue stream consumed and acked by a plain consumer`,
  needs: ['nats'],
  metrics: () => [
    {
      id: 'throughput',
      label: `acknowledged sends (window ${WINDOW})`,
      unit: 'msg/s',
      kind: 'throughput',
      better: 'higher',
      target: 0.8,
    },
    {
      // troupe's connections set nats.js' noAsyncTraces; this baseline does too, so the gap that leaves shows.
      id: 'throughput-tuned',
      label: `acknowledged sends vs baseline with noAsyncTraces`,
      unit: 'msg/s',
      kind: 'throughput',
      better: 'higher',
    },
  ],
  async open(ctx) {
    const url = ctx.natsUrl!;
    const ns = ctx.namespace;
    let handled = 0;
    const sink = defineActor<Sink, undefined>({
      type: 'sink',
      handlers: {
        m: () => {
          handled++;
        },
      },
    });
    const host: ActorSystem = await createSystem({
      nodeId: 'host',
      transport: natsTransport({ servers: url, namespace: ns, cluster: { shards: 4 } }),
    });
    host.register('sink', sink, { durable: true, passivateAfterMs: 0 });
    const client: ActorSystem = await createSystem({
      nodeId: 'client',
      transport: natsTransport({ servers: url, namespace: ns, cluster: { shards: 4 } }),
    });
    // Wait until the client sees the host's durable type, or sends would take the non-durable path.
    const deadline = Date.now() + 10_000;
    while (!(client.transport?.members?.() ?? []).some((m) => m.durable.includes('sink'))) {
      if (Date.now() > deadline) throw new Error('durable-tell: the host never announced its durable type');
      await new Promise((r) => setTimeout(r, 20));
    }
    const refs = Array.from({ length: KEYS }, (_, k) => client.virtual<Sink>('sink', `k${k}`));
    const message = { type: 'm', body: PAYLOAD_STRING } as const;

    // Baseline: the same shape with plain JetStream, a work-queue stream and a consumer that acks each message.
    const nc: NatsConnection = await connect({ servers: url, name: 'bench-durable-baseline' });
    const jsm = await jetstreamManager(nc);
    const stream = `BASE_${ns.replace(/[^A-Za-z0-9_-]/g, '_')}`;
    const subject = `base.${ns}.durable`;
    await jsm.streams.add({
      name: stream,
      subjects: [`${subject}.*`],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
    });
    await jsm.consumers.add(stream, {
      durable_name: 'c',
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      max_ack_pending: 1024,
    });
    const js = jetstream(nc);
    const tunedNc: NatsConnection = await connect({
      servers: url,
      name: 'bench-durable-tuned',
      noAsyncTraces: true,
    });
    const tunedJs = jetstream(tunedNc);
    let consumed = 0;
    const messages: ConsumerMessages = await (await js.consumers.get(stream, 'c')).consume({
      max_messages: 256,
    });
    void (async () => {
      for await (const m of messages) {
        consumed++;
        m.ack();
      }
    })();

    return {
      async round(budget) {
        const total = ctx.count(5_000, 30_000, budget);
        ctx.progress(`troupe: ${total} durable sends, ${WINDOW} in flight`);
        const troupe = await throughput(total, budget.deadline(), (i) => refs[i % KEYS]!.send(message));
        ctx.progress(`baseline: ${total} js.publish with ack, ${WINDOW} in flight`);
        const baseline = await throughput(total, budget.deadline(), (i) =>
          js.publish(`${subject}.${i % KEYS}`, PAYLOAD_BYTES_ARRAY),
        );
        ctx.progress(`baseline: ${total} js.publish with ack, noAsyncTraces, ${WINDOW} in flight`);
        const tuned = await throughput(total, budget.deadline(), (i) =>
          tunedJs.publish(`${subject}.${i % KEYS}`, PAYLOAD_BYTES_ARRAY),
        );
        ctx.progress(`consumed: troupe ${handled}, baselines ${consumed}`);
        return {
          figures: { throughput: { troupe, baseline }, 'throughput-tuned': { troupe, baseline: tuned } },
        };
      },
      async close() {
        messages.stop();
        await client.close();
        await host.close();
        await jsm.streams.delete(stream).catch(() => undefined);
        await nc.close();
        await tunedNc.close();
      },
    };
  },
};
