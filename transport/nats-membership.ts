// Cluster membership over NATS: heartbeats on one subject, failure detection by silence, no coordinator.

import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import {
  assertValidName,
  type Clock,
  InvalidOptionsError,
  type Membership,
  type MembershipEvent,
  type NodeInfo,
  type NodeLoad,
  systemClock,
  type TimerHandle,
} from '../runtime/index.js';

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
}

interface Beat {
  v: 1;
  kind: 'beat' | 'leave' | 'sync';
  node: NodeInfo;
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
  const heartbeatMs = options.heartbeatMs ?? 500;
  const failureTimeoutMs = options.failureTimeoutMs ?? 2000;
  if (!(heartbeatMs > 0)) throw new InvalidOptionsError('heartbeatMs', 'must be > 0');
  if (!(failureTimeoutMs > heartbeatMs))
    throw new InvalidOptionsError('failureTimeoutMs', 'must exceed heartbeatMs');
  assertValidName(options.nodeId, 'node id');
  const namespace = options.namespace ?? 'default';
  const clock = options.clock ?? systemClock;
  const nc = options.connection;
  const subject = `troupe.${namespace}.$members`;
  let loadSource: () => NodeLoad = () => ({ actors: 0, mailbox: 0 });
  const self: NodeInfo = {
    id: options.nodeId,
    roles: [...(options.roles ?? [])],
    load: loadSource(),
    startedAt: clock.now(),
  };
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
    nc.publish(subject, JSON.stringify({ v: 1, kind, node: self } satisfies Beat));
  };

  const onBeat = (data: Uint8Array): void => {
    let beat: Beat;
    try {
      beat = JSON.parse(new TextDecoder().decode(data)) as Beat;
      if (beat?.v !== 1 || typeof beat.node?.id !== 'string') return;
    } catch {
      return; // Not a heartbeat: ignore rather than let a stray publisher disturb the view.
    }
    const id = beat.node.id;
    if (id === self.id) return;
    if (beat.kind === 'leave') {
      const peer = peers.get(id);
      if (peer) {
        peers.delete(id);
        emit('left', peer.info);
      }
      return;
    }
    if (beat.kind === 'sync') send('beat');
    const info: NodeInfo = {
      id,
      roles: Array.isArray(beat.node.roles) ? beat.node.roles.filter((r) => typeof r === 'string') : [],
      load: {
        actors: Number(beat.node.load?.actors) || 0,
        mailbox: Number(beat.node.load?.mailbox) || 0,
      },
      startedAt: Number(beat.node.startedAt) || 0,
    };
    const known = peers.get(id);
    peers.set(id, { info, lastSeen: clock.now() });
    if (!known) emit('joined', info);
  };

  const tick = (): void => {
    if (state !== 'open') return;
    send('beat');
    const now = clock.now();
    for (const [id, peer] of peers) {
      if (now - peer.lastSeen > failureTimeoutMs) {
        peers.delete(id);
        emit('failed', peer.info);
      }
    }
    timer = clock.setTimeout(tick, heartbeatMs);
  };

  const sub: Subscription = nc.subscribe(subject, { callback: (_err, msg) => onBeat(msg.data) });
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
