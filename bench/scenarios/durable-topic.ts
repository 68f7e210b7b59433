// Scenario `durable-topic`: events published on a durable topic (natsTopicBus) and delivered to a durable
// subscription, vs plain JetStream with the same settings: a limits stream, js.publish with ack, one durable pull
// consumer with explicit acks and max_ack_pending 1 (the order guarantee), acked after each message.

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
import type { TopicBus, TopicSubscription } from '../../runtime/index.js';
import { natsTopicBus } from '../../transport/index.js';
import { pipelinedRate, wallNow } from '../load.js';
import { PAYLOAD_BYTES_ARRAY, PAYLOAD_STRING } from '../payload.js';
import type { Scenario } from '../scenario.js';

/** Publishes outstanding at once, on both sides. */
const WINDOW = 256;

/** Waits until `delivered()` reaches `want` or the deadline passes; returns the events per second since `start`. */
async function deliveredRate(
  delivered: () => number,
  want: number,
  start: number,
  deadline: number,
): Promise<number> {
  while (delivered() < want && wallNow() < deadline) await new Promise((r) => setTimeout(r, 1));
  return (Math.min(delivered(), want) / (wallNow() - start)) * 1000;
}

/** `durable-topic`: see the file comment. */
export const durableTopic: Scenario = {
  name: 'durable-topic',
  description: `natsTopicBus durable topic: publish (${WINDOW} in flight) -> durable subscription (one in flight, acked after the handler) vs plain JetStream publish + durable pull consumer with max_ack_pending 1`,
  needs: ['nats'],
  metrics: () => [
    {
      id: 'throughput',
      label: 'events published and delivered (end to end)',
      unit: 'msg/s',
      kind: 'throughput',
      better: 'higher',
      target: 0.8,
    },
    {
      id: 'publish',
      label: `acknowledged publishes (window ${WINDOW})`,
      unit: 'msg/s',
      kind: 'throughput',
      better: 'higher',
      target: 0.8,
    },
  ],
  async open(ctx) {
    const url = ctx.natsUrl!;
    const ns = ctx.namespace.replace(/[^A-Za-z0-9_-]/g, '_');
    const bus: TopicBus = await natsTopicBus({ servers: url, namespace: ns, durable: ['bench.>'] });
    let handled = 0;
    const sub: TopicSubscription = await bus.subscribe(
      'bench.>',
      () => {
        handled++;
      },
      { durable: 'bench' },
    );

    // Baseline: the same shape in plain JetStream.
    const nc: NatsConnection = await connect({ servers: url, name: 'bench-topic-baseline' });
    const jsm = await jetstreamManager(nc);
    const stream = `BASE_TOPIC_${ns}`;
    const subject = `base.${ns}.topic`;
    await jsm.streams.add({
      name: stream,
      subjects: [`${subject}.>`],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
    });
    await jsm.consumers.add(stream, {
      durable_name: 'c',
      filter_subject: `${subject}.>`,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.New,
      max_ack_pending: 1,
      ack_wait: 5_000_000_000,
    });
    const js = jetstream(nc);
    let consumed = 0;
    const messages: ConsumerMessages = await (await js.consumers.get(stream, 'c')).consume({
      max_messages: 16,
      expires: 5000,
    });
    void (async () => {
      for await (const m of messages) {
        consumed++;
        m.ack();
      }
    })();

    return {
      async round(budget) {
        const total = ctx.count(2_000, 10_000, budget);
        ctx.progress(`troupe: ${total} durable topic events, ${WINDOW} publishes in flight`);
        let before = handled;
        let start = wallNow();
        const troupePublish = await pipelinedRate({
          total,
          window: WINDOW,
          deadline: budget.deadline(),
          issue: () => bus.publish('bench.e', PAYLOAD_STRING),
        });
        const troupe = await deliveredRate(() => handled - before, total, start, budget.deadline());
        ctx.progress(`baseline: ${total} js.publish + consume with max_ack_pending 1`);
        before = consumed;
        start = wallNow();
        const basePublish = await pipelinedRate({
          total,
          window: WINDOW,
          deadline: budget.deadline(),
          issue: () => js.publish(`${subject}.e`, PAYLOAD_BYTES_ARRAY),
        });
        const baseline = await deliveredRate(() => consumed - before, total, start, budget.deadline());
        return {
          figures: {
            throughput: { troupe, baseline },
            publish: { troupe: troupePublish, baseline: basePublish },
          },
        };
      },
      async close() {
        messages.stop();
        await sub.delete().catch(() => undefined);
        await bus.close();
        await jsm.streams.delete(stream).catch(() => undefined);
        await jsm.streams.delete(`TROUPE_TOPICS_${ns}`).catch(() => undefined);
        await nc.close();
      },
    };
  },
};
