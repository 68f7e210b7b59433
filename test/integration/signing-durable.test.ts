// Signed durable mail (JetStream mailboxes): stored frames carry their sender's signature and are verified by
// the shard owner's consumer; a forged stored frame is terminated as a dead letter and never handled.

import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { connect, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ActorSystem,
  createSystem,
  defineActor,
  leastLoadedPlacement,
  type Reply,
} from '../../runtime/index.js';
import { type ServerProcess, startNats } from '../../testing/index.js';
import {
  type NatsSecurityOptions,
  type NatsTransport,
  natsTransport,
  SecurityErrorCode,
} from '../../transport/index.js';
import { until } from '../helpers/fixtures.js';
import { type NodeProcess, startNodeProcess, stopNodeProcess } from '../helpers/node-process.js';

type Ledger = { add: { n: number } };
const NS = 'sgd';
const seen: number[] = [];
const keys = { host: generateKeyPairSync('ed25519'), client: generateKeyPairSync('ed25519') };
const publicKeys = { host: keys.host.publicKey, client: keys.client.publicKey };
const security = (node: keyof typeof keys): NatsSecurityOptions => ({
  signing: { privateKey: keys[node].privateKey, publicKeys },
});

let server: ServerProcess;
let raw: NatsConnection;
let host: ActorSystem;
let client: ActorSystem;
let clientTransport: NatsTransport;

beforeAll(async () => {
  server = await startNats();
  raw = await connect({ servers: server.url });
  host = await createSystem({
    nodeId: 'host',
    transport: natsTransport({ servers: server.url, namespace: NS, security: security('host') }),
  });
  host.register(
    'ledger',
    defineActor<Ledger, undefined>({
      type: 'ledger',
      init: () => undefined,
      handlers: { add: (m) => void seen.push(m.n) },
    }),
    { durable: true, passivateAfterMs: 0 },
  );
  clientTransport = natsTransport({ servers: server.url, namespace: NS, security: security('client') });
  client = await createSystem({ nodeId: 'client', transport: clientTransport });
  await until(
    () => clientTransport.membership!.members().some((m) => m.durable.includes('ledger')),
    10_000,
    'durable type known',
  );
});

afterAll(async () => {
  await client?.close();
  await host?.close();
  await raw?.close();
  await server?.stop();
});

describe('signed durable mail', () => {
  it('stores signed frames, handles them, and terminates an unsigned one as a dead letter', async () => {
    let stored: Msg | undefined;
    const sub = raw.subscribe(`troupe.${NS}.$d.>`, {
      callback: (_err, msg) => {
        if (stored === undefined) stored = msg;
      },
    });
    await raw.flush();
    await client.virtual<Ledger>('ledger', 'a').send({ type: 'add', n: 1 });
    await until(() => seen.includes(1) && stored !== undefined, 10_000, 'signed durable mail handled');
    sub.unsubscribe();
    expect(stored!.headers?.get('Troupe-Signer')).toBe('client');
    // The same frame stored again without its signature (JetStream stores core publishes on its subjects).
    const base = host.deadLetters.byReason()[SecurityErrorCode.UnsignedFrame] ?? 0;
    const forged = new Uint8Array(stored!.data);
    raw.publish(stored!.subject, forged);
    await raw.flush();
    await until(
      () => (host.deadLetters.byReason()[SecurityErrorCode.UnsignedFrame] ?? 0) > base,
      10_000,
      'unsigned durable frame refused',
    );
    await client.virtual<Ledger>('ledger', 'a').send({ type: 'add', n: 2 });
    await until(() => seen.includes(2), 10_000, 'signed mail after the forgery');
    expect(seen.filter((n) => n === 1)).toHaveLength(1);
  });

  it('a host SIGKILLed mid-message: the heir verifies the stored signed frames and handles each once', async () => {
    const ns = 'sgk';
    const fixture = fileURLToPath(new URL('./fixtures/signing-host.mjs', import.meta.url));
    const pairs = {
      doomed: generateKeyPairSync('ed25519'),
      heir: generateKeyPairSync('ed25519'),
      sender: generateKeyPairSync('ed25519'),
    };
    const pem = (k: KeyObject, type: 'pkcs8' | 'spki') => k.export({ type, format: 'pem' }).toString();
    const env = (id: 'doomed' | 'heir', block: boolean): Record<string, string> => ({
      NATS_URL: server.url,
      NS: ns,
      NODE_ID: id,
      HOST_BLOCK: block ? '1' : '0',
      SIGN_KEY: pem(pairs[id].privateKey, 'pkcs8'),
      PUB_HOSTS: Object.keys(pairs).join(','),
      ...Object.fromEntries(Object.entries(pairs).map(([n, p]) => [`PUB_${n}`, pem(p.publicKey, 'spki')])),
    });
    const nodes: NodeProcess[] = [];
    const transport = natsTransport({
      servers: server.url,
      namespace: ns,
      cluster: { heartbeatMs: 100, failureTimeoutMs: 600, moveIntervalMs: 50, moveBatch: 4, shards: 4 },
      security: {
        signing: {
          privateKey: pairs.sender.privateKey,
          publicKeys: Object.fromEntries(Object.entries(pairs).map(([n, p]) => [n, p.publicKey])),
        },
      },
    });
    const sender = await createSystem({ nodeId: 'sender', transport });
    try {
      const doomed = await startNodeProcess(fixture, env('doomed', true), 'doomed host');
      nodes.push(doomed);
      await until(
        () => transport.membership!.members().some((m) => m.durable.includes('ledger')),
        10_000,
        'durable type known',
      );
      const ref = sender.virtual<Ledger>('ledger', 'k');
      for (const n of [1, 2, 3]) await ref.send({ type: 'add', n });
      await until(() => doomed.out.includes('BLOCKING'), 10_000, 'the doomed host blocks on 3');
      await stopNodeProcess(doomed, 'SIGKILL');
      expect(doomed.child.signalCode).toBe('SIGKILL');
      const heir = await startNodeProcess(fixture, env('heir', false), 'heir host');
      nodes.push(heir);
      await ref.send({ type: 'add', n: 4 });
      await until(() => heir.out.includes('SAW 4'), 20_000, 'the heir handles the mail');
      expect(doomed.out.filter((l) => l.startsWith('SAW'))).toEqual(['SAW 1', 'SAW 2']);
      // 3 was stored signed, never acked: redelivered to the heir, verified, handled; nothing refused.
      expect(heir.out.filter((l) => l.startsWith('SAW'))).toEqual(['SAW 3', 'SAW 4']);
      expect(heir.out.filter((l) => l.startsWith('DEAD'))).toEqual([]);
    } finally {
      await sender.close();
      await Promise.all(nodes.map((n) => stopNodeProcess(n, 'SIGKILL')));
    }
  }, 60_000);

  it('forwards directory-placed mail with its sender signature: the host verifies the sender', async () => {
    const ns = 'sgdir';
    const pairs = {
      h1: generateKeyPairSync('ed25519'),
      h2: generateKeyPairSync('ed25519'),
      c: generateKeyPairSync('ed25519'),
    };
    const pubs = Object.fromEntries(Object.entries(pairs).map(([n, p]) => [n, p.publicKey]));
    type Acct = { deposit: { amount: number }; balance: Reply<number> };
    const acct = defineActor<Acct, number>({
      type: 'acct',
      init: () => 0,
      handlers: {
        deposit: (m, ctx) => {
          ctx.state += m.amount;
        },
        balance: (_m, ctx) => ctx.state,
      },
    });
    const transports: NatsTransport[] = [];
    const make = async (id: keyof typeof pairs, hosts: boolean) => {
      const transport = natsTransport({
        servers: server.url,
        namespace: ns,
        cluster: { heartbeatMs: 100, failureTimeoutMs: 600, moveIntervalMs: 50, moveBatch: 4, shards: 4 },
        security: { signing: { privateKey: pairs[id].privateKey, publicKeys: pubs } },
      });
      transports.push(transport);
      const system = await createSystem({ nodeId: id, transport });
      if (hosts) system.register('acct', acct, { placement: leastLoadedPlacement(), passivateAfterMs: 0 });
      return system;
    };
    const h1 = await make('h1', true);
    const h2 = await make('h2', true);
    const c = await make('c', false);
    try {
      // h1 is loaded: new activations go to h2, and mail to h1's shards is forwarded there.
      for (let i = 0; i < 40; i++) h1.spawn(acct);
      const [t1, t2, tc] = transports as [NatsTransport, NatsTransport, NatsTransport];
      await until(
        () =>
          t1.ownedShards().length > 0 &&
          t2.ownedShards().length > 0 &&
          (tc.members().find((m) => m.id === 'h1')?.load.actors ?? 0) >= 40,
        10_000,
        'settled with h1 loaded',
      );
      const ids = Array.from({ length: 20 }, (_, i) => `a${i}`);
      for (const id of ids) c.virtual<Acct>('acct', id).tell({ type: 'deposit', amount: 2 });
      const balances = await Promise.all(
        ids.map((id) => c.virtual<Acct>('acct', id).ask({ type: 'balance' }, { timeout: 5000 })),
      );
      expect(balances).toEqual(ids.map(() => 2));
      const onH2 = h2.inspect().filter((a) => a.address.startsWith('$v/acct/')).length;
      expect(onH2).toBe(20);
      const refused = Object.values(SecurityErrorCode).map((code) => h2.deadLetters.byReason()[code] ?? 0);
      expect(refused).toEqual([0, 0, 0, 0, 0]);
    } finally {
      await c.close();
      await h2.close();
      await h1.close();
    }
  }, 30_000);
});
