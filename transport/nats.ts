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
  type Codec,
  type Envelope,
  EnvelopeKind,
  ErrorCode,
  errorReply,
  REPLY_SEGMENT,
  type Transport,
  type TransportSink,
  TroupeError,
} from '../runtime/index.js';
import { createCodec, DEFAULT_MAX_FRAME_BYTES } from './codec.js';
import { TransportError, TransportErrorCode } from './errors.js';

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
  /** Extra options for `connect()` (auth, TLS, reconnect policy). */
  connectOptions?: Partial<NodeConnectionOptions>;
}

const NO_RESPONDERS_SEGMENT = '$nr';
const PING_SEGMENT = '$ping';
const SUBJECT_CACHE_LIMIT = 10_000;

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
export function natsTransport(options: NatsTransportOptions = {}): Transport {
  const namespace = options.namespace ?? 'default';
  assertValidName(namespace, 'namespace');
  const prefix = `troupe.${namespace}.`;
  let codec: Codec = createCodec({ maxFrameBytes: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES });
  let nc: NatsConnection | undefined;
  let sub: Subscription | undefined;
  let nodePrefix = '';
  let state: 'new' | 'binding' | 'open' | 'closing' | 'closed' = 'new';
  const owned = options.connection === undefined;
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
      subject = `${nodePrefix}${NO_RESPONDERS_SEGMENT}.${subjectTail(address)}`;
      undeliverable.set(address, subject);
    }
    return subject;
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
        const address = rest.slice(NO_RESPONDERS_SEGMENT.length + 1).replaceAll('.', '/');
        sink.reject({
          address,
          reason: ErrorCode.NoResponders,
          error: {
            code: ErrorCode.NoResponders,
            message: `no node subscribes to ${address}; the message was dropped`,
          },
        });
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

  const transport: Transport = {
    kind: 'nats',
    get maxFrameBytes() {
      return codec.maxFrameBytes;
    },

    async bind(nodeId: string, sink: TransportSink): Promise<void> {
      if (state !== 'new')
        throw new TransportError(TransportErrorCode.AlreadyBound, 'NATS transport is already bound');
      state = 'binding';
      try {
        nc =
          options.connection ??
          (await connect({
            servers: options.servers ?? 'nats://127.0.0.1:4222',
            name: `troupe:${nodeId}`,
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
      const serverMax = nc.info?.max_payload ?? DEFAULT_MAX_FRAME_BYTES;
      if (codec.maxFrameBytes > serverMax) codec = createCodec({ maxFrameBytes: serverMax });
      nodePrefix = `${prefix}${nodeId}.`;
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
      sub = conn.subscribe(`${nodePrefix}>`, {
        callback: (err, msg) => {
          if (err) {
            // The subscription failed (permissions, say): record it; the connection's status says the rest.
            sink.reject({ address: `${nodeId}`, reason: ErrorCode.Remote, error: TroupeError.toWire(err) });
            return;
          }
          const data = msg.data;
          if (data.length === 0) {
            onStatus(sink, msg);
            return;
          }
          let envelope: Envelope;
          try {
            envelope = codec.decode(data);
          } catch (e) {
            sink.reject({
              address: addressOf(msg.subject),
              reason: TroupeError.is(e) ? e.code : ErrorCode.MalformedFrame,
              error: TroupeError.toWire(e),
            });
            return;
          }
          sink.deliver(envelope);
        },
      });
      await conn.flush();
      state = 'open';
      if (owned) {
        void conn.closed().then((err) => finish(err ?? undefined));
      }
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
      if (envelope.kind === EnvelopeKind.Reply) {
        nc.publish(subjectOf(target), frame);
      } else {
        const replyTo = envelope.replyTo;
        nc.publish(subjectOf(target), frame, {
          reply: replyTo === undefined ? noResponderSubject(target) : subjectOf(replyTo),
        });
      }
    },

    async close(): Promise<void> {
      if (state === 'closed' || state === 'closing') return void (await whenClosed);
      state = 'closing';
      try {
        if (owned) await nc?.close();
        else sub?.unsubscribe();
      } finally {
        finish(undefined);
      }
    },

    async drain(): Promise<void> {
      if (state === 'closed' || state === 'closing') return void (await whenClosed);
      state = 'closing';
      try {
        if (owned) await nc?.drain();
        else {
          await nc?.flush();
          await sub?.drain();
        }
      } finally {
        finish(undefined);
      }
    },

    closed: () => whenClosed,
    [Symbol.asyncDispose]: () => transport.drain(),
  };
  return transport;
}
