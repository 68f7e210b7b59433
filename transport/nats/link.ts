// A node's link to NATS: the connection, the node-id probe, and the parts that listen on the node's subjects
// and send for it (status dispatch, inbound frames, failover retries, tell batching).

import { connect, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { ErrorCode, TroupeError, type WireError } from '../../runtime/index.js';
import {
  type Envelope,
  EnvelopeKind,
  errorReply,
  parseVirtualAddress,
  type TransportSink,
} from '../../runtime/internal.js';
import { type BatchCodec, decodeFrames } from '../codec.js';
import { TransportError, TransportErrorCode } from '../errors.js';
import { Inbound } from './inbound.js';
import type { ResolvedNatsClusterOptions, ResolvedNatsTransportOptions } from './options.js';
import { FailoverRetry } from './retry.js';
import type { FrameSecurity } from './security.js';
import { PROBE_HEADER, probeAnswer, signedProbe } from './security-probe.js';
import { StatusDispatcher } from './status.js';
import { type NodeSubjects, Segment, type SubjectScheme } from './subjects.js';
import { TellBatcher } from './tell-batcher.js';

/** How long a binding node waits for another node with its id to answer its probe. */
const NODE_ID_PROBE_MS = 500;

/** The connection the options give, or a new one with troupe's defaults; throws `TRANSPORT_CONNECT_FAILED`. */
export async function connectNats(
  options: ResolvedNatsTransportOptions,
  nodeId: string,
): Promise<NatsConnection> {
  if (options.connection) return options.connection;
  try {
    return await connect({
      servers: options.servers,
      name: `troupe:${nodeId}`,
      // nats.js builds an Error per request only to keep async stack traces; at a few microseconds a
      // request that is most of what a durable send costs. Pass connectOptions to turn it back on.
      noAsyncTraces: true,
      // A node outlives any outage of its server: nats.js gives up after 10 attempts 2 s apart by
      // default, which would leave a running process with a closed transport after a 20 s restart.
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      ...options.connectOptions,
    });
  } catch (err) {
    // A server that refuses a TLS client (no certificate, or one it does not trust) may just reset the socket
    // after the handshake (TLS 1.3): the bare "read ECONNRESET" would not say why.
    const reset =
      (err as NodeJS.ErrnoException).code === 'ECONNRESET' || /ECONNRESET/.test((err as Error).message);
    const hint =
      reset && options.connectOptions?.tls
        ? ' (the server closed the TLS connection: does it require a client certificate, and does it trust this one?)'
        : '';
    throw new TransportError(
      TransportErrorCode.Connect,
      `cannot connect to NATS: ${(err as Error).message}${hint}`,
      {
        cause: err,
      },
    );
  }
}

/**
 * True when another live node answers on this node's probe subject: its id is taken. In a signed fleet only
 * an answer signed by the node id's key over this probe's nonce counts (security-probe.ts).
 */
export function nodeIdTaken(
  nc: NatsConnection,
  subjects: NodeSubjects,
  nodeId: string,
  security?: FrameSecurity,
): Promise<boolean> {
  if (security !== undefined) return signedProbe(nc, subjects.ping, security, nodeId, NODE_ID_PROBE_MS);
  return nc.request(subjects.ping, undefined, { timeout: NODE_ID_PROBE_MS }).then(
    () => true,
    () => false,
  );
}

/** The parts of a node that listen and send, built once the node id is known. */
export interface Link {
  nc: NatsConnection;
  subjects: NodeSubjects;
  status: StatusDispatcher;
  inbound: Inbound;
  batcher: TellBatcher;
  retry: FailoverRetry;
  sub: Subscription;
  /** Signs what this node publishes, when the transport is signed. */
  security: FrameSecurity | undefined;
}

/** What {@link openLink} needs from the transport. */
export interface LinkOptions {
  connection: NatsConnection;
  nodeId: string;
  scheme: SubjectScheme;
  subjects: NodeSubjects;
  codec: BatchCodec;
  sink: TransportSink;
  cluster: ResolvedNatsClusterOptions;
  /** Subject of a virtual actor (by its shard), for asks sent again. */
  virtualSubject(type: string, id: string): string;
  /** Set for a signed transport. */
  security?: FrameSecurity | undefined;
}

/** Builds the receiving and sending sides and subscribes to `<node>.>`. */
export function openLink(o: LinkOptions): Link {
  const { connection: nc, subjects, codec, sink, security } = o;
  const { clock, tellRetryMs } = o.cluster;
  const ownReply = `${subjects.replyTo}/`;
  let batcher: TellBatcher | undefined;
  const askFailed = (replyTo: string, correlationId: string, error?: WireError): void => {
    const reply = errorReply(
      replyTo,
      correlationId,
      error ?? {
        code: ErrorCode.NoResponders,
        message: 'no node answers for the asked address (is it running?)',
      },
    );
    if (replyTo === subjects.replyTo || replyTo.startsWith(ownReply) || batcher === undefined) {
      sink.deliver(reply);
      return;
    }
    // An ask made on another node that this one passed on (a reroute, a forward): its asker is told.
    try {
      batcher.addReply(replyTo, codec.encode(reply), subjects.subjectOf(replyTo));
    } catch (err) {
      sink.reject({
        address: replyTo,
        reason: ErrorCode.Remote,
        error: TroupeError.toWire(err, { code: ErrorCode.Remote }),
      });
    }
  };
  const status = new StatusDispatcher(subjects.prefix, (msg) =>
    sink.reject({
      address: o.scheme.addressOf(msg.subject),
      reason: ErrorCode.MalformedFrame,
      error: { code: ErrorCode.MalformedFrame, message: 'malformed frame: empty frame' },
    }),
  );
  status.onRequest(Segment.Ping, (_rest, msg) => {
    if (security === undefined) {
      msg.respond();
      return;
    }
    const answer = probeAnswer(security, o.nodeId, msg.headers?.get(PROBE_HEADER));
    if (answer !== undefined) msg.respond(answer.data, { headers: answer.headers });
  });
  const inbound = new Inbound({ codec, sink, scheme: o.scheme, subjects, status, security });
  const retry = new FailoverRetry({
    clock,
    subjects,
    status,
    tellWindowMs: tellRetryMs,
    publish:
      security === undefined
        ? (subject, frame, reply) => nc.publish(subject, frame, { reply })
        : (subject, frame, reply) => nc.publish(subject, frame, { reply, headers: security.headers(frame) }),
    flush: () => nc.flush(),
    encodeAsk: (envelope) => {
      const virtual = parseVirtualAddress(envelope.target)!;
      return {
        subject: o.virtualSubject(virtual.type, virtual.id),
        frame: codec.encode(envelope),
        reply: subjects.askStatus(envelope.replyTo!, envelope.correlationId),
      };
    },
    undeliverable: (address, data, count) => {
      const error = {
        code: ErrorCode.NoResponders,
        message: `no node took ${address} within ${tellRetryMs} ms; the message was dropped`,
      };
      // Our own frames decode; without them (forgotten) the dead letters still name the address.
      const decoded =
        data === undefined
          ? []
          : decodeFrames(codec, data).filter((d): d is Envelope => !(d instanceof TroupeError));
      for (let i = 0; i < count; i++) {
        const envelope = decoded[i];
        sink.reject({ address, reason: ErrorCode.NoResponders, error, ...(envelope && { envelope }) });
      }
    },
    askFailed: (replyTo, correlationId) => askFailed(replyTo, correlationId),
  });
  const tellBatcher = new TellBatcher({
    connection: nc,
    subjects,
    status,
    clock,
    maxFrameBytes: codec.maxFrameBytes,
    retry: tellRetryMs > 0 ? retry : undefined,
    reject: (rejected) => sink.reject(rejected),
    askFailed: (correlationId, error) => askFailed(subjects.replyTo, correlationId, error),
    security,
  });
  batcher = tellBatcher;
  const sub = nc.subscribe(subjects.wildcard, {
    callback: (err, msg) => {
      if (err) {
        // The subscription failed (permissions, say): record it; the connection's status says the rest.
        sink.reject({
          address: o.nodeId,
          reason: ErrorCode.Remote,
          error: TroupeError.toWire(err, { code: ErrorCode.Remote }),
        });
        return;
      }
      inbound.onFrame(msg);
    },
  });
  return { nc, subjects, status, inbound, batcher: tellBatcher, retry, sub, security };
}

/**
 * Publishes to a plain address: a reply as it is, anything else with a reply subject for its no-responders
 * status (the ask's `<asker>.$r.<correlation id>`, or `$nr` for a tell).
 */
export function publishTo(link: Link, envelope: Envelope, frame: Uint8Array): void {
  const subject = link.subjects.subjectOf(envelope.target);
  const signed = link.security === undefined ? undefined : link.security.headers(frame);
  if (envelope.kind === EnvelopeKind.Reply) {
    if (signed === undefined) link.nc.publish(subject, frame);
    else link.nc.publish(subject, frame, { headers: signed });
    return;
  }
  const replyTo = envelope.replyTo;
  link.nc.publish(subject, frame, {
    ...(signed && { headers: signed }),
    reply:
      replyTo === undefined
        ? link.subjects.noResponders(envelope.target)
        : link.subjects.askStatus(replyTo, envelope.correlationId),
  });
}
