// Replayed control frames of a signed fleet: a recorded genuine heartbeat, goodbye or shard release notice
// carries its sender's send time, incarnation and sequence in its signed bytes, so played again it is refused
// (STALE_FRAME): a dead node is not kept alive, a live node does not vanish, a shard is not freed twice. A node
// restarted with the same id and key is a new incarnation, heard at once.

import { generateKeyPairSync } from 'node:crypto';
import { connect, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ActorSystem,
  createSystem,
  hashPlacement,
  type Membership,
  type MembershipEvent,
  type NodeInfo,
  systemClock,
} from '../../runtime/index.js';
import { type HostedType, nodeInfo, type TransportSink } from '../../runtime/internal.js';
import { type ServerProcess, startNats } from '../../testing/index.js';
import {
  ControlRefusalCode,
  listNatsNodes,
  type NatsSecurityOptions,
  type NatsTransport,
  natsTransport,
} from '../../transport/index.js';
import { FrameSecurity, resolveSecurityOptions } from '../../transport/nats/security.js';
import { placeShards } from '../../transport/nats/shard-placement.js';
import { ShardOwner } from '../../transport/nats/shards.js';
import { SIGNER_HEADER } from '../../transport/nats/signing.js';
import { SubjectScheme } from '../../transport/nats/subjects.js';
import { type Account, account } from '../helpers/account.js';
import { until } from '../helpers/fixtures.js';

const NS = 'rp';
const SHARDS = 16;
const FAILURE_TIMEOUT_MS = 600;
const keys = {
  alpha: generateKeyPairSync('ed25519'),
  beta: generateKeyPairSync('ed25519'),
  gamma: generateKeyPairSync('ed25519'),
};
const publicKeys = { alpha: keys.alpha.publicKey, beta: keys.beta.publicKey, gamma: keys.gamma.publicKey };
const security = (node: keyof typeof publicKeys): NatsSecurityOptions => ({
  signing: { privateKey: keys[node].privateKey, publicKeys },
});

interface Node {
  system: ActorSystem;
  transport: NatsTransport;
}

let server: ServerProcess;
let raw: NatsConnection;
let alpha: Node;
let beta: Node;
const started: Node[] = [];

async function node(nodeId: keyof typeof publicKeys): Promise<Node> {
  const transport = natsTransport({
    servers: server.url,
    namespace: NS,
    security: security(nodeId),
    cluster: {
      heartbeatMs: 100,
      failureTimeoutMs: FAILURE_TIMEOUT_MS,
      moveIntervalMs: 50,
      moveBatch: 4,
      shards: SHARDS,
    },
  });
  const system = await createSystem({ nodeId, transport });
  system.register('account', account, { passivateAfterMs: 0 });
  const n = { system, transport };
  started.push(n);
  return n;
}

/** The node stops dead: its connection closes, no goodbye, no release notice. */
async function crash(n: Node): Promise<void> {
  await n.transport.connection!.close();
}

beforeAll(async () => {
  server = await startNats();
  raw = await connect({ servers: server.url });
  alpha = await node('alpha');
  beta = await node('beta');
});

afterAll(async () => {
  for (const n of started.reverse()) await n.system.close().catch(() => undefined);
  await raw?.close();
  await server?.stop();
});

const MEMBERS = `troupe.${NS}.$members`;
const decode = (m: Msg): { kind?: string; node?: { id?: string; types?: string[] } } =>
  JSON.parse(new TextDecoder().decode(m.data));
const from = (id: string) => (m: Msg) => m.headers?.get(SIGNER_HEADER) === id;

/** Records what `accept` takes on `subject` until `stop` is called. */
async function record(subject: string, accept: (m: Msg) => boolean): Promise<{ stop: () => Msg[] }> {
  const seen: Msg[] = [];
  const sub = raw.subscribe(subject, {
    callback: (_err, m) => {
      if (accept(m)) seen.push(m);
    },
  });
  await raw.flush();
  return {
    stop: () => {
      sub.unsubscribe();
      return seen;
    },
  };
}

/** Publishes a recorded message again, byte for byte, headers (signature) included. */
function replay(m: Msg): void {
  raw.publish(m.subject, m.data, { headers: m.headers! });
}

const ids = (n: Node): string[] => n.transport.members().map((m) => m.id);
const stale = (n: Node): number => n.transport.controlRefusals()!.STALE_FRAME;
const zero = Object.fromEntries(Object.values(ControlRefusalCode).map((code) => [code, 0]));

/** The nodes see each other hosting the type and hold every shard exactly once between them. */
const settled = (nodes: Node[]) => (): boolean => {
  const all = nodes.flatMap((n) => n.transport.ownedShards());
  return (
    all.length === SHARDS &&
    new Set(all).size === SHARDS &&
    nodes.every(
      (n) =>
        n.transport.ownedShards().length > 0 &&
        n.transport.members().length === nodes.length &&
        n.transport.members().every((m) => m.types.includes('account')),
    )
  );
};

/** Every id gets a deposit and is asked, through `via`: mail reaches an owner for each. */
async function mailReachesOwners(via: Node, prefix: string, count: number): Promise<void> {
  const list = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  for (const id of list) via.system.virtual<Account>('account', id).tell({ type: 'deposit', amount: 2 });
  const balances = await Promise.all(
    list.map((id) => via.system.virtual<Account>('account', id).ask({ type: 'balance' }, { timeout: 5000 })),
  );
  expect(balances).toEqual(list.map(() => 2));
}

function watch(n: Node): { events: string[]; off: () => void } {
  const events: string[] = [];
  const off = n.transport.membership!.onChange((e: MembershipEvent) => events.push(`${e.type}:${e.node.id}`));
  return { events, off: () => void off() };
}

describe('replayed control frames of a signed fleet', () => {
  it('a genuine fleet refuses none of its own frames; observers still list it', async () => {
    await until(settled([alpha, beta]), 10_000, 'settle');
    await new Promise((r) => setTimeout(r, 300));
    expect(alpha.transport.controlRefusals()).toEqual(zero);
    expect(beta.transport.controlRefusals()).toEqual(zero);
    expect((await listNatsNodes(server.url, NS, 400)).map((n) => n.id)).toEqual(['alpha', 'beta']);
  });

  it('a dead node’s recorded heartbeats, replayed, do not keep it alive: it fails on time, its shards move', async () => {
    const recorder = await record(MEMBERS, from('gamma'));
    const gamma = await node('gamma');
    await until(settled([alpha, beta, gamma]), 10_000, 'gamma settled');
    await new Promise((r) => setTimeout(r, 300)); // a few more of gamma's beats, types and all
    const beats = recorder.stop().filter((m) => decode(m).kind !== 'leave');
    expect(beats.length).toBeGreaterThan(3);
    expect(beats.some((m) => decode(m).node?.types?.includes('account'))).toBe(true);
    const gammaShards = gamma.transport.ownedShards();
    expect(gammaShards.length).toBeGreaterThan(0);
    const { events, off } = watch(alpha);
    const before = [stale(alpha), stale(beta)];

    await crash(gamma);
    const crashedAt = Date.now();
    // Replayed every heartbeat interval, the recorded beats in turn (the last ones heard first), for well past
    // the failure timeout.
    let replays = 0;
    let failedAfter: number | undefined;
    const order = [...beats].reverse();
    while (Date.now() - crashedAt < 4 * FAILURE_TIMEOUT_MS) {
      replay(order[replays % order.length]!);
      replays++;
      if (failedAfter === undefined && events.includes('failed:gamma')) failedAfter = Date.now() - crashedAt;
      await new Promise((r) => setTimeout(r, 100));
    }
    if (failedAfter === undefined && events.includes('failed:gamma')) failedAfter = Date.now() - crashedAt;
    off();
    expect(failedAfter).toBeDefined();
    // Declared failed on time: the failure timeout, plus a heartbeat tick and scheduling slack.
    expect(failedAfter!).toBeLessThan(FAILURE_TIMEOUT_MS + 1000);
    // Never seen again once failed: no replayed beat rejoined it.
    expect(events.filter((e) => e.endsWith(':gamma'))).toEqual(['failed:gamma']);
    expect(ids(alpha)).toEqual(['alpha', 'beta']);
    expect(ids(beta)).toEqual(['alpha', 'beta']);
    await until(settled([alpha, beta]), 10_000, 'gamma’s shards moved');
    const survivors = [...alpha.transport.ownedShards(), ...beta.transport.ownedShards()];
    for (const s of gammaShards) expect(survivors).toContain(s);
    // Each replay was refused by both survivors, as stale.
    await until(
      () => stale(alpha) === before[0]! + replays && stale(beta) === before[1]! + replays,
      5000,
      'replays counted',
    );
    await mailReachesOwners(alpha, 'after-replayed-beats', 16);
    await gamma.system.close().catch(() => undefined);
  });

  it('a node restarted with the same id and key rejoins at once; its previous run’s beats are refused', async () => {
    const recorder = await record(MEMBERS, from('gamma'));
    const first = await node('gamma');
    await until(settled([alpha, beta, first]), 10_000, 'gamma settled');
    const oldBeats = recorder.stop();
    expect(oldBeats.length).toBeGreaterThan(0);
    const { events, off } = watch(alpha);
    const before = [stale(alpha), stale(beta)];

    await crash(first);
    const restartedAt = Date.now();
    const second = await node('gamma'); // a new incarnation: its sequence starts again
    await until(() => ids(second).length === 3, 5000, 'the new gamma sees the fleet');
    // Heard at once: well within a failure timeout, so the others never even declared it failed.
    expect(Date.now() - restartedAt).toBeLessThan(FAILURE_TIMEOUT_MS);
    await until(settled([alpha, beta, second]), 10_000, 'settled with the new gamma');
    await new Promise((r) => setTimeout(r, 2 * FAILURE_TIMEOUT_MS));
    // Never failed, left or joined again: only its types changed (the new run registers them after binding).
    expect(events.filter((e) => !e.startsWith('updated:'))).toEqual([]);
    expect(ids(alpha)).toEqual(['alpha', 'beta', 'gamma']);
    // Not one of the new run's frames was refused.
    expect([stale(alpha), stale(beta)]).toEqual(before);
    expect(second.transport.controlRefusals()).toEqual(zero);
    // The previous run's beats, replayed, are from an earlier incarnation.
    for (const m of oldBeats) replay(m);
    await until(
      () => stale(alpha) === before[0]! + oldBeats.length && stale(beta) === before[1]! + oldBeats.length,
      5000,
      'old incarnation refused',
    );
    off();
    await mailReachesOwners(alpha, 'after-restart', 16);
    await first.system.close().catch(() => undefined);
    await second.system.drain();
    await until(settled([alpha, beta]), 10_000, 'settle without gamma');
  });

  it('a recorded goodbye, replayed after the node came back, does not remove it', async () => {
    const first = await node('gamma');
    await until(settled([alpha, beta, first]), 10_000, 'gamma settled');
    const goodbyes = await record(MEMBERS, (m) => from('gamma')(m) && decode(m).kind === 'leave');
    const { events, off } = watch(alpha);
    await first.system.drain();
    await until(() => events.includes('left:gamma'), 5000, 'gamma left');
    const [goodbye] = goodbyes.stop();
    expect(goodbye).toBeDefined();
    // Replayed while gamma is away: nothing to remove, and refused (the same goodbye, heard already).
    const before = [stale(alpha), stale(beta)];
    replay(goodbye!);
    await until(() => stale(alpha) === before[0]! + 1, 5000, 'refused while away');

    const second = await node('gamma');
    await until(() => ids(alpha).includes('gamma') && ids(beta).includes('gamma'), 5000, 'gamma back');
    await until(settled([alpha, beta, second]), 10_000, 'settled with gamma back');
    const back = [stale(alpha), stale(beta)];
    expect(back).toEqual([before[0]! + 1, before[1]! + 1]);
    const ROUNDS = 8;
    for (let i = 0; i < ROUNDS; i++) {
      replay(goodbye!);
      await new Promise((r) => setTimeout(r, 50));
    }
    await until(
      () => stale(alpha) === back[0]! + ROUNDS && stale(beta) === back[1]! + ROUNDS,
      5000,
      'replayed goodbyes refused',
    );
    off();
    // Back once and never removed again (its types arriving after it joined are an update).
    expect(events.filter((e) => !e.startsWith('updated:'))).toEqual(['left:gamma', 'joined:gamma']);
    expect(ids(alpha)).toEqual(['alpha', 'beta', 'gamma']);
    expect(ids(beta)).toEqual(['alpha', 'beta', 'gamma']);
    expect(settled([alpha, beta, second])()).toBe(true);
    await mailReachesOwners(beta, 'after-replayed-goodbye', 16);
    await second.system.drain();
    await until(settled([alpha, beta]), 10_000, 'settle without gamma');
  });
});

describe('replayed shard release notices', () => {
  const hosted: HostedType[] = [{ type: 'account', placement: hashPlacement(), durable: false }];
  const OWNER_SHARDS = 32;

  it('a shard freed by its previous owner’s notice is not freed again by that notice replayed', async () => {
    const ns = 'rp-notices';
    const notices = `troupe.${ns}.$shards`;
    // A view of three nodes that the test changes by hand, and a shard owner for beta over it.
    let members: NodeInfo[] = ['alpha', 'beta', 'gamma'].map((id) => nodeInfo(id, { types: ['account'] }));
    const listeners = new Set<(e: MembershipEvent) => void>();
    const membership = {
      self: members[1]!,
      members: () => members,
      onChange: (l: (e: MembershipEvent) => void) => {
        listeners.add(l);
        return () => listeners.delete(l);
      },
      setTypes: () => undefined,
    } as unknown as Membership;
    const gammaHosts = (hosting: boolean): void => {
      members = members.map((m) =>
        m.id === 'gamma' ? nodeInfo('gamma', { types: hosting ? ['account'] : [] }) : m,
      );
      for (const l of listeners) l({ type: 'updated', node: members[2]!, at: Date.now() });
    };
    const frames = new FrameSecurity(resolveSecurityOptions(security('beta'))!, 'beta', undefined);
    const shards = new ShardOwner({
      connection: raw,
      subjects: new SubjectScheme(ns),
      nodeId: 'beta',
      membership,
      sink: { passivate: async () => undefined } as unknown as TransportSink,
      onFrame: () => undefined,
      shards: OWNER_SHARDS,
      moveBatch: 64,
      moveIntervalMs: 60_000,
      claimGraceMs: 60_000, // only a release notice frees a shard of a live owner here
      clock: systemClock,
      security: frames,
    });
    shards.start();
    shards.setTypes(hosted);
    await raw.flush();
    const withGamma = placeShards(hosted, members, 'beta', OWNER_SHARDS).owners;
    const withoutGamma = placeShards(
      hosted,
      members.map((m) => (m.id === 'gamma' ? nodeInfo('gamma') : m)),
      'beta',
      OWNER_SHARDS,
    ).owners;
    const key = [...withoutGamma].find(([k, o]) => o === 'beta' && withGamma.get(k) === 'gamma')![0];

    // gamma stops hosting: the shard becomes beta's, once gamma's genuine notice says it let it go.
    gammaHosts(false);
    await new Promise((r) => setTimeout(r, 200));
    expect(shards.owned()).not.toContain(key);
    const gamma = new FrameSecurity(resolveSecurityOptions(security('gamma'))!, 'gamma', undefined);
    const released = gamma.controlFrame({ released: key, by: 'gamma' });
    raw.publish(notices, released.data, { headers: released.headers });
    await until(() => shards.owned().includes(key), 5000, 'claimed on the genuine notice');

    // gamma hosts again and gets the shard back; then stops again, still alive, and has not released it.
    gammaHosts(true);
    await until(() => !shards.owned().includes(key), 5000, 'handed back to gamma');
    gammaHosts(false);
    await new Promise((r) => setTimeout(r, 200));
    expect(shards.owned()).not.toContain(key);

    // The first notice, replayed: refused, the shard stays gamma's.
    for (let i = 0; i < 3; i++) raw.publish(notices, released.data, { headers: released.headers });
    await until(() => frames.controlRefused.STALE_FRAME === 3, 5000, 'replays refused');
    await new Promise((r) => setTimeout(r, 200));
    shards.schedule();
    await new Promise((r) => setTimeout(r, 200));
    expect(shards.owned()).not.toContain(key);
    expect(frames.controlRefused).toEqual({ ...zero, STALE_FRAME: 3 });

    // gamma's new notice frees it.
    const again = gamma.controlFrame({ released: key, by: 'gamma' });
    raw.publish(notices, again.data, { headers: again.headers });
    await until(() => shards.owned().includes(key), 5000, 'claimed on the new notice');
    expect(frames.controlRefused).toEqual({ ...zero, STALE_FRAME: 3 });
    shards.close();
  });
});
