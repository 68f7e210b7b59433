// Condition triggers on a real nats-server: events broadcast on a core NATS subject reach a trigger on each of
// two nodes; the condition picks the matching ones, the cooldown shared in NATS KV lets one node send per
// period (a third, late node still cools down), and the message reaches a durable virtual actor.

import { randomBytes } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ActorSystem, createSystem, defineActor, type KeyValueStore } from '../../runtime/index.js';
import { type ServerProcess, startNats } from '../../testing/index.js';
import { natsKeyValue, natsTransport } from '../../transport/index.js';
import { type ConditionTrigger, conditionTrigger, type EventSource } from '../../workflows/triggers/index.js';
import { until } from '../helpers/fixtures.js';

interface Alert {
  id: string;
  severity: number;
}

let nats: ServerProcess;
beforeAll(async () => {
  nats = await startNats();
});
afterAll(async () => {
  await nats?.stop();
});

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

const CLUSTER = { heartbeatMs: 100, failureTimeoutMs: 600, moveIntervalMs: 50, moveBatch: 4, shards: 4 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every event published on `subject`, through a connection of its own (a broadcast: each node sees all). */
function natsSource(subject: string): EventSource<Alert> {
  return async (handler) => {
    const nc = await connect({ servers: nats.url });
    const sub = nc.subscribe(subject, { callback: (_err, msg) => void handler(msg.json<Alert>()) });
    await nc.flush();
    return async () => {
      sub.unsubscribe();
      await nc.close();
    };
  };
}

describe('condition triggers on NATS', () => {
  it('two nodes over one broadcast: matching events only, one send per shared cooldown', async () => {
    const ns = `tr${randomBytes(3).toString('hex')}`;
    const subject = `alerts.${ns}`;
    const got: Alert[] = [];
    const triggers: ConditionTrigger<Alert>[] = [];
    async function node(nodeId: string): Promise<{ system: ActorSystem; kv: KeyValueStore }> {
      const system = await createSystem({
        nodeId,
        transport: natsTransport({ servers: nats.url, namespace: ns, cluster: CLUSTER }),
      });
      system.register(
        'oncall',
        defineActor<{ investigate: { alert: Alert } }>({
          handlers: { investigate: (m) => void got.push(m.alert) },
        }),
        { durable: true },
      );
      const kv = await natsKeyValue({ transport: system.transport, namespace: ns });
      const trigger = await conditionTrigger<Alert>({
        system,
        kv,
        name: 'severe',
        source: natsSource(subject),
        when: 'event.severity >= 3',
        cooldownMs: 2000,
        send: (alert) => ({
          to: '$v/oncall/primary',
          message: { type: 'investigate', alert },
          messageId: `alert:${alert.id}`,
        }),
      });
      triggers.push(trigger);
      cleanups.push(async () => {
        await trigger.close();
        await system.close();
      });
      return { system, kv };
    }
    await node('a');
    await node('b');
    await sleep(300); // membership settles
    const nc = await connect({ servers: nats.url });
    cleanups.push(() => nc.close());
    const publish = async (alert: Alert) => {
      nc.publish(subject, JSON.stringify(alert));
      await nc.flush();
    };
    const stat = (k: 'events' | 'matched' | 'sent' | 'cooling') =>
      triggers.reduce((n, t) => n + t.stats[k], 0);

    await publish({ id: 'e1', severity: 1 });
    await publish({ id: 'e2', severity: 5 });
    await until(() => got.length === 1, 10_000, 'the first send');
    await publish({ id: 'e3', severity: 4 }); // within the cooldown
    await until(() => stat('events') === 6, 5000, 'both nodes saw three events');
    // A node started now (a restart) reads the cooldown from the store.
    await node('c');
    await publish({ id: 'e4', severity: 9 });
    await until(() => stat('events') === 9, 5000, 'three nodes saw e4');
    expect(got.map((a) => a.id)).toEqual(['e2']);
    await sleep(2100);
    await publish({ id: 'e5', severity: 3 });
    await until(() => got.length === 2, 10_000, 'the send after the cooldown');
    await sleep(300);
    expect(got.map((a) => a.id)).toEqual(['e2', 'e5']);
    expect(stat('sent')).toBe(2);
    expect(stat('matched')).toBe(2 + 2 + 3 + 3); // e2, e3 on a and b; e4 and e5 on a, b and c
    expect(stat('cooling')).toBe(stat('matched') - 2);
  }, 40_000);
});
