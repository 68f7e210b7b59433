// Signed cluster control frames: in a signed fleet, heartbeats, joins, goodbyes and shard release notices are
// signed by the node they speak for; forged ones (unsigned, unknown signer, tampered, or signed by a node
// speaking for another) change neither the membership view nor shard ownership, and are counted.

import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { connect, headers, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ActorSystem,
  createSystem,
  ErrorCode,
  hashPlacement,
  type Membership,
  type MembershipEvent,
  type NodeInfo,
  systemClock,
  TroupeError,
} from '../../runtime/index.js';
import { type HostedType, nodeInfo, type TransportSink } from '../../runtime/internal.js';
import { type ServerProcess, startNats } from '../../testing/index.js';
import {
  ControlRefusalCode,
  listNatsNodes,
  type NatsSecurityOptions,
  type NatsTransport,
  natsMembership,
  natsTransport,
} from '../../transport/index.js';
import { FrameSecurity, resolveSecurityOptions } from '../../transport/nats/security.js';
import { probeAnswer } from '../../transport/nats/security-probe.js';
import { placeShards } from '../../transport/nats/shard-placement.js';
import { ShardOwner } from '../../transport/nats/shards.js';
import { SIGNATURE_HEADER, SIGNER_HEADER, signFrame, verifyFrame } from '../../transport/nats/signing.js';
import { SubjectScheme } from '../../transport/nats/subjects.js';
import { type Account, account } from '../helpers/account.js';
import { until } from '../helpers/fixtures.js';

const NS = 'sc';
const SHARDS = 16;
const keys = {
  alpha: generateKeyPairSync('ed25519'),
  beta: generateKeyPairSync('ed25519'),
  gamma: generateKeyPairSync('ed25519'),
  mallory: generateKeyPairSync('ed25519'),
};
/** The fleet's keys: mallory's is unknown to every node. */
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

async function node(nodeId: keyof typeof publicKeys): Promise<Node> {
  const transport = natsTransport({
    servers: server.url,
    namespace: NS,
    security: security(nodeId),
    cluster: { heartbeatMs: 100, failureTimeoutMs: 600, moveIntervalMs: 50, moveBatch: 4, shards: SHARDS },
  });
  const system = await createSystem({ nodeId, transport });
  system.register('account', account, { passivateAfterMs: 0 });
  return { system, transport };
}

beforeAll(async () => {
  server = await startNats();
  raw = await connect({ servers: server.url });
  alpha = await node('alpha');
  beta = await node('beta');
});

afterAll(async () => {
  await beta?.system.close();
  await alpha?.system.close();
  await raw?.close();
  await server?.stop();
});

const MEMBERS = `troupe.${NS}.$members`;
const SHARD_NOTICES = `troupe.${NS}.$shards`;

/** Publishes `body` as JSON on `subject`, unsigned or signed with `key` under the signer header `signer`. */
function forge(subject: string, body: unknown, signer?: { id: string; key: KeyObject }): void {
  const data = new TextEncoder().encode(JSON.stringify(body));
  if (signer === undefined) {
    raw.publish(subject, data);
    return;
  }
  const h = headers();
  h.set(SIGNER_HEADER, signer.id);
  h.set(SIGNATURE_HEADER, signFrame(signer.key, data).toString('base64'));
  raw.publish(subject, data, { headers: h });
}

const beat = (id: string, kind = 'beat', types = ['account']) => ({
  v: 1,
  kind,
  node: { id, roles: [], types, durable: [], load: { actors: 0, mailbox: 0 }, startedAt: Date.now() },
});

/**
 * Publishes `body` as `frames`' node would: stamped (send time, incarnation, sequence) and signed, as a
 * genuine control frame.
 */
function genuine(subject: string, body: object, frames: FrameSecurity): void {
  const frame = frames.controlFrame(body);
  raw.publish(subject, frame.data, { headers: frame.headers });
}
/** A node's own frame security, to send genuine control frames from the test. */
const stamper = (node: keyof typeof publicKeys): FrameSecurity =>
  new FrameSecurity(resolveSecurityOptions(security(node))!, node, undefined);

const asAlpha = { id: 'alpha', key: keys.alpha.privateKey };
const asMallory = { id: 'mallory', key: keys.mallory.privateKey };
const zero = Object.fromEntries(Object.values(ControlRefusalCode).map((code) => [code, 0]));

const ids = (n: Node): string[] => n.transport.members().map((m) => m.id);
/** Both nodes see each other hosting the type and hold every shard exactly once between them. */
const settled = (): boolean => {
  const all = [alpha, beta].flatMap((n) => n.transport.ownedShards());
  return (
    all.length === SHARDS &&
    new Set(all).size === SHARDS &&
    [alpha, beta].every(
      (n) =>
        n.transport.ownedShards().length > 0 &&
        n.transport.members().length === 2 &&
        n.transport.members().every((m) => m.types.includes('account')),
    )
  );
};
const activeOn = (n: Node): string[] =>
  n.system
    .inspect()
    .filter((i) => i.address.startsWith('$v/'))
    .map((i) => i.address);

/**
 * Starts listening on `subject` (the server knows of the subscription when this resolves); `next` is the first
 * message `accept` takes.
 */
async function listen(
  subject: string,
  accept: (msg: Msg) => boolean = () => true,
): Promise<{ next: Promise<Msg> }> {
  let resolve!: (msg: Msg) => void;
  const next = new Promise<Msg>((r) => {
    resolve = r;
  });
  const sub = raw.subscribe(subject, {
    callback: (_err, msg) => {
      if (!accept(msg)) return;
      sub.unsubscribe();
      resolve(msg);
    },
  });
  await raw.flush();
  const timeout = setTimeout(() => sub.unsubscribe(), 10_000);
  void next.then(() => clearTimeout(timeout));
  return { next };
}

/** The first message on `subject` that `accept` takes, from now on. */
async function capture(subject: string, accept?: (msg: Msg) => boolean): Promise<Msg> {
  return (await listen(subject, accept)).next;
}

/**
 * Every id gets a deposit through beta and is asked through both nodes (beta first, so its tells were
 * handled); each runs on exactly one node.
 */
async function mailReachesOwners(prefix: string, count: number): Promise<void> {
  const list = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  for (const id of list) beta.system.virtual<Account>('account', id).tell({ type: 'deposit', amount: 2 });
  for (const via of [beta, alpha]) {
    const balances = await Promise.all(
      list.map((id) =>
        via.system.virtual<Account>('account', id).ask({ type: 'balance' }, { timeout: 5000 }),
      ),
    );
    expect(balances).toEqual(list.map(() => 2));
  }
  const active = [alpha, beta].flatMap(activeOn).filter((a) => a.startsWith(`$v/account/${prefix}-`));
  expect(active.sort()).toEqual(list.map((id) => `$v/account/${id}`).sort());
}

describe('signed cluster control frames', () => {
  it('forms membership and places virtual actors with signed heartbeats; observers still list the nodes', async () => {
    await until(() => ids(alpha).length === 2 && ids(beta).length === 2 && settled(), 10_000, 'settle');
    expect(ids(alpha)).toEqual(['alpha', 'beta']);
    expect(alpha.transport.ownedShards().length).toBeGreaterThan(0);
    expect(beta.transport.ownedShards().length).toBeGreaterThan(0);
    const heard = await capture(MEMBERS, (m) => m.headers?.get(SIGNER_HEADER) === 'beta');
    expect(JSON.parse(new TextDecoder().decode(heard.data)).node.id).toBe('beta');
    const sig = Buffer.from(heard.headers!.get(SIGNATURE_HEADER), 'base64');
    expect(verifyFrame(keys.beta.publicKey, heard.data, sig)).toBe(true);
    await mailReachesOwners('placed', 24);
    // `troupe nodes`: an unsigned probe asks the signed nodes to beat; the observer ignores the signatures.
    expect((await listNatsNodes(server.url, NS, 400)).map((n) => n.id)).toEqual(['alpha', 'beta']);
    // The fleet's own control frames all verified.
    expect(alpha.transport.controlRefusals()).toEqual(zero);
    expect(beta.transport.controlRefusals()).toEqual(zero);
  });

  it('ignores forged joins and heartbeats: the view, shard ownership and virtual mail stay as they were', async () => {
    await until(settled, 10_000, 'settle');
    const shardsBefore = [alpha.transport.ownedShards(), beta.transport.ownedShards()];
    const before = [alpha.transport.controlRefusals()!, beta.transport.controlRefusals()!];
    const events: string[] = [];
    const off = [alpha, beta].map((n) =>
      n.transport.membership!.onChange((e: MembershipEvent) => events.push(`${e.type}:${e.node.id}`)),
    );
    // A real beat of alpha's with its body changed (alpha hosts nothing) but its signature kept.
    const real = await capture(MEMBERS, (m) => m.headers?.get(SIGNER_HEADER) === 'alpha');
    const tampered = new TextEncoder().encode(
      new TextDecoder().decode(real.data).replace('"types":["account"]', '"types":[]'),
    );
    expect(tampered).not.toEqual(real.data);
    const ROUNDS = 12;
    // Forged over ~1.2 s (twice the failure timeout): unforged, mallory would join and take shards.
    for (let i = 0; i < ROUNDS; i++) {
      forge(MEMBERS, beat('mallory', i === 0 ? 'sync' : 'beat')); // unsigned
      forge(MEMBERS, beat('mallory'), asMallory); // an unknown signer
      forge(MEMBERS, beat('mallory'), asAlpha); // a known signer speaking for another node
      forge(MEMBERS, beat('beta', 'beat', []), asAlpha); // alpha claiming beta hosts nothing
      raw.publish(MEMBERS, tampered, { headers: real.headers! }); // alpha's signature over other bytes
      await new Promise((r) => setTimeout(r, 100));
    }
    const expected = (n: 'alpha' | 'beta', k: 0 | 1) => ({
      UNSIGNED_FRAME: before[k]!.UNSIGNED_FRAME + ROUNDS,
      UNKNOWN_SIGNER: before[k]!.UNKNOWN_SIGNER + ROUNDS,
      // beta ignores beats about itself; only alpha hears alpha's word about beta.
      WRONG_SIGNER: before[k]!.WRONG_SIGNER + ROUNDS * (n === 'alpha' ? 2 : 1),
      // alpha ignores beats about itself, tampered or not.
      BAD_SIGNATURE: before[k]!.BAD_SIGNATURE + (n === 'beta' ? ROUNDS : 0),
      // The fleet's own frames are fresh.
      STALE_FRAME: before[k]!.STALE_FRAME,
    });
    const same = (a: Record<string, number> | undefined, b: Record<string, number>): boolean =>
      a !== undefined && Object.keys(zero).every((code) => a[code] === b[code]);
    await until(
      () =>
        same(alpha.transport.controlRefusals(), expected('alpha', 0)) &&
        same(beta.transport.controlRefusals(), expected('beta', 1)),
      5000,
      'refusals counted',
    );
    expect(alpha.transport.controlRefusals()).toEqual(expected('alpha', 0));
    expect(beta.transport.controlRefusals()).toEqual(expected('beta', 1));
    for (const f of off) f();
    expect(events).toEqual([]);
    expect(ids(alpha)).toEqual(['alpha', 'beta']);
    expect(ids(beta)).toEqual(['alpha', 'beta']);
    expect(alpha.transport.members().find((m) => m.id === 'beta')?.types).toEqual(['account']);
    expect(beta.transport.members().find((m) => m.id === 'alpha')?.types).toEqual(['account']);
    expect([alpha.transport.ownedShards(), beta.transport.ownedShards()]).toEqual(shardsBefore);
    await mailReachesOwners('forged-join', 24);
  });

  it('ignores forged goodbyes for a live node and forged shard release notices', async () => {
    await until(settled, 10_000, 'settle');
    const shardsBefore = [alpha.transport.ownedShards(), beta.transport.ownedShards()];
    const before = alpha.transport.controlRefusals()!;
    const events: string[] = [];
    const off = alpha.transport.membership!.onChange((e) => events.push(`${e.type}:${e.node.id}`));
    const betaShard = beta.transport.ownedShards()[0]!;
    forge(MEMBERS, beat('beta', 'leave')); // unsigned
    forge(MEMBERS, beat('beta', 'leave'), asAlpha); // signed by alpha, about beta
    forge(MEMBERS, { v: 1, kind: 'leave', node: { id: 'beta' } }, asMallory); // an unknown signer
    forge(SHARD_NOTICES, { released: betaShard, by: 'beta' }); // unsigned
    forge(SHARD_NOTICES, { released: betaShard, by: 'beta' }, asAlpha); // alpha speaking for beta
    await until(
      () => {
        const now = alpha.transport.controlRefusals()!;
        return (
          now.UNSIGNED_FRAME === before.UNSIGNED_FRAME + 2 &&
          now.WRONG_SIGNER === before.WRONG_SIGNER + 2 &&
          now.UNKNOWN_SIGNER === before.UNKNOWN_SIGNER + 1
        );
      },
      5000,
      'refusals counted',
    );
    await new Promise((r) => setTimeout(r, 300));
    off();
    expect(events).toEqual([]);
    expect(ids(alpha)).toEqual(['alpha', 'beta']);
    expect([alpha.transport.ownedShards(), beta.transport.ownedShards()]).toEqual(shardsBefore);
    await mailReachesOwners('forged-leave', 12);
  });

  it('signs a real goodbye, which the others act on at once', async () => {
    const before = [alpha.transport.controlRefusals(), beta.transport.controlRefusals()];
    const gamma = await node('gamma');
    await until(() => ids(alpha).length === 3 && ids(gamma).length === 3, 5000, 'gamma joined');
    const events: string[] = [];
    const off = alpha.transport.membership!.onChange((e) => events.push(`${e.type}:${e.node.id}`));
    const goodbye = await listen(MEMBERS, (m) => new TextDecoder().decode(m.data).includes('"kind":"leave"'));
    await gamma.system.drain();
    expect((await goodbye.next).headers?.get(SIGNER_HEADER)).toBe('gamma');
    await until(() => events.includes('left:gamma'), 5000, 'gamma left');
    off();
    expect(events).not.toContain('failed:gamma');
    await until(settled, 10_000, 'settle without gamma');
    // gamma's heartbeats, notices and goodbye all verified.
    expect([alpha.transport.controlRefusals(), beta.transport.controlRefusals()]).toEqual(before);
    expect(gamma.transport.controlRefusals()).toEqual(zero);
  });
});

describe('shard release notices of a signed node', () => {
  const hosted: HostedType[] = [{ type: 'account', placement: hashPlacement(), durable: false }];
  const OWNER_SHARDS = 32;

  /** A view of three nodes that the test changes by hand, and a shard owner for beta over it. */
  function owner(ns: string, signed: boolean) {
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
    const sink = { passivate: async () => undefined } as unknown as TransportSink;
    const frames = signed
      ? new FrameSecurity(resolveSecurityOptions(security('beta'))!, 'beta', undefined)
      : undefined;
    const shards = new ShardOwner({
      connection: raw,
      subjects: new SubjectScheme(ns),
      nodeId: 'beta',
      membership,
      sink,
      onFrame: () => undefined,
      shards: OWNER_SHARDS,
      moveBatch: 64,
      moveIntervalMs: 60_000,
      claimGraceMs: 60_000,
      clock: systemClock,
      security: frames,
    });
    return {
      shards,
      frames,
      /** gamma stops hosting the type but stays alive: the shards it held become beta's or alpha's. */
      gammaStopsHosting(): string[] {
        const view1 = placeShards(hosted, members, 'beta', OWNER_SHARDS).owners;
        members = members.map((m) => (m.id === 'gamma' ? nodeInfo('gamma') : m));
        const view2 = placeShards(hosted, members, 'beta', OWNER_SHARDS).owners;
        for (const l of listeners) l({ type: 'updated', node: members[2]!, at: Date.now() });
        return [...view2].filter(([k, o]) => o === 'beta' && view1.get(k) === 'gamma').map(([k]) => k);
      },
    };
  }

  it('counts a release only from the shard’s previous owner, signed by it', async () => {
    const ns = 'sn1';
    const notices = `troupe.${ns}.$shards`;
    const { shards, frames, gammaStopsHosting } = owner(ns, true);
    shards.start();
    shards.setTypes(hosted);
    await raw.flush();
    const moved = gammaStopsHosting();
    expect(moved.length).toBeGreaterThan(0);
    const key = moved[0]!;
    // gamma is alive and has not released: beta waits (the claim grace is a minute).
    expect(shards.owned()).not.toContain(key);
    forge(notices, { released: key, by: 'gamma' }); // unsigned
    forge(notices, { released: key, by: 'gamma' }, asAlpha); // alpha speaking for gamma
    forge(notices, { released: key, by: 'mallory' }, asMallory); // an unknown signer
    // alpha's own genuine (stamped) word, but alpha never held it.
    genuine(notices, { released: key, by: 'alpha' }, stamper('alpha'));
    const h = headers(); // gamma's signature over other bytes
    h.set(SIGNER_HEADER, 'gamma');
    h.set(SIGNATURE_HEADER, signFrame(keys.gamma.privateKey, new Uint8Array([1])).toString('base64'));
    raw.publish(notices, JSON.stringify({ released: key, by: 'gamma' }), { headers: h });
    await until(() => frames!.controlRefused.BAD_SIGNATURE === 1, 5000, 'notices read');
    expect(frames!.controlRefused).toEqual({
      UNSIGNED_FRAME: 1,
      BAD_SIGNATURE: 1,
      UNKNOWN_SIGNER: 1,
      WRONG_SIGNER: 1,
      STALE_FRAME: 0,
    });
    expect(shards.owned()).not.toContain(key);
    // gamma's own signed release frees the shard at once.
    genuine(notices, { released: key, by: 'gamma' }, stamper('gamma'));
    await until(() => shards.owned().includes(key), 5000, 'claimed after the real release');
    // beta's own release notices are signed by beta over the bytes sent.
    const released = await listen(notices);
    await shards.releaseAll();
    const notice = await released.next;
    expect(notice.headers?.get(SIGNER_HEADER)).toBe('beta');
    const sig = Buffer.from(notice.headers!.get(SIGNATURE_HEADER), 'base64');
    expect(verifyFrame(keys.beta.publicKey, notice.data, sig)).toBe(true);
    shards.close();
  });

  it('unsigned, keeps its behaviour: any notice frees the shard, and its own carry no headers', async () => {
    const ns = 'sn2';
    const notices = `troupe.${ns}.$shards`;
    const { shards, gammaStopsHosting } = owner(ns, false);
    shards.start();
    shards.setTypes(hosted);
    await raw.flush();
    const key = gammaStopsHosting()[0]!;
    expect(shards.owned()).not.toContain(key);
    forge(notices, { released: key, by: 'alpha' });
    await until(() => shards.owned().includes(key), 5000, 'claimed on an unsigned notice');
    const released = await listen(notices);
    await shards.releaseAll();
    const notice = await released.next;
    expect(notice.headers).toBeUndefined();
    expect(new TextDecoder().decode(notice.data)).toMatch(/^\{"released":"account\.\d+","by":"beta"\}$/);
    shards.close();
  });

  it('unsigned membership sends plain JSON heartbeats without headers', async () => {
    const connection = await connect({ servers: server.url });
    const heard = await listen('troupe.sn3.$members');
    const m = await natsMembership({ connection, nodeId: 'plain', namespace: 'sn3' });
    const msg = await heard.next;
    expect(msg.headers).toBeUndefined();
    expect(JSON.parse(new TextDecoder().decode(msg.data))).toMatchObject({ v: 1, kind: 'sync' });
    await m.close();
    await connection.close();
  });
});

describe('node-id probe in a signed fleet', () => {
  it('ignores forged and replayed answers for a free id, and still refuses an id a live node has', async () => {
    const ns = 'sp';
    const start = (id: keyof typeof publicKeys) =>
      createSystem({
        nodeId: id,
        transport: natsTransport({ servers: server.url, namespace: ns, security: security(id) }),
      });
    // Answers anyone may send for gamma: none is gamma's signature over the probe's own nonce.
    const replayed = probeAnswer(stamper('gamma'), 'gamma', '0'.repeat(32))!;
    const forger = raw.subscribe(`troupe.${ns}.gamma.$ping`, {
      callback: (_err, msg) => {
        const claim = new TextEncoder().encode(`troupe-probe gamma ${msg.headers?.get('Troupe-Probe')}`);
        msg.respond(); // unsigned
        for (const signer of [asMallory, asAlpha]) {
          const h = headers();
          h.set(SIGNER_HEADER, signer.id);
          h.set(SIGNATURE_HEADER, signFrame(signer.key, claim).toString('base64'));
          msg.respond(claim, { headers: h });
        }
        msg.respond(replayed.data, { headers: replayed.headers }); // gamma's answer to another probe
      },
    });
    await raw.flush();
    const gamma = await start('gamma');
    try {
      expect(gamma.nodeId).toBe('gamma');
      expect((gamma.transport as NatsTransport).controlRefusals()).toMatchObject({
        UNSIGNED_FRAME: 1,
        UNKNOWN_SIGNER: 1,
        WRONG_SIGNER: 1,
        STALE_FRAME: 1,
      });
      // The live gamma answers a second gamma's probe with its signature over that probe's nonce, even with the
      // forged answers around it.
      const err = await start('gamma').then(
        async (twin) => {
          await twin.close();
          return undefined;
        },
        (e: unknown) => e,
      );
      expect(TroupeError.is(err, ErrorCode.NameInUse)).toBe(true);
    } finally {
      forger.unsubscribe();
      await gamma.close();
    }
  });
});
