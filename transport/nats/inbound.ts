// What arrives for a node: frames decoded and checked against their subject, then handed to the system;
// empty frames (statuses) to the status dispatcher.

import type { Msg } from '@nats-io/transport-node';
import { ErrorCode, TroupeError } from '../../runtime/index.js';
import { type Envelope, type Rejected, type TransportSink, VIRTUAL_NODE } from '../../runtime/internal.js';
import { type BatchCodec, decodeFrames, undecodable } from '../codec.js';
import type { FrameSecurity } from './security.js';
import type { StatusDispatcher } from './status.js';
import type { NodeSubjects, SubjectScheme } from './subjects.js';

/** What the receiver needs from the transport. */
export interface InboundOptions {
  codec: BatchCodec;
  sink: TransportSink;
  scheme: SubjectScheme;
  subjects: NodeSubjects;
  status: StatusDispatcher;
  /** Set when frames must be signed: they are verified, access-checked and opened before delivery. */
  security?: FrameSecurity | undefined;
}

const VIRTUAL_PREFIX = `${VIRTUAL_NODE}/`;

/**
 * @internal Reads the frames of the node's wildcard subscription, of its shard subscriptions and of the
 * directory's local deliveries. A frame that is malformed, too large or names another target than its
 * subject becomes a dead letter, never an exception.
 */
export class Inbound {
  readonly #o: InboundOptions;
  /** Takes a message; never throws (a throw inside a subscription callback would stop nats.js reading). */
  readonly onFrame = (msg: Msg): void => {
    try {
      this.#onFrame(msg);
    } catch (err) {
      this.#o.sink.reject({
        address: this.#o.scheme.addressOf(msg.subject),
        reason: ErrorCode.Remote,
        error: TroupeError.toWire(err, { code: ErrorCode.Remote }),
      });
    }
  };

  readonly #reject: (rejected: Rejected) => void;

  constructor(options: InboundOptions) {
    this.#o = options;
    this.#reject = (rejected) => options.sink.reject(rejected);
  }

  #onFrame(msg: Msg): void {
    const data = msg.data;
    if (data.length === 0) {
      this.#o.status.dispatch(msg);
      return;
    }
    const security = this.#o.security;
    if (security !== undefined) {
      this.#signedFrame(msg, security);
      return;
    }
    for (const decoded of decodeFrames(this.#o.codec, data)) {
      if (decoded instanceof TroupeError)
        this.#o.sink.reject(undecodable(this.#o.scheme.addressOf(msg.subject), decoded));
      else if (this.#admit(msg.subject, decoded)) this.#o.sink.deliver(decoded);
    }
  }

  /** A frame of a signed transport: nothing in it is decoded before its signature verifies. */
  #signedFrame(msg: Msg, security: FrameSecurity): void {
    const signer = security.verify(msg, this.#o.scheme.addressOf(msg.subject), this.#reject);
    if (signer === undefined) return;
    for (const decoded of decodeFrames(this.#o.codec, msg.data)) {
      if (decoded instanceof TroupeError)
        this.#o.sink.reject(undecodable(this.#o.scheme.addressOf(msg.subject), decoded));
      else if (this.#admit(msg.subject, decoded)) {
        const admitted = security.admit(signer, decoded, this.#reject);
        if (admitted !== undefined) this.#o.sink.deliver(admitted);
      }
    }
  }

  /**
   * Any client may publish on any subject: an envelope must name what its subject names, or a virtual
   * target sent to a node subject would start a second instance of an actor its shard owner runs.
   */
  #admit(subject: string, envelope: Envelope): boolean {
    const target = envelope.target;
    const virtualTarget = target.charCodeAt(0) === 36 && target.startsWith(VIRTUAL_PREFIX);
    let expected: string | undefined;
    if (this.#o.subjects.owns(subject)) {
      const forwarded = this.#o.subjects.forwardedTarget(subject);
      if (forwarded === null) {
        if (!virtualTarget) return true;
      } else if (virtualTarget) expected = forwarded;
    } else if (virtualTarget) expected = this.#o.scheme.virtualTarget(subject);
    if (expected === target) return true;
    this.#o.sink.reject({
      address: this.#o.scheme.addressOf(subject),
      reason: ErrorCode.MalformedFrame,
      error: {
        code: ErrorCode.MalformedFrame,
        message: `a frame on ${subject} names ${target.slice(0, 300)}: dropped`,
      },
      envelope,
    });
    return false;
  }
}
