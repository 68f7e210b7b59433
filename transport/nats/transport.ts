// The NATS transport: every actor has its own subject; a node holds one wildcard subscription for all of them.

import type { NatsConnection } from '@nats-io/transport-node';
import {
  ErrorCode,
  type Logger,
  type Membership,
  type NodeInfo,
  type Transport,
  type TransportStats,
} from '../../runtime/index.js';
import {
  type Envelope,
  EnvelopeKind,
  type HostedType,
  OrderedSteps,
  type TransportSink,
} from '../../runtime/internal.js';
import { type BatchCodec, createCodec, DEFAULT_MAX_FRAME_BYTES } from '../codec.js';
import { TransportError, TransportErrorCode } from '../errors.js';
import { joinCluster, type NatsCluster } from './cluster.js';
import { maskedServers } from './connection-source.js';
import { DurableSender } from './durable-sender.js';
import { connectNats, type Link, nodeIdTaken, openLink, publishTo } from './link.js';
import { transportLogger, type Watch, watchConnection, watchMembers } from './logging.js';
import {
  type NatsTransportOptions,
  type ResolvedNatsTransportOptions,
  resolveNatsTransportOptions,
} from './options.js';
import { type ControlRefusalCode, defaultFreshnessMs, FrameSecurity } from './security.js';
import { type BoundParts, drainParts, stopParts } from './shutdown.js';
import { ConnectionState, transportStats } from './stats.js';
import { SubjectScheme } from './subjects.js';
import { sendVirtual } from './virtual-send.js';

/** The NATS transport, with its connection and cluster view once bound. */
export interface NatsTransport extends Transport {
  readonly connection: NatsConnection | undefined;
  readonly membership: Membership | undefined;
  /** Virtual-actor shards this node holds (`type.shard`). */
  ownedShards(): string[];
  handOver(): Promise<void>;
  members(): NodeInfo[];
  stats(): TransportStats;
  /**
   * Signed transports: the cluster control frames (heartbeats, joins, goodbyes, shard notices) this node
   * ignored, by code: unsigned, tampered, from an unknown signer, signed by a node other than the one they
   * speak for (`WRONG_SIGNER`), or not fresh, a replay (`STALE_FRAME`). Undefined for an unsigned transport or
   * before binding.
   */
  controlRefusals(): Readonly<Record<ControlRefusalCode, number>> | undefined;
}

/**
 * Creates a transport over NATS core: at-most-once, in order per connection, with fast failure for asks to
 * nodes that are gone (the server's no-responders status). Connects when the system binds it.
 *
 * @example
 * const system = await createSystem({ nodeId: 'api', transport: natsTransport({ servers: 'nats://127.0.0.1:4222' }) });
 */
export function natsTransport(options: NatsTransportOptions = {}): NatsTransport {
  return new NatsTransportImpl(resolveNatsTransportOptions(options));
}

/** @internal The {@link NatsTransport}; build it with {@link natsTransport}. */
export class NatsTransportImpl implements NatsTransport {
  readonly kind = 'nats';
  readonly #o: ResolvedNatsTransportOptions;
  readonly #scheme: SubjectScheme;
  /** The transport opened its connection (and closes it), rather than being given one. */
  readonly #owned: boolean;
  #codec: BatchCodec;
  #state: 'new' | 'binding' | 'open' | 'closing' | 'closed' = 'new';
  #nc: NatsConnection | undefined;
  #sink: TransportSink | undefined;
  #link: Link | undefined;
  #cluster: NatsCluster | undefined;
  #boundAt = 0;
  #hosted: HostedType[] = [];
  /** Whether the connection is up, for stats and readiness. */
  #connection: ConnectionState | undefined;
  /** `handOver` began: the node takes no new work (readiness says so). */
  #handingOver = false;
  /** Set at bind: this transport's logger, or the binding system's. */
  #log: Logger | undefined;
  /** Set at bind for a signed transport. */
  #security: FrameSecurity | undefined;
  #watches: Watch[] = [];
  readonly #durable: DurableSender;
  /** What binding set up, for close and drain to stop in order. */
  readonly #parts: BoundParts;
  readonly #closed: Promise<Error | undefined>;
  #resolveClosed!: (err: Error | undefined) => void;

  constructor(options: ResolvedNatsTransportOptions) {
    this.#o = options;
    this.#scheme = new SubjectScheme(options.namespace);
    this.#owned = options.connection === undefined;
    this.#parts = {
      nc: () => this.#nc,
      owned: this.#owned,
      link: () => this.#link,
      cluster: () => this.#cluster,
    };
    this.#codec = createCodec({ maxFrameBytes: options.maxFrameBytes });
    this.#closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    this.#durable = new DurableSender({
      send: (envelope) => this.send(envelope),
      encode: (envelope) => {
        if (this.#link?.batcher.pending) this.#link.batcher.flush();
        const security = this.#security;
        return this.#codec.encode(security === undefined ? envelope : security.seal(envelope));
      },
      reject: (rejected) => this.#sink?.reject(rejected),
      hosted: () => this.#hosted,
    });
  }

  get maxFrameBytes(): number {
    return this.#codec.maxFrameBytes;
  }

  get connection(): NatsConnection | undefined {
    return this.#nc;
  }

  get membership(): Membership | undefined {
    return this.#cluster?.membership;
  }

  stats(): TransportStats {
    const state = this.#state;
    return transportStats(
      state === 'closing' || (state === 'open' && this.#handingOver) ? 'draining' : state,
      this.#nc,
      this.#connection,
      this.#cluster,
    );
  }

  ownedShards(): string[] {
    return this.#cluster?.shards.owned() ?? [];
  }

  members(): NodeInfo[] {
    return this.#cluster?.membership.members() ?? [];
  }

  controlRefusals(): Readonly<Record<ControlRefusalCode, number>> | undefined {
    const refused = this.#security?.controlRefused;
    return refused === undefined ? undefined : { ...refused };
  }

  async bind(nodeId: string, sink: TransportSink): Promise<void> {
    if (this.#state !== 'new')
      throw new TransportError(TransportErrorCode.AlreadyBound, 'NATS transport is already bound');
    this.#sink = sink;
    this.#state = 'binding';
    const log = transportLogger(this.#o.logger, sink, nodeId);
    this.#log = log;
    let nc: NatsConnection;
    try {
      nc = await connectNats(this.#o, nodeId);
    } catch (err) {
      log.error('NATS connect failed', { servers: maskedServers(this.#o.servers), error: err });
      this.#finish((err as TransportError).cause as Error);
      throw err;
    }
    this.#nc = nc;
    this.#connection = new ConnectionState(nc);
    try {
      const serverMax = nc.info?.max_payload ?? DEFAULT_MAX_FRAME_BYTES;
      if (this.#codec.maxFrameBytes > serverMax) this.#codec = createCodec({ maxFrameBytes: serverMax });
      const subjects = this.#scheme.node(nodeId);
      if (this.#o.security !== undefined)
        this.#security = new FrameSecurity(this.#o.security, nodeId, log, {
          clock: this.#o.cluster.clock,
          freshnessMs: this.#o.security.freshnessMs ?? defaultFreshnessMs(this.#o.cluster.failureTimeoutMs),
        });
      if (await nodeIdTaken(nc, subjects, nodeId, this.#security)) {
        if (this.#owned) await nc.close();
        this.#finish(undefined);
        throw new TransportError(
          ErrorCode.NameInUse,
          `node id ${nodeId} is in use in namespace ${this.#o.namespace}`,
        );
      }
      const link = openLink({
        connection: nc,
        nodeId,
        scheme: this.#scheme,
        subjects,
        codec: this.#codec,
        sink,
        cluster: this.#o.cluster,
        virtualSubject: (type, id) => this.#cluster!.shards.subjectOf(type, id),
        security: this.#security,
      });
      this.#link = link;
      this.#cluster = await joinCluster({
        connection: nc,
        nodeId,
        scheme: this.#scheme,
        cluster: this.#o.cluster,
        codec: this.#codec,
        sink,
        status: link.status,
        onFrame: link.inbound.onFrame,
        hosted: this.#hosted,
        log,
        security: this.#security,
      });
      this.#durable.attach(this.#cluster);
      this.#boundAt = performance.now();
      await nc.flush();
      this.#state = 'open';
      this.#watches.push(
        watchConnection(nc, log, this.#o.cluster.clock),
        watchMembers(this.#cluster.membership, log),
      );
      log.info('NATS transport bound', {
        servers: this.#o.connection === undefined ? maskedServers(this.#o.servers) : nc.getServer(),
        namespace: this.#o.namespace,
        maxFrameBytes: this.#codec.maxFrameBytes,
      });
      if (this.#owned) void nc.closed().then((err) => this.#finish(err ?? undefined));
    } catch (err) {
      // Connected but not fully bound: release what was set up, or the process would never exit.
      if (this.#state === 'binding') {
        await stopParts(this.#parts, new OrderedSteps());
        this.#finish(err as Error);
      }
      throw err;
    }
  }

  send(envelope: Envelope): void {
    const link = this.#link;
    if (this.#state !== 'open' || link === undefined) {
      throw new TransportError(
        TransportErrorCode.Closed,
        `NATS transport is ${this.#state === 'new' ? 'not bound' : 'closed'}`,
      );
    }
    const security = this.#security;
    const frame = this.#codec.encode(security === undefined ? envelope : security.seal(envelope));
    const target = envelope.target;
    const kind = envelope.kind;
    const replyTo = envelope.replyTo;
    const tell = kind === EnvelopeKind.User && replyTo === undefined;
    if (target.charCodeAt(0) !== 36 /* $ */) {
      const subjects = link.subjects;
      if (tell) {
        link.batcher.add(target, frame, subjects.subjectOf(target), undefined);
        return;
      }
      if (kind === EnvelopeKind.Reply) {
        link.batcher.addReply(target, frame, subjects.subjectOf(target));
        return;
      }
      // An ask made here joins the tells to its target (a forwarded one keeps its own status subject, which
      // names its asker's node).
      const correlationId = envelope.correlationId;
      if (kind === EnvelopeKind.User && replyTo === subjects.replyTo && correlationId !== undefined) {
        link.batcher.addAsk(target, frame, subjects.subjectOf(target), correlationId);
        return;
      }
      // Anything sent at once must not overtake mail still waiting in a batch.
      if (link.batcher.pending) link.batcher.flush();
      publishTo(link, envelope, frame);
      return;
    }
    // Mail to a `$` address: a virtual actor (by shard, or durable), else published like any address.
    sendVirtual(link, this.#cluster, this.#durable, envelope, frame, tell);
  }

  sendAcked(envelope: Envelope, messageId: string | undefined): Promise<void> {
    if (this.#state === 'open') return this.#durable.sendAcked(envelope, messageId);
    this.send(envelope);
    return Promise.resolve();
  }

  declare(type: string, durable: boolean): void {
    this.#durable.declare(type, durable);
  }

  hostTypes(types: HostedType[]): void {
    this.#hosted = types;
    this.#cluster?.shards.setTypes(types);
  }

  async nodes(timeoutMs: number): Promise<string[]> {
    const membership = this.#cluster?.membership;
    if (this.#state !== 'open' || !membership) return [];
    // Membership already knows every node. One that bound just now hears from the others within a round
    // trip of its join, so give them until `timeoutMs` after binding.
    const wait = timeoutMs - (performance.now() - this.#boundAt);
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    return membership.members().map((m) => m.id);
  }

  async close(): Promise<void> {
    if (this.#state === 'closed' || this.#state === 'closing') return void (await this.#closed);
    this.#state = 'closing';
    // Every step runs even if one before it fails; the transport ends closed either way.
    const steps = new OrderedSteps();
    await stopParts(this.#parts, steps);
    this.#finish(undefined);
    if (steps.first) throw steps.first;
  }

  async handOver(): Promise<void> {
    if (this.#state !== 'open') return;
    this.#handingOver = true;
    this.#link?.batcher.flush();
    // Stop taking shard traffic and passivate those actors (saving state; their mail follows the shard),
    // then say goodbye so the others claim the shards and place this node's other actors elsewhere now.
    await this.#cluster?.shards.releaseAll().catch(() => undefined);
    await this.#cluster?.membership.drain().catch(() => undefined);
  }

  async drain(): Promise<void> {
    if (this.#state === 'closed' || this.#state === 'closing') return void (await this.#closed);
    // Hand over first (unless the system did), then close. A failing step must not leave the
    // connection open.
    await this.handOver().catch(() => undefined);
    if (this.#state !== 'open') return void (await this.#closed);
    this.#link?.batcher.flush();
    this.#state = 'closing';
    const steps = new OrderedSteps();
    await drainParts(this.#parts, steps);
    this.#finish(undefined);
    if (steps.first) throw steps.first;
  }

  closed(): Promise<Error | undefined> {
    return this.#closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.drain();
  }

  #finish(err: Error | undefined): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#connection?.stop();
    for (const watch of this.#watches) watch.stop();
    this.#watches = [];
    if (this.#nc !== undefined) {
      if (err === undefined) this.#log?.info('NATS transport closed');
      else this.#log?.error('NATS transport closed with an error', { error: err });
    }
    this.#resolveClosed(err);
  }
}
