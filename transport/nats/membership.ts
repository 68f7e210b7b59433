// Cluster membership over NATS: heartbeats on one subject, failure detection by silence, no coordinator.

import { connect, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import {
  type Clock,
  InvalidOptionsError,
  type Membership,
  type MembershipEvent,
  type NodeInfo,
  type NodeLoad,
  systemClock,
  type TimerHandle,
} from '../../runtime/index.js';
import { assertOptionsObject, assertValidName, intOption, nodeInfo } from '../../runtime/internal.js';
import { type NatsAuthOptions, natsAuthConnectOptions } from './options.js';
import type { FrameSecurity } from './security.js';
import { membersSubject } from './subjects.js';

/** Options of {@link natsMembership}. */
export interface NatsMembershipOptions {
  connection: NatsConnection;
  nodeId: string;
  /** @defaultValue `default` (must match the transport's namespace) */
  namespace?: string;
  /** @defaultValue [] */
  roles?: string[];
  /**
   * How often a node announces itself.
   * @defaultValue 500
   */
  heartbeatMs?: number;
  /**
   * A node silent this long is declared failed. The default detects a dead node within 3 s.
   * @defaultValue 2000
   */
  failureTimeoutMs?: number;
  /** @defaultValue the real clock */
  clock?: Clock;
  /**
   * @internal Set by a signed transport: this node stamps and signs its heartbeats, and a heartbeat, join or
   * goodbye counts only when signed by the node it is about and fresh, no replay (a probe, which only asks for
   * heartbeats, needs neither).
   */
  security?: FrameSecurity | undefined;
}

interface Beat {
  v: 1;
  kind: 'beat' | 'leave' | 'sync' | 'probe';
  node: NodeInfo;
  /** Signed fleets only: the sender's freshness stamp (a `ControlStamp`), checked by `FrameSecurity`. */
  stamp?: unknown;
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** A node's info from a heartbeat, every field checked: a heartbeat is input from the wire. */
function nodeInfoOf(node: NodeInfo): NodeInfo {
  return nodeInfo(node.id, {
    roles: strings(node.roles),
    types: strings(node.types),
    durable: strings(node.durable),
    load: { actors: Number(node.load?.actors) || 0, mailbox: Number(node.load?.mailbox) || 0 },
    startedAt: Number(node.startedAt) || 0,
  });
}

interface Peer {
  info: NodeInfo;
  lastSeen: number;
}

/**
 * Starts membership for one node. A joining node asks everyone to announce themselves at once, so its view
 * is complete within a round trip rather than a heartbeat interval.
 *
 * @example
 * const members = await natsMembership({ connection, nodeId: 'n1', roles: ['gpu'] });
 * members.onChange((e) => console.log(e.type, e.node.id));
 */
export async function natsMembership(options: NatsMembershipOptions): Promise<Membership> {
  assertOptionsObject(options, 'options');
  if (typeof options.connection?.publish !== 'function')
    throw new InvalidOptionsError('connection', 'expected a NATS connection');
  const heartbeatMs = options.heartbeatMs ?? 500;
  const failureTimeoutMs = options.failureTimeoutMs ?? 2000;
  if (!(heartbeatMs > 0)) throw new InvalidOptionsError('heartbeatMs', 'must be > 0');
  if (!(failureTimeoutMs > heartbeatMs))
    throw new InvalidOptionsError('failureTimeoutMs', 'must exceed heartbeatMs');
  assertValidName(options.nodeId, 'node id');
  const namespace = options.namespace ?? 'default';
  const clock = options.clock ?? systemClock;
  const nc = options.connection;
  const security = options.security;
  const subject = membersSubject(namespace);
  let loadSource: () => NodeLoad = () => ({ actors: 0, mailbox: 0 });
  const self = nodeInfo(options.nodeId, {
    roles: [...(options.roles ?? [])],
    load: loadSource(),
    startedAt: clock.now(),
  });
  const peers = new Map<string, Peer>();
  const listeners = new Set<(event: MembershipEvent) => void>();
  let timer: TimerHandle | undefined;
  let state: 'open' | 'closed' = 'open';
  let resolveClosed!: (err: Error | undefined) => void;
  const whenClosed = new Promise<Error | undefined>((resolve) => {
    resolveClosed = resolve;
  });

  const emit = (type: MembershipEvent['type'], node: NodeInfo): void => {
    const event = { type, node, at: clock.now() };
    for (const listener of listeners) {
      try {
        listener(event);
      } catch {
        // A faulty observer must not stop failure detection.
      }
    }
  };

  const send = (kind: Beat['kind']): void => {
    if (nc.isClosed()) return;
    self.load = loadSource();
    const beat = { v: 1, kind, node: self } satisfies Beat;
    if (security === undefined) nc.publish(subject, JSON.stringify(beat));
    else {
      // Stamped (send time, incarnation, sequence) and signed over the exact bytes sent.
      const frame = security.controlFrame(beat);
      nc.publish(subject, frame.data, { headers: frame.headers });
    }
  };

  const onBeat = (msg: Msg): void => {
    let beat: Beat;
    try {
      beat = JSON.parse(new TextDecoder().decode(msg.data)) as Beat;
      if (beat?.v === 1 && beat.kind === 'probe') {
        // An observer (troupe nodes) asks who is there; it is not a member itself.
        send('beat');
        return;
      }
      if (beat?.v !== 1 || typeof beat.node?.id !== 'string') return;
    } catch {
      return; // Not a heartbeat: ignore rather than let a stray publisher disturb the view.
    }
    const id = beat.node.id;
    if (id === self.id) return;
    // Signed: only a node's own word about itself changes the view, or anyone could forge a join (and take
    // shards) or a goodbye; and only a fresh one, or a recorded beat could keep a dead node alive and a recorded
    // goodbye remove a live one. The signature covers the bytes parsed above, stamp included.
    if (security !== undefined && !security.controlFrom(msg, id, 'members', beat.stamp)) return;
    if (beat.kind === 'leave') {
      const peer = peers.get(id);
      if (peer) {
        peers.delete(id);
        emit('left', peer.info);
      }
      return;
    }
    if (beat.kind === 'sync') send('beat');
    const info = nodeInfoOf(beat.node);
    const known = peers.get(id);
    peers.set(id, { info, lastSeen: clock.now() });
    if (!known) emit('joined', info);
    else if (known.info.types.join() !== info.types.join()) emit('updated', info);
  };

  let lastTick = clock.now();
  const tick = (): void => {
    if (state !== 'open') return;
    send('beat');
    const now = clock.now();
    // Late by much, this node's own event loop stalled (a long GC pause, a starved CPU): the beats that came
    // meanwhile wait unread, and timers run before sockets are read. Give everyone a full timeout again.
    if (now - lastTick - heartbeatMs > (failureTimeoutMs - heartbeatMs) / 2)
      for (const peer of peers.values()) peer.lastSeen = now;
    lastTick = now;
    // Cut off from the server, this node hears no one: that says nothing about the others. Judge no one
    // until the connection is back and they had a full timeout to be heard again.
    if (disconnected) {
      timer = clock.setTimeout(tick, heartbeatMs);
      return;
    }
    for (const [id, peer] of peers) {
      if (now - peer.lastSeen > failureTimeoutMs) {
        peers.delete(id);
        emit('failed', peer.info);
      }
    }
    timer = clock.setTimeout(tick, heartbeatMs);
  };

  let disconnected = false;
  void (async () => {
    for await (const status of nc.status()) {
      if (state !== 'open') return;
      if (status.type === 'disconnect') disconnected = true;
      else if (status.type === 'reconnect') {
        disconnected = false;
        const now = clock.now();
        for (const peer of peers.values()) peer.lastSeen = now;
        send('sync');
      }
    }
  })().catch(() => undefined);
  const sub: Subscription = nc.subscribe(subject, { callback: (_err, msg) => onBeat(msg) });
  await nc.flush();
  send('sync');
  timer = clock.setTimeout(tick, heartbeatMs);

  const stop = async (goodbye: boolean): Promise<void> => {
    if (state === 'closed') return;
    state = 'closed';
    if (timer !== undefined) clock.clearTimeout(timer);
    try {
      if (goodbye && !nc.isClosed()) {
        send('leave');
        await nc.flush();
      }
      if (!nc.isClosed()) sub.unsubscribe();
    } finally {
      resolveClosed(undefined);
    }
  };

  const membership: Membership = {
    self,
    members: () =>
      [self, ...[...peers.values()].map((p) => p.info)].sort((a, b) =>
        a.id < b.id ? -1 : a.id > b.id ? 1 : 0,
      ),
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    setTypes(types, durable = []) {
      self.types = [...types];
      self.durable = [...durable];
      send('beat');
    },
    setLoadSource(source) {
      loadSource = source;
    },
    close: () => stop(false),
    drain: () => stop(true),
    closed: () => whenClosed,
    [Symbol.asyncDispose]: () => stop(true),
  };
  return membership;
}

/**
 * Lists the live nodes of a namespace without joining it: asks every node to announce itself and collects
 * the answers for `waitMs`.
 */
export async function listNatsNodes(
  server: NatsConnection | string,
  namespace = 'default',
  waitMs = 500,
  auth?: NatsAuthOptions,
): Promise<NodeInfo[]> {
  if (typeof server !== 'string' && typeof (server as NatsConnection | null)?.publish !== 'function')
    throw new InvalidOptionsError('server', 'expected a NATS URL or connection');
  assertValidName(namespace, 'namespace');
  intOption(waitMs, 'waitMs', 0, 0, 60_000);
  const connection =
    typeof server === 'string'
      ? await connect({
          servers: server,
          name: 'troupe observer',
          ...(auth === undefined ? {} : natsAuthConnectOptions(auth)),
        })
      : server;
  try {
    return await observe(connection, namespace, waitMs);
  } finally {
    if (typeof server === 'string') await connection.close();
  }
}

async function observe(connection: NatsConnection, namespace: string, waitMs: number): Promise<NodeInfo[]> {
  const subject = membersSubject(namespace);
  const seen = new Map<string, NodeInfo>();
  const sub = connection.subscribe(subject, {
    callback: (_err, msg) => {
      try {
        const beat = JSON.parse(new TextDecoder().decode(msg.data)) as Beat;
        if (beat?.v === 1 && beat.kind === 'beat' && typeof beat.node?.id === 'string') {
          seen.set(beat.node.id, nodeInfoOf(beat.node));
        }
      } catch {
        // Not a heartbeat.
      }
    },
  });
  await connection.flush();
  connection.publish(subject, JSON.stringify({ v: 1, kind: 'probe', node: { id: '$observer' } }));
  await new Promise((resolve) => setTimeout(resolve, waitMs));
  sub.unsubscribe();
  return [...seen.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
