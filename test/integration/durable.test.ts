// Durable virtual actors on JetStream: every acknowledged message is processed, in order, across a node's death.

import { randomBytes } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { defineActor, defineVirtual, ErrorCode, type Reply, TroupeError } from '../../runtime/index.js';
import { createCodec, natsKvPersistence } from '../../transport/index.js';
import { DurableMailboxes } from '../../transport/nats/durable.js';
import { type ClusterNode, natsCluster } from '../helpers/cluster.js';
import { until } from '../helpers/fixtures.js';

type Ledger = { add: { n: number }; seen: Reply<number[]> };

const SHARDS = 8;
const { cluster, url } = natsCluster(SHARDS);
type Node = ClusterNode;
const settled = (hosts: Node[]): boolean => cluster.settled(hosts);

async function node(nodeId: string, ns: string, host: boolean): Promise<Node> {
  return cluster.node(nodeId, ns, async ({ system, transport }) => {
    if (!host) return;
    const persistence = await natsKvPersistence<{ seen: number[] }>({
      connection: transport.connection!,
      bucket: ns,
    });
    const ledger = defineActor<Ledger, { seen: number[] }>({
      type: 'ledger',
      init: () => ({ seen: [] }),
      handlers: {
        add: (m, ctx) => {
          ctx.state.seen.push(m.n);
        },
        seen: (_m, ctx) => ctx.state.seen,
      },
      persistence,
    });
    system.register('ledger', ledger, { durable: true, passivateAfterMs: 0 });
  });
}

/** Removes repeats (at-least-once may redeliver) keeping first occurrences. */
const firstOccurrences = (list: number[]): number[] => [...new Set(list)];

let left = -1;

type Appender = { add: { n: number }; list: Reply<number[]> };

/**
 * A durable type whose state is the list of `n` it was told, saved to an in-memory store whose save fails
 * once, for the state ending in `failAt`. `stopAt` makes the actor stop itself after that `n` (once).
 */
async function appenderNode(nodeId: string, ns: string, failAt: number, stopAt?: number) {
  const store = new Map<string, number[]>();
  const flags = { failed: false, stopped: false };
  const node = await cluster.node(nodeId, ns, ({ system }) =>
    system.register(
      'appender',
      defineActor<Appender, number[]>({
        type: 'appender',
        supervision: {},
        init: () => [],
        persistence: {
          load: (ctx) => store.get(ctx.self.address)?.slice(),
          save: async (state, ctx) => {
            await new Promise((r) => setImmediate(r));
            if (state.at(-1) === failAt && !flags.failed) {
              flags.failed = true;
              throw new Error('store unavailable');
            }
            store.set(ctx.self.address, state.slice());
          },
        },
        handlers: {
          add: (m, ctx) => {
            ctx.state.push(m.n);
            if (m.n === stopAt && !flags.stopped) {
              flags.stopped = true;
              ctx.stop();
            }
          },
          list: (_m, ctx) => ctx.state,
        },
      }),
      { durable: true, passivateAfterMs: 0 },
    ),
  );
  await until(() => settled([node]), 10_000, 'settle');
  return { store, flags, ref: (id: string) => node.system.virtual<Appender>('appender', id) };
}

describe('durable virtual actors', () => {
  it('processes every acknowledged message in order per actor when a node dies mid-stream', async () => {
    const ns = `d${randomBytes(3).toString('hex')}`;
    const hosts = [await node('h1', ns, true), await node('h2', ns, true), await node('h3', ns, true)];
    const client = await node('client', ns, false);
    await until(
      () => settled(hosts) && hosts.every((h) => h.transport.ownedShards().length > 0),
      10_000,
      'settle',
    );
    await until(
      () => client.transport.membership!.members().some((m) => m.durable.includes('ledger')),
      5000,
      'durable type known',
    );

    const ids = Array.from({ length: 12 }, (_, i) => `l${i}`);
    const acknowledged = new Map<string, number>(ids.map((id) => [id, 0]));
    let stop = false;
    const stream = (async () => {
      for (let n = 1; !stop && n <= 400; n++) {
        await Promise.all(
          ids.map(async (id) => {
            await client.system.virtual<Ledger>('ledger', id).send({ type: 'add', n });
            acknowledged.set(id, n);
          }),
        );
      }
    })();
    await until(() => Math.min(...acknowledged.values()) >= 20, 10_000, 'stream under way');
    // A host dies without a goodbye while messages keep coming.
    const victim = hosts.find((h) => h.system.inspect().some((i) => i.address.startsWith('$v/ledger/')))!;
    await cluster.kill(victim);
    const survivors = hosts.filter((h) => h !== victim);
    await until(() => settled(survivors), 10_000, 'failover');
    await until(() => Math.min(...acknowledged.values()) >= 60, 20_000, 'stream continues after failover');
    stop = true;
    await stream;

    for (const id of ids) {
      const want = acknowledged.get(id)!;
      const ref = client.system.virtual<Ledger>('ledger', id);
      let seen: number[] = [];
      await until(
        () => {
          void ref.ask({ type: 'seen' }, { timeout: 2000 }).then(
            (s) => {
              seen = s;
            },
            () => undefined,
          );
          return firstOccurrences(seen).length >= want;
        },
        20_000,
        `all ${want} messages of ${id}`,
      );
      const unique = firstOccurrences(seen);
      expect(unique.slice(0, want)).toEqual(Array.from({ length: want }, (_, i) => i + 1));
    }
    // The messages really went through the store, and every one was acknowledged away (work queue).
    const jsm = await jetstreamManager(client.transport.connection!);
    const total = [...acknowledged.values()].reduce((a, b) => a + b, 0);
    const info = await jsm.streams.info(`TROUPE_${ns}`);
    expect(info.state.last_seq).toBeGreaterThanOrEqual(total);
    await until(
      () => {
        void jsm.streams.info(`TROUPE_${ns}`).then(
          (i) => {
            left = i.state.messages;
          },
          () => undefined,
        );
        return left === 0;
      },
      10_000,
      'stream drained',
    );
  });

  it('stores a durable send made while no host runs, and hands it over once one starts', async () => {
    const ns = `d${randomBytes(3).toString('hex')}`;
    const client = await node('client', ns, false);
    const nc = await connect({ servers: url() });
    try {
      // A sender that only names the type cannot know it is durable: it is told so, nothing is guessed.
      const undeclared = await client.system
        .virtual<Ledger>('ledger', 'a')
        .send({ type: 'add', n: 0 })
        .catch((e: unknown) => e);
      expect(TroupeError.is(undeclared, ErrorCode.NoResponders)).toBe(true);

      // A sender that declares it stores it, creating the stream; nothing hosts the type yet.
      const ledgerType = defineVirtual(
        'ledger',
        defineActor<Ledger, { seen: number[] }>({ handlers: { add: () => undefined, seen: () => [] } }),
        { durable: true },
      );
      for (let n = 1; n <= 20; n++) await client.system.virtual(ledgerType, 'a').send({ type: 'add', n });
      const jsm = await jetstreamManager(nc);
      expect((await jsm.streams.info(`TROUPE_${ns}`)).state.messages).toBe(20);

      // A host that starts later handles every one of them, in order.
      const host = await node('h1', ns, true);
      await until(() => settled([host]), 10_000, 'settle');
      const ref = client.system.virtual(ledgerType, 'a');
      let seen: number[] = [];
      for (const deadline = Date.now() + 15_000; seen.length < 20 && Date.now() < deadline; ) {
        seen = await ref.ask({ type: 'seen' }, { timeout: 2000 }).catch(() => []);
        if (seen.length < 20) await new Promise((r) => setTimeout(r, 50));
      }
      expect(seen).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    } finally {
      await nc.close();
    }
  });

  it('keeps order when an actor stops with durable mail still queued behind it', async () => {
    const ns = `d${randomBytes(3).toString('hex')}`;
    const handled: number[] = [];
    let activations = 0;
    type Quitter = { n: { n: number; quit?: boolean } };
    const host = await cluster.node('q1', ns, ({ system }) =>
      system.register(
        'quitter',
        defineActor<Quitter, null>({
          type: 'quitter',
          init: () => {
            activations++;
            return null;
          },
          handlers: {
            n: async (m, ctx) => {
              // Slow enough that later mail piles up in the mailbox (and more is in flight from JetStream).
              await new Promise((r) => setImmediate(r));
              handled.push(m.n);
              if (m.quit) ctx.stop();
            },
          },
        }),
        { durable: true, passivateAfterMs: 0 },
      ),
    );
    await until(() => settled([host]), 10_000, 'settle');
    const ref = host.system.virtual<Quitter>('quitter', 'q');
    const total = 2000;
    await Promise.all(
      Array.from({ length: total }, (_, i) => ref.send({ type: 'n', n: i + 1, quit: (i + 1) % 500 === 0 })),
    );
    await until(() => handled.length >= total, 20_000, 'all handled');
    // The mail queued behind each stop went to the next activation before anything newer.
    expect(handled).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(activations).toBe(4);
  });

  it('does not let a publish overtake the ones waiting for the stream to be created', async () => {
    const ns = `d${randomBytes(3).toString('hex')}`;
    const conn = await connect({ servers: url() });
    try {
      const mailboxes = new DurableMailboxes({
        connection: conn,
        namespace: ns,
        nodeId: 'solo',
        codec: createCodec(),
        deliver: () => undefined,
        reject: () => undefined,
        lost: async () => undefined,
      });
      const subject = mailboxes.subjectOf('t', 0, 'a');
      const encode = (n: number) => new TextEncoder().encode(String(n));
      // The second publish is called from a callback that runs as soon as the stream exists, before the
      // callback that sends the first one, which waited for the same moment.
      const second = mailboxes.ready().then(() => mailboxes.publish(subject, encode(2), undefined));
      const first = mailboxes.publish(subject, encode(1), undefined);
      await Promise.all([first, second]);
      const jsm = await jetstreamManager(conn);
      const stored = await Promise.all(
        [1, 2].map(async (seq) => {
          const stored = await jsm.streams.getMessage(`TROUPE_${ns}`, { seq });
          return stored && new TextDecoder().decode(stored.data);
        }),
      );
      expect(stored).toEqual(['1', '2']);
    } finally {
      await conn.close();
    }
  });

  it('handles a message again, before newer ones, when saving its state failed', async () => {
    const { store, flags, ref } = await appenderNode('k1', `d${randomBytes(3).toString('hex')}`, 3);
    const k = ref('k');
    await Promise.all(Array.from({ length: 10 }, (_, i) => k.send({ type: 'add', n: i + 1 })));
    const want = Array.from({ length: 10 }, (_, i) => i + 1);
    await until(() => store.get('$v/appender/k')?.length === 10, 10_000, 'all saved');
    expect(flags.failed).toBe(true);
    expect(store.get('$v/appender/k')).toEqual(want);
    expect(await k.ask({ type: 'list' })).toEqual(want);
  });

  it('hands a durable message on when its save fails while the actor is stopping', async () => {
    // The actor stops itself after 2, and the save of 2 fails while it is stopping.
    const { store, flags, ref } = await appenderNode('t1', `d${randomBytes(3).toString('hex')}`, 2, 2);
    for (const n of [1, 2, 3, 4]) await ref('s').send({ type: 'add', n });
    await until(() => store.get('$v/appender/s')?.length === 4, 10_000, 'all saved');
    expect(flags).toEqual({ failed: true, stopped: true });
    expect(store.get('$v/appender/s')).toEqual([1, 2, 3, 4]);
  });
});
