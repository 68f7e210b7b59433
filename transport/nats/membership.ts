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

/** {@link NatsMembershipOptions} checked, with their defaults filled in. */
interface ResolvedMembershipOptions {
  connection: NatsConnection;
  nodeId: string;
  namespace: string;
  roles: string[];
  heartbeatMs: number;
  failureTimeoutMs: number;
  clock: Clock;
  security: FrameSecurity | undefined;
}

/** Checks the options (in this order, so the first bad one is the one reported) and fills in the defaults. */
function resolveMembershipOptions(options: NatsMembershipOptions): ResolvedMembershipOptions {
  assertOptionsObject(options, 'options');
  if (typeof options.connection?.publish !== 'function')
    throw new InvalidOptionsError('connection', 'expected a NATS connection');
  const heartbeatMs = options.heartbeatMs ?? 500;
  const failureTimeoutMs = options.failureTimeoutMs ?? 2000;
  if (!(heartbeatMs > 0)) throw new InvalidOptionsError('heartbeatMs', 'must be > 0');
  if (!(failureTimeoutMs > heartbeatMs))
    throw new InvalidOptionsError('failureTimeoutMs', 'must exceed heartbeatMs');
  assertValidName(options.nodeId, 'node id');
  return {
    connection: options.connection,
    nodeId: options.nodeId,
    namespace: options.namespace ?? 'default',
    roles: [...(options.roles ?? [])],
    heartbeatMs,
    failureTimeoutMs,
    clock: options.clock ?? systemClock,
    security: options.security,
  };
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
  const membership = new NatsMembership(resolveMembershipOptions(options));
  await membership.start();
  return membership;
}

/**
 * @internal The {@link Membership} of one node over NATS; build it with {@link natsMembership}. Each node
 * publishes its own heartbeat and judges the others by their silence alone: there is no coordinator to ask,
 * so every node's view converges from the same heartbeats.
 */
export class NatsMembership implements Membership {
  readonly self: NodeInfo;
  readonly #nc: NatsConnection;
  readonly #subject: string;
  readonly #clock: Clock;
  readonly #heartbeatMs: number;
  readonly #failureTimeoutMs: number;
  /** Set for a signed transport: heartbeats are signed, and only a node's own fresh word about itself counts. */
  readonly #security: FrameSecurity | undefined;
  /** The other live nodes, with when each was last heard. */
  readonly #peers = new Map<string, Peer>();
  readonly #listeners = new Set<(event: MembershipEvent) => void>();
  #loadSource: () => NodeLoad = () => ({ actors: 0, mailbox: 0 });
  #state: 'open' | 'closed' = 'open';
  #sub: Subscription | undefined;
  #timer: TimerHandle | undefined;
  /** When the last heartbeat check ran: a check that runs late means this node's own event loop stalled. */
  #lastTick: number;
  /** Cut off from the server: this node hears no one, so it judges no one. */
  #disconnected = false;
  readonly #closed: Promise<Error | undefined>;
  #resolveClosed!: (err: Error | undefined) => void;

  constructor(options: ResolvedMembershipOptions) {
    this.#nc = options.connection;
    this.#subject = membersSubject(options.namespace);
    this.#clock = options.clock;
    this.#heartbeatMs = options.heartbeatMs;
    this.#failureTimeoutMs = options.failureTimeoutMs;
    this.#security = options.security;
    this.self = nodeInfo(options.nodeId, {
      roles: options.roles,
      load: this.#loadSource(),
      startedAt: this.#clock.now(),
    });
    this.#lastTick = this.#clock.now();
    this.#closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
  }

  /** Subscribes to the heartbeats, then asks everyone to announce themselves and starts beating. */
  async start(): Promise<void> {
    void this.#watchConnection().catch(() => undefined);
    this.#sub = this.#nc.subscribe(this.#subject, { callback: (_err, msg) => this.#onBeat(msg) });
    await this.#nc.flush();
    this.#send('sync');
    this.#timer = this.#clock.setTimeout(() => this.#tick(), this.#heartbeatMs);
  }

  members(): NodeInfo[] {
    return [this.self, ...[...this.#peers.values()].map((p) => p.info)].sort((a, b) =>
      a.id < b.id ? -1 : a.id > b.id ? 1 : 0,
    );
  }

  onChange(listener: (event: MembershipEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  setTypes(types: string[], durable: string[] = []): void {
    this.self.types = [...types];
    this.self.durable = [...durable];
    this.#send('beat');
  }

  setLoadSource(source: () => NodeLoad): void {
    this.#loadSource = source;
  }

  close(): Promise<void> {
    return this.#stop(false);
  }

  drain(): Promise<void> {
    return this.#stop(true);
  }

  closed(): Promise<Error | undefined> {
    return this.#closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.#stop(true);
  }

  /** Publishes this node's info (its load read now): a heartbeat, a join (`sync`) or a goodbye (`leave`). */
  #send(kind: Beat['kind']): void {
    const nc = this.#nc;
    if (nc.isClosed()) return;
    this.self.load = this.#loadSource();
    const beat = { v: 1, kind, node: this.self } satisfies Beat;
    const security = this.#security;
    if (security === undefined) nc.publish(this.#subject, JSON.stringify(beat));
    else {
      // Stamped (send time, incarnation, sequence) and signed over the exact bytes sent.
      const frame = security.controlFrame(beat);
      nc.publish(this.#subject, frame.data, { headers: frame.headers });
    }
  }

  /** One message on the members subject: a probe is answered, a peer's heartbeat, join or goodbye applied. */
  #onBeat(msg: Msg): void {
    let beat: Beat;
    try {
      beat = JSON.parse(new TextDecoder().decode(msg.data)) as Beat;
      if (beat?.v === 1 && beat.kind === 'probe') {
        // An observer (troupe nodes) asks who is there; it is not a member itself.
        this.#send('beat');
        return;
      }
      if (beat?.v !== 1 || typeof beat.node?.id !== 'string') return;
    } catch {
      return; // Not a heartbeat: ignore rather than let a stray publisher disturb the view.
    }
    const id = beat.node.id;
    if (id === this.self.id) return;
    // Signed: only a node's own word about itself changes the view, or anyone could forge a join (and take
    // shards) or a goodbye; and only a fresh one, or a recorded beat could keep a dead node alive and a recorded
    // goodbye remove a live one. The signature covers the bytes parsed above, stamp included.
    const security = this.#security;
    if (security !== undefined && !security.controlFrom(msg, id, 'members', beat.stamp)) return;
    if (beat.kind === 'leave') this.#peerLeft(id);
    else this.#peerHeard(beat);
  }

  /** A peer said goodbye: the others react at once rather than after its timeout. */
  #peerLeft(id: string): void {
    const peer = this.#peers.get(id);
    if (peer) {
      this.#peers.delete(id);
      this.#emit('left', peer.info);
    }
  }

  /** A peer's heartbeat or join: it is alive now; a new one joined, a known one with other types updated. */
  #peerHeard(beat: Beat): void {
    // A joining node asks everyone to announce themselves, so its view is complete within a round trip.
    if (beat.kind === 'sync') this.#send('beat');
    const info = nodeInfoOf(beat.node);
    const known = this.#peers.get(info.id);
    this.#peers.set(info.id, { info, lastSeen: this.#clock.now() });
    if (!known) this.#emit('joined', info);
    else if (known.info.types.join() !== info.types.join()) this.#emit('updated', info);
  }

  /** Every heartbeat interval: announce this node, judge the others, and schedule the next round. */
  #tick(): void {
    if (this.#state !== 'open') return;
    this.#send('beat');
    this.#checkPeers();
    this.#timer = this.#clock.setTimeout(() => this.#tick(), this.#heartbeatMs);
  }

  /** Declares failed every peer silent longer than the failure timeout, unless this node cannot judge now. */
  #checkPeers(): void {
    const now = this.#clock.now();
    // Late by much, this node's own event loop stalled (a long GC pause, a starved CPU): the beats that came
    // meanwhile wait unread, and timers run before sockets are read. Give everyone a full timeout again.
    if (now - this.#lastTick - this.#heartbeatMs > (this.#failureTimeoutMs - this.#heartbeatMs) / 2)
      this.#restartTimeouts(now);
    this.#lastTick = now;
    // Cut off from the server, this node hears no one: that says nothing about the others. Judge no one
    // until the connection is back and they had a full timeout to be heard again.
    if (this.#disconnected) return;
    for (const [id, peer] of this.#peers) {
      if (now - peer.lastSeen > this.#failureTimeoutMs) {
        this.#peers.delete(id);
        this.#emit('failed', peer.info);
      }
    }
  }

  /** Counts every peer as heard `now`: each gets a full failure timeout from here. */
  #restartTimeouts(now: number): void {
    for (const peer of this.#peers.values()) peer.lastSeen = now;
  }

  /** Follows the connection: judging pauses while it is down, and a reconnect asks everyone to announce. */
  async #watchConnection(): Promise<void> {
    for await (const status of this.#nc.status()) {
      if (this.#state !== 'open') return;
      if (status.type === 'disconnect') this.#disconnected = true;
      else if (status.type === 'reconnect') {
        this.#disconnected = false;
        this.#restartTimeouts(this.#clock.now());
        this.#send('sync');
      }
    }
  }

  #emit(type: MembershipEvent['type'], node: NodeInfo): void {
    const event = { type, node, at: this.#clock.now() };
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch {
        // A faulty observer must not stop failure detection.
      }
    }
  }

  /** Stops beating and listening, first saying goodbye if asked (`drain`); others notice a `close` by timeout. */
  async #stop(goodbye: boolean): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    const nc = this.#nc;
    try {
      if (goodbye && !nc.isClosed()) {
        this.#send('leave');
        await nc.flush();
      }
      if (!nc.isClosed()) this.#sub?.unsubscribe();
    } finally {
      this.#resolveClosed(undefined);
    }
  }
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
