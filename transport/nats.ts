// The NATS transport: every actor has its own subject; a node holds one wildcard subscription for all of them.

import {
  connect,
  type Msg,
  type NatsConnection,
  type NodeConnectionOptions,
  type Subscription,
} from '@nats-io/transport-node';
import {
  assertValidName,
  type Clock,
  type Envelope,
  EnvelopeKind,
  ErrorCode,
  errorReply,
  type HostedType,
  InvalidOptionsError,
  type Membership,
  type NodeInfo,
  parseVirtualAddress,
  REPLY_SEGMENT,
  systemClock,
  type Transport,
  type TransportSink,
  TroupeError,
} from '../runtime/index.js';
import { BATCH_MARKER, type BatchCodec, createCodec, DEFAULT_MAX_FRAME_BYTES, packBatch } from './codec.js';
import { TransportError, TransportErrorCode } from './errors.js';
import { ActivationDirectory, FORWARD_SEGMENT } from './nats-directory.js';
import { DurableMailboxes } from './nats-durable.js';
import { natsMembership } from './nats-membership.js';
import { ShardOwner, shardKey } from './nats-shards.js';
import { VIRTUAL_TELL_SEGMENT, VirtualTellRetry } from './nats-tell-retry.js';
import { UnconfirmedRing } from './nats-unconfirmed.js';

/** Options of {@link natsTransport}. */
export interface NatsTransportOptions {
  /**
   * Server URL(s), e.g. `nats://127.0.0.1:4222`. Ignored when `connection` is given.
   * @defaultValue `nats://127.0.0.1:4222`
   */
  servers?: string | string[];
  /** Use this connection instead of opening one; the transport then never closes it. */
  connection?: NatsConnection;
  /**
   * Subjects are `troupe.<namespace>.<nodeId>.<actor path>`: systems reach each other only within one namespace.
   * @defaultValue `default`
   */
  namespace?: string;
  /**
   * Largest frame; capped at the server's `max_payload`.
   * @defaultValue 1 MiB
   */
  maxFrameBytes?: number;
  /**
   * Extra options for `connect()` (auth, TLS, reconnect policy). troupe's defaults: reconnect forever
   * (`maxReconnectAttempts: -1`), 500 ms apart.
   */
  connectOptions?: Partial<NodeConnectionOptions>;
  /** Membership and virtual-actor sharding; see {@link NatsClusterOptions}. */
  cluster?: NatsClusterOptions;
}

/** How a NATS node takes part in the cluster: membership heartbeats and shard ownership. */
export interface NatsClusterOptions {
  /** @defaultValue [] */
  roles?: string[];
  /** @defaultValue 500 */
  heartbeatMs?: number;
  /**
   * A node silent this long is declared failed and its shards move.
   * @defaultValue 2000
   */
  failureTimeoutMs?: number;
  /**
   * Shards per virtual actor type; every node in a namespace must use the same number.
   * @defaultValue 64
   */
  shards?: number;
  /**
   * Most shards a node hands over per `moveIntervalMs` when another node joins.
   * @defaultValue 8
   */
  moveBatch?: number;
  /** @defaultValue 250 */
  moveIntervalMs?: number;
  /**
   * How long tells to a virtual actor with no owner (its shard moving after a failure or a join) are sent
   * again before they become dead letters; 0 dead-letters them at once.
   * @defaultValue 5000
   */
  tellRetryMs?: number;
  /** @defaultValue the real clock */
  clock?: Clock;
}

/** The NATS transport, with its connection and cluster view once bound. */
export interface NatsTransport extends Transport {
  readonly connection: NatsConnection | undefined;
  readonly membership: Membership | undefined;
  /** Virtual-actor shards this node holds (`type.shard`). */
  ownedShards(): string[];
  handOver(): Promise<void>;
  members(): NodeInfo[];
}

const NO_RESPONDERS_SEGMENT = '$nr';
const PING_SEGMENT = '$ping';
const SUBJECT_CACHE_LIMIT = 10_000;
/** Tell batches that may still bounce, at most (see {@link UnconfirmedRing}). */
const UNCONFIRMED_BATCHES = 65_536;

/** Checks the shape of {@link NatsTransportOptions}; throws `INVALID_OPTIONS` naming the field. */
function assertNatsOptions(options: NatsTransportOptions): void {
  const object = (value: unknown, field: string): void => {
    if (value !== undefined && (typeof value !== 'object' || value === null || Array.isArray(value)))
      throw new InvalidOptionsError(field, 'expected an object');
  };
  object(options, 'options');
  const { servers, cluster } = options;
  if (
    servers !== undefined &&
    typeof servers !== 'string' &&
    !(Array.isArray(servers) && servers.length > 0 && servers.every((s) => typeof s === 'string'))
  )
    throw new InvalidOptionsError('servers', 'expected a URL or a non-empty array of URLs');
  if (options.namespace !== undefined && typeof options.namespace !== 'string')
    throw new InvalidOptionsError('namespace', 'expected a string');
  if (
    options.maxFrameBytes !== undefined &&
    !(Number.isInteger(options.maxFrameBytes) && options.maxFrameBytes >= 64)
  )
    throw new InvalidOptionsError(
      'maxFrameBytes',
      `expected an integer >= 64, got ${String(options.maxFrameBytes)}`,
    );
  object(options.connectOptions, 'connectOptions');
  object(cluster, 'cluster');
  if (cluster === undefined) return;
  for (const field of ['heartbeatMs', 'failureTimeoutMs', 'moveBatch', 'moveIntervalMs'] as const) {
    const value = cluster[field];
    if (value !== undefined && !(Number.isInteger(value) && value > 0))
      throw new InvalidOptionsError(`cluster.${field}`, `expected a positive integer, got ${String(value)}`);
  }
  if (
    cluster.roles !== undefined &&
    !(Array.isArray(cluster.roles) && cluster.roles.every((r) => typeof r === 'string'))
  )
    throw new InvalidOptionsError('cluster.roles', 'expected an array of strings');
}

/**
 * Subject of an address: `node/a/b` → `troupe.<ns>.node.a.b`. Names are validated to contain no dots, so the
 * mapping is reversible.
 */
function subjectTail(address: string): string {
  return address.replaceAll('/', '.');
}

/**
 * Creates a transport over NATS core: at-most-once, in order per connection, with fast failure for asks to
 * nodes that are gone (the server's no-responders status). Connects when the system binds it.
 *
 * @example
 * const system = await createSystem({ nodeId: 'api', transport: natsTransport({ servers: 'nats://127.0.0.1:4222' }) });
 */
export function natsTransport(options: NatsTransportOptions = {}): NatsTransport {
  assertNatsOptions(options);
  const namespace = options.namespace ?? 'default';
  assertValidName(namespace, 'namespace');
  const prefix = `troupe.${namespace}.`;
  let codec: BatchCodec = createCodec({ maxFrameBytes: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES });
  let nc: NatsConnection | undefined;
  let sub: Subscription | undefined;
  let boundAt = 0;
  let nodePrefix = '';
  let boundSink: TransportSink | undefined;
  let state: 'new' | 'binding' | 'open' | 'closing' | 'closed' = 'new';
  const owned = options.connection === undefined;
  const cluster = options.cluster ?? {};
  const clock = cluster.clock ?? systemClock;
  const heartbeatMs = cluster.heartbeatMs ?? 500;
  const failureTimeoutMs = cluster.failureTimeoutMs ?? 2000;
  const shardCount = cluster.shards ?? 64;
  if (!Number.isInteger(shardCount) || shardCount < 1 || shardCount > 4096) {
    throw new InvalidOptionsError(
      'cluster.shards',
      `expected an integer from 1 to 4096, got ${String(shardCount)}`,
    );
  }
  const tellRetryMs = cluster.tellRetryMs ?? 5000;
  if (!(Number.isFinite(tellRetryMs) && tellRetryMs >= 0)) {
    throw new InvalidOptionsError('cluster.tellRetryMs', `expected >= 0, got ${String(tellRetryMs)}`);
  }
  let tellRetry: VirtualTellRetry | undefined;
  let membership: Membership | undefined;
  let shards: ShardOwner | undefined;
  let durable: DurableMailboxes | undefined;
  let directory: ActivationDirectory | undefined;

  // Tells to one actor within one turn of the event loop travel as one NATS message: the per-message costs
  // of NATS (protocol line, routing, parsing on both ends) are paid once per batch. Order is kept: a batch
  // holds one subject's tells in order, and any other send flushes the batches first.
  interface Batch {
    subject: string;
    target: string;
    frames: Uint8Array[];
    bytes: number;
    /** For a virtual actor: its subject tokens (`$v.<type>.<id>`); its batches go through the retrier. */
    virtual: string | undefined;
  }
  const batches = new Map<string, Batch>();
  /** Tell counts of batches that may still bounce, by publish id (0 in a reply subject: a single tell). */
  let unconfirmedBatches: UnconfirmedRing<number> | undefined;
  let flushScheduled = false;
  const publishBatch = (batch: Batch): void => {
    const n = batch.frames.length;
    const data = n === 1 ? batch.frames[0]! : packBatch(batch.frames, batch.bytes);
    if (batch.virtual !== undefined && tellRetry) {
      tellRetry.send(batch.target, batch.virtual, batch.subject, data, n);
      return;
    }
    // A batch's size stays here, not in its reply subject: a status from the wire must not name how many
    // dead letters to record (a forged `$nr.1000000` would block the node for a second).
    const reply =
      n === 1
        ? noResponderSubject(batch.target)
        : `${nodePrefix}${NO_RESPONDERS_SEGMENT}.${unconfirmedBatches?.add(n) ?? 0}.${subjectTail(batch.target)}`;
    nc?.publish(batch.subject, data, { reply });
  };
  const flushBatches = (): void => {
    flushScheduled = false;
    if (nc && !nc.isClosed()) for (const batch of batches.values()) publishBatch(batch);
    batches.clear();
  };
  const batchTell = (
    target: string,
    frame: Uint8Array,
    subject = subjectOf(target),
    virtual: string | undefined = undefined,
  ): void => {
    let batch = batches.get(subject);
    if (batch && 1 + 4 * (batch.frames.length + 1) + batch.bytes + frame.length > codec.maxFrameBytes) {
      publishBatch(batch);
      batches.delete(subject);
      batch = undefined;
    }
    if (!batch) {
      batch = { subject, target, frames: [], bytes: 0, virtual };
      batches.set(subject, batch);
    }
    batch.frames.push(frame);
    batch.bytes += frame.length;
    if (!flushScheduled) {
      flushScheduled = true;
      queueMicrotask(flushBatches);
    }
  };
  let hosted: HostedType[] = [];
  /** Virtual types senders here declared (`defineVirtual`), and whether each is durable. */
  const declared = new Map<string, boolean>();
  /**
   * Durable if declared so here, or ever seen hosted as durable (here or by a member's heartbeats): a view
   * rebuilt from heartbeats after a reconnect must never turn an acknowledged send into a plain publish.
   */
  const isDurable = (type: string): boolean => {
    if (declared.get(type) === true) return true;
    if (shards?.isDurable(type) !== true) return false;
    declared.set(type, true);
    return true;
  };
  const isKnown = (type: string): boolean =>
    declared.has(type) ||
    hosted.some((t) => t.type === type) ||
    (membership?.members().some((m) => m.types.includes(type)) ?? false);
  const subjects = new Map<string, string>();
  const undeliverable = new Map<string, string>();
  let resolveClosed!: (err: Error | undefined) => void;
  const whenClosed = new Promise<Error | undefined>((resolve) => {
    resolveClosed = resolve;
  });

  const subjectOf = (address: string): string => {
    let subject = subjects.get(address);
    if (subject === undefined) {
      if (subjects.size >= SUBJECT_CACHE_LIMIT) subjects.clear();
      subject = prefix + subjectTail(address);
      subjects.set(address, subject);
    }
    return subject;
  };

  // Tells carry a reply subject naming their target, so the server's no-responders status tells us which
  // address had no subscriber: the tell becomes a dead letter on the sending node instead of vanishing.
  const noResponderSubject = (address: string): string => {
    let subject = undeliverable.get(address);
    if (subject === undefined) {
      if (undeliverable.size >= SUBJECT_CACHE_LIMIT) undeliverable.clear();
      subject = `${nodePrefix}${NO_RESPONDERS_SEGMENT}.0.${subjectTail(address)}`;
      undeliverable.set(address, subject);
    }
    return subject;
  };

  /** The envelopes of one frame or of a batch; what does not decode is left out. */
  const decodeAll = (data: Uint8Array): Envelope[] => {
    try {
      if (data[0] !== BATCH_MARKER) return [codec.decode(data)];
      return codec.decodeBatch(data).filter((d): d is Envelope => !(d instanceof TroupeError));
    } catch {
      return [];
    }
  };

  const addressOf = (subject: string): string =>
    subject.startsWith(prefix) ? subject.slice(prefix.length).replaceAll('.', '/') : subject;

  const onStatus = (sink: TransportSink, msg: Msg): void => {
    const rest = msg.subject.slice(nodePrefix.length);
    if (rest === PING_SEGMENT) {
      msg.respond();
      return;
    }
    if (msg.headers?.code === 503) {
      if (rest.startsWith(`${VIRTUAL_TELL_SEGMENT}.`)) {
        tellRetry?.failed(rest.slice(VIRTUAL_TELL_SEGMENT.length + 1));
        return;
      }
      if (rest.startsWith(`${FORWARD_SEGMENT}.`)) {
        directory?.forwardFailed(rest.slice(FORWARD_SEGMENT.length + 1));
        return;
      }
      if (rest.startsWith(`${REPLY_SEGMENT}.`)) {
        const correlationId = rest.slice(REPLY_SEGMENT.length + 1);
        sink.deliver(
          errorReply(addressOf(msg.subject), correlationId, {
            code: ErrorCode.NoResponders,
            message: 'no node answers for the asked address (is it running?)',
          }),
        );
        return;
      }
      if (rest.startsWith(`${NO_RESPONDERS_SEGMENT}.`)) {
        // `$nr.<publish id>.<target tokens>`: a tell (id 0) or a batch of tells found no subscriber. The
        // batch's size comes from what this node kept; a status it does not know of costs one dead letter.
        const tail = rest.slice(NO_RESPONDERS_SEGMENT.length + 1);
        const dot = tail.indexOf('.');
        const count = unconfirmedBatches?.take(Number(tail.slice(0, dot))) ?? 1;
        const address = tail.slice(dot + 1).replaceAll('.', '/');
        for (let i = 0; i < count; i++) {
          sink.reject({
            address,
            reason: ErrorCode.NoResponders,
            error: {
              code: ErrorCode.NoResponders,
              message: `no node subscribes to ${address}; the message was dropped`,
            },
          });
        }
        return;
      }
    }
    sink.reject({
      address: addressOf(msg.subject),
      reason: ErrorCode.MalformedFrame,
      error: { code: ErrorCode.MalformedFrame, message: 'malformed frame: empty frame' },
    });
  };

  const finish = (err: Error | undefined): void => {
    if (state === 'closed') return;
    state = 'closed';
    resolveClosed(err);
  };

  const transport: NatsTransport = {
    kind: 'nats',
    get maxFrameBytes() {
      return codec.maxFrameBytes;
    },

    async bind(nodeId: string, sink: TransportSink): Promise<void> {
      if (state !== 'new')
        throw new TransportError(TransportErrorCode.AlreadyBound, 'NATS transport is already bound');
      boundSink = sink;
      state = 'binding';
      try {
        nc =
          options.connection ??
          (await connect({
            servers: options.servers ?? 'nats://127.0.0.1:4222',
            name: `troupe:${nodeId}`,
            // nats.js builds an Error per request only to keep async stack traces; at a few microseconds a
            // request that is most of what a durable send costs. Pass connectOptions to turn it back on.
            noAsyncTraces: true,
            // A node outlives any outage of its server: nats.js gives up after 10 attempts 2 s apart by
            // default, which would leave a running process with a closed transport after a 20 s restart.
            maxReconnectAttempts: -1,
            reconnectTimeWait: 500,
            ...options.connectOptions,
          }));
      } catch (err) {
        state = 'closed';
        resolveClosed(err as Error);
        throw new TransportError(
          TransportErrorCode.Connect,
          `cannot connect to NATS: ${(err as Error).message}`,
          { cause: err },
        );
      }
      try {
        const serverMax = nc.info?.max_payload ?? DEFAULT_MAX_FRAME_BYTES;
        if (codec.maxFrameBytes > serverMax) codec = createCodec({ maxFrameBytes: serverMax });
        nodePrefix = `${prefix}${nodeId}.`;
        const flushConn = nc;
        unconfirmedBatches = new UnconfirmedRing<number>(UNCONFIRMED_BATCHES, clock, () => flushConn.flush());
        if (tellRetryMs > 0) {
          const conn = nc;
          tellRetry = new VirtualTellRetry(
            {
              clock,
              publish: (subject, frame, reply) => conn.publish(subject, frame, { reply }),
              flush: () => conn.flush(),
              undeliverable: (address, data, count) => {
                const error = {
                  code: ErrorCode.NoResponders,
                  message: `no node took ${address} within ${tellRetryMs} ms; the message was dropped`,
                };
                // Our own frames decode; without them (forgotten) the dead letters still name the address.
                const decoded = data === undefined ? [] : decodeAll(data);
                for (let i = 0; i < count; i++) {
                  const envelope = decoded[i];
                  sink.reject({
                    address,
                    reason: ErrorCode.NoResponders,
                    error,
                    ...(envelope && { envelope }),
                  });
                }
              },
            },
            nodePrefix,
            tellRetryMs,
          );
        }
        // A node id must be unique: if someone answers our ping, another live node has it.
        const taken = await nc.request(`${nodePrefix}${PING_SEGMENT}`, undefined, { timeout: 500 }).then(
          () => true,
          () => false,
        );
        if (taken) {
          if (owned) await nc.close();
          state = 'closed';
          resolveClosed(undefined);
          throw new TransportError(
            ErrorCode.NameInUse,
            `node id ${nodeId} is in use in namespace ${namespace}`,
          );
        }
        const conn = nc;
        // A throw inside a subscription callback would stop nats.js reading the connection: contain it.
        const onFrame = (msg: Msg): void => {
          try {
            onFrameUnsafe(msg);
          } catch (err) {
            sink.reject({
              address: addressOf(msg.subject),
              reason: ErrorCode.Remote,
              error: TroupeError.toWire(err),
            });
          }
        };
        const onFrameUnsafe = (msg: Msg): void => {
          const data = msg.data;
          if (data.length === 0) {
            onStatus(sink, msg);
            return;
          }
          if (data[0] === BATCH_MARKER) {
            for (const decoded of codec.decodeBatch(data)) {
              if (decoded instanceof TroupeError) {
                sink.reject({
                  address: addressOf(msg.subject),
                  reason: decoded.code,
                  error: TroupeError.toWire(decoded),
                });
              } else if (admit(msg.subject, decoded)) sink.deliver(decoded);
            }
            return;
          }
          deliverFrame(msg.subject, data);
        };
        // Any client may publish on any subject: an envelope must name what its subject names, or a virtual
        // target sent to a node subject would start a second instance of an actor its shard owner runs.
        const admit = (subject: string, envelope: Envelope): boolean => {
          const target = envelope.target;
          const virtualTarget = target.charCodeAt(0) === 36 && target.startsWith('$v/');
          let expected: string | undefined;
          if (subject.startsWith(nodePrefix)) {
            if (!subject.startsWith('$va.', nodePrefix.length)) {
              if (!virtualTarget) return true;
            } else if (virtualTarget) {
              // `$va.<type>.<id>` forwarded by the directory.
              expected = `$v/${subject.slice(nodePrefix.length + 4).replace('.', '/')}`;
            }
          } else if (virtualTarget && subject.startsWith('$v.', prefix.length)) {
            // `$v.<type>.<shard>.<id>` routed by shard.
            const tail = subject.slice(prefix.length + 3);
            const dot = tail.indexOf('.');
            expected = `$v/${tail.slice(0, dot)}/${tail.slice(tail.indexOf('.', dot + 1) + 1)}`;
          }
          if (expected === target) return true;
          sink.reject({
            address: addressOf(subject),
            reason: ErrorCode.MalformedFrame,
            error: {
              code: ErrorCode.MalformedFrame,
              message: `a frame on ${subject} names ${target.slice(0, 300)}: dropped`,
            },
            envelope,
          });
          return false;
        };
        const deliverFrame = (subject: string, data: Uint8Array): void => {
          let envelope: Envelope;
          try {
            envelope = codec.decode(data);
          } catch (e) {
            sink.reject({
              address: addressOf(subject),
              reason: TroupeError.is(e) ? e.code : ErrorCode.MalformedFrame,
              error: TroupeError.toWire(e),
            });
            return;
          }
          if (admit(subject, envelope)) sink.deliver(envelope);
        };
        sub = conn.subscribe(`${nodePrefix}>`, {
          callback: (err, msg) => {
            if (err) {
              // The subscription failed (permissions, say): record it; the connection's status says the rest.
              sink.reject({ address: `${nodeId}`, reason: ErrorCode.Remote, error: TroupeError.toWire(err) });
              return;
            }
            onFrame(msg);
          },
        });
        membership = await natsMembership({
          connection: conn,
          nodeId,
          namespace,
          roles: cluster.roles ?? [],
          heartbeatMs,
          failureTimeoutMs,
          clock,
        });
        membership.setLoadSource(() => sink.load());
        durable = new DurableMailboxes(
          conn,
          namespace,
          nodeId,
          (data) => codec.decode(data),
          (envelope) => sink.deliver(envelope),
          (subject, err) =>
            sink.reject({
              address: addressOf(subject),
              reason: TroupeError.is(err) ? err.code : ErrorCode.MalformedFrame,
              error: TroupeError.toWire(err),
            }),
          (type, shard) =>
            sink.passivate((address) => {
              const v = parseVirtualAddress(address);
              return (
                v !== undefined && v.type === type && shardKey(type, v.id, shardCount) === `${type}.${shard}`
              );
            }),
        );
        directory = new ActivationDirectory(
          conn,
          namespace,
          membership,
          clock,
          { recentMs: heartbeatMs * 2 },
          onFrame,
          (key, err) =>
            sink.reject({
              address: `${nodeId}/$directory/${key}`,
              reason: ErrorCode.Remote,
              error: TroupeError.toWire(err),
            }),
        );
        shards = new ShardOwner(
          conn,
          prefix,
          nodeId,
          membership,
          sink,
          onFrame,
          {
            shards: shardCount,
            moveBatch: cluster.moveBatch ?? 8,
            moveIntervalMs: cluster.moveIntervalMs ?? 250,
            claimGraceMs: failureTimeoutMs,
          },
          clock,
          durable,
          (shard, err) =>
            sink.reject({
              address: `${nodeId}/$shard/${shard}`,
              reason: ErrorCode.Remote,
              error: TroupeError.toWire(err),
            }),
          directory,
        );
        shards.start();
        if (hosted.length > 0) shards.setTypes(hosted);
        boundAt = performance.now();
        await conn.flush();
        state = 'open';
        if (owned) {
          void conn.closed().then((err) => finish(err ?? undefined));
        }
      } catch (err) {
        // Connected but not fully bound: release what was set up, or the process would never exit.
        if (state === 'binding') {
          shards?.close();
          await membership?.close().catch(() => undefined);
          if (owned) await nc?.close().catch(() => undefined);
          state = 'closed';
          resolveClosed(err as Error);
        }
        throw err;
      }
    },

    get connection() {
      return nc;
    },
    get membership() {
      return membership;
    },
    ownedShards: () => shards?.owned() ?? [],
    members: () => membership?.members() ?? [],

    sendAcked(envelope: Envelope, messageId: string | undefined): Promise<void> {
      const virtual = parseVirtualAddress(envelope.target);
      if (virtual === undefined || !shards || !durable || state !== 'open') {
        transport.send(envelope);
        return Promise.resolve();
      }
      if (!isDurable(virtual.type)) {
        // Neither declared by this sender nor hosted by a live node: storing it would be a guess, and a
        // plain publish would resolve for mail no one takes. Say so now.
        if (!isKnown(virtual.type)) {
          return Promise.reject(
            new TroupeError(
              ErrorCode.NoResponders,
              `no live node hosts virtual actor type ${virtual.type}, and this sender did not declare it: ` +
                'name it with a defineVirtual() value so a durable type is stored while no host runs',
            ),
          );
        }
        transport.send(envelope);
        return Promise.resolve();
      }
      if (batches.size > 0) flushBatches();
      const frame = codec.encode(envelope);
      return durable.publish(
        durable.subjectOf(virtual.type, shards.shardOf(virtual.type, virtual.id), virtual.id),
        frame,
        messageId,
      );
    },

    declare(type: string, isDurableType: boolean): void {
      declared.set(type, isDurableType);
    },

    hostTypes(types: HostedType[]): void {
      hosted = types;
      shards?.setTypes(types);
    },

    send(envelope: Envelope): void {
      if (state !== 'open' || !nc) {
        throw new TransportError(
          TransportErrorCode.Closed,
          `NATS transport is ${state === 'new' ? 'not bound' : 'closed'}`,
        );
      }
      const frame = codec.encode(envelope);
      const target = envelope.target;
      const virtual = target.startsWith('$') ? parseVirtualAddress(target) : undefined;
      if (envelope.kind === EnvelopeKind.User && envelope.replyTo === undefined) {
        if (!target.startsWith('$')) {
          batchTell(target, frame);
          return;
        }
        if (virtual && shards && !(durable && isDurable(virtual.type))) {
          const { type, id } = virtual;
          batchTell(target, frame, shards.subjectOf(type, id), `$v.${type}.${id}`);
          return;
        }
      }
      // Anything sent at once must not overtake tells still waiting in a batch.
      if (batches.size > 0) flushBatches();
      if (virtual && shards && durable && isDurable(virtual.type)) {
        // A tell to a durable actor: stored in the background; a refusal becomes a dead letter here.
        durable
          .publish(
            durable.subjectOf(virtual.type, shards.shardOf(virtual.type, virtual.id), virtual.id),
            frame,
            undefined,
          )
          .catch((err: unknown) =>
            boundSink?.reject({
              address: target,
              reason: ErrorCode.NoResponders,
              error: TroupeError.toWire(err),
              envelope,
            }),
          );
        return;
      }
      if (virtual && shards) {
        const subject = shards.subjectOf(virtual.type, virtual.id);
        const reply =
          envelope.replyTo === undefined ? noResponderSubject(target) : subjectOf(envelope.replyTo);
        if (tellRetry?.queueAsk(target, subject, frame, reply)) return;
        nc.publish(subject, frame, { reply });
        return;
      }
      if (envelope.kind === EnvelopeKind.Reply) {
        nc.publish(subjectOf(target), frame);
      } else {
        const replyTo = envelope.replyTo;
        nc.publish(subjectOf(target), frame, {
          reply: replyTo === undefined ? noResponderSubject(target) : subjectOf(replyTo),
        });
      }
    },

    async nodes(timeoutMs: number): Promise<string[]> {
      if (state !== 'open' || !membership) return [];
      // Membership already knows every node. One that bound just now hears from the others within a round
      // trip of its join, so give them until `timeoutMs` after binding.
      const wait = timeoutMs - (performance.now() - boundAt);
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      return membership.members().map((m) => m.id);
    },

    async close(): Promise<void> {
      if (state === 'closed' || state === 'closing') return void (await whenClosed);
      state = 'closing';
      // Every step runs even if one before it fails; the transport ends closed either way.
      try {
        tellRetry?.close();
        unconfirmedBatches?.close();
        shards?.close();
        await membership?.close().catch(() => undefined);
        if (owned) await nc?.close();
        else if (!nc?.isClosed()) {
          sub?.unsubscribe();
        }
      } finally {
        finish(undefined);
      }
    },

    async handOver(): Promise<void> {
      if (state !== 'open') return;
      flushBatches();
      // Stop taking shard traffic and passivate those actors (saving state; their mail follows the shard),
      // then say goodbye so the others claim the shards and place this node's other actors elsewhere now.
      await shards?.releaseAll().catch(() => undefined);
      await membership?.drain().catch(() => undefined);
    },

    async drain(): Promise<void> {
      if (state === 'closed' || state === 'closing') return void (await whenClosed);
      // Hand over first (unless the system did), then close. A failing step must not leave the
      // connection open.
      await transport.handOver().catch(() => undefined);
      if (state !== 'open') return void (await whenClosed);
      flushBatches();
      state = 'closing';
      try {
        tellRetry?.close();
        shards?.close();
        if (owned) await nc?.drain();
        else {
          await nc?.flush();
          await sub?.drain();
        }
      } finally {
        unconfirmedBatches?.close();
        finish(undefined);
      }
    },

    closed: () => whenClosed,
    [Symbol.asyncDispose]: () => transport.drain(),
  };
  return transport;
}
