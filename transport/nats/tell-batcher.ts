// Batching: tells and asks to one subject within one turn of the event loop travel as one NATS message, and so
// do the replies to one asker node, so the per-message costs of NATS (protocol line, routing, parsing on both
// ends) are paid once per batch.

import type { NatsConnection } from '@nats-io/transport-node';
import { type Clock, ErrorCode, TroupeError, type WireError } from '../../runtime/index.js';
import type { Rejected } from '../../runtime/internal.js';
import { packBatch } from '../codec.js';
import type { FailoverRetry } from './retry.js';
import type { FrameSecurity } from './security.js';
import type { StatusDispatcher } from './status.js';
import { type NodeSubjects, parseNoResponders, Segment } from './subjects.js';
import { UnconfirmedRing } from './unconfirmed.js';

/** Batches that may still bounce, at most (see {@link UnconfirmedRing}). */
const UNCONFIRMED_BATCHES = 65_536;

/** What a batch holds: mail (tells, and asks made here), or replies (published without a reply subject). */
enum Mode {
  Mail = 0,
  Replies = 1,
}

interface Batch {
  subject: string;
  target: string;
  frames: Uint8Array[];
  bytes: number;
  /** For a virtual actor: its subject tokens (`$v.<type>.<id>`); its batches go through the retrier. */
  virtual: string | undefined;
  mode: Mode;
  /** Correlation ids of the asks among the frames, in order (none for tells only). */
  asks: string[] | undefined;
}

/** A batch kept until confirmed: its tell count, or its tells and asks when it holds asks. */
type Kept = number | { tells: number; asks: string[] };

/** What the batcher needs from the transport. */
export interface TellBatcherOptions {
  connection: NatsConnection;
  subjects: NodeSubjects;
  /** The batcher takes the `$nr` statuses: tells that found no subscriber. */
  status: StatusDispatcher;
  clock: Clock;
  maxFrameBytes: number;
  /** Batches to virtual actors go through it; without it they bounce to dead letters like any tell. */
  retry: FailoverRetry | undefined;
  /** Records a dead letter. */
  reject(rejected: Rejected): void;
  /** An ask made here, sent in a batch, found no subscriber (`error` unset) or could not be published. */
  askFailed(correlationId: string, error: WireError | undefined): void;
  /** Signs each published batch, when the transport is signed. */
  security?: FrameSecurity | undefined;
}

/**
 * @internal Holds the tells, asks and replies of one turn per subject and publishes each subject's as one
 * message (a batch frame when there are several). Order is kept: a batch holds one subject's mail in order,
 * and the transport flushes the batches before anything it sends at once.
 */
export class TellBatcher {
  readonly #o: TellBatcherOptions;
  readonly #batches = new Map<string, Batch>();
  /**
   * What batches that may still bounce held, by publish id (0 in a reply subject: a single tell): so a status
   * costs what this node sent, and the asks in it fail at once.
   */
  readonly #unconfirmed: UnconfirmedRing<Kept>;
  #flushScheduled = false;
  readonly #flush = (): void => this.flush();

  constructor(options: TellBatcherOptions) {
    this.#o = options;
    this.#unconfirmed = new UnconfirmedRing<Kept>(UNCONFIRMED_BATCHES, options.clock, () =>
      options.connection.flush(),
    );
    options.status.onNoResponders(Segment.NoResponders, (rest) => this.#bounced(rest));
  }

  /** True while mail waits for the end of the turn. */
  get pending(): boolean {
    return this.#batches.size > 0;
  }

  /** Adds a tell to its subject's batch; `virtual` names a virtual target's subject tokens. */
  add(target: string, frame: Uint8Array, subject: string, virtual: string | undefined): void {
    this.#batchOf(target, subject, virtual, Mode.Mail, frame.length).frames.push(frame);
  }

  /**
   * Adds an ask made here (its reply address is this node's) to its subject's batch, behind the tells to the
   * same target; if the batch finds no subscriber, the ask fails with `NO_RESPONDERS` as a single one would.
   */
  addAsk(target: string, frame: Uint8Array, subject: string, correlationId: string): void {
    const batch = this.#batchOf(target, subject, undefined, Mode.Mail, frame.length);
    batch.frames.push(frame);
    if (batch.asks === undefined) batch.asks = [correlationId];
    else batch.asks.push(correlationId);
  }

  /** Adds a reply to the batch of its asker node's reply subject (`<node>.$r`). */
  addReply(target: string, frame: Uint8Array, subject: string): void {
    this.#batchOf(target, subject, undefined, Mode.Replies, frame.length).frames.push(frame);
  }

  /** The batch a frame of `bytes` joins: the subject's, unless that one is full or of another mode. */
  #batchOf(target: string, subject: string, virtual: string | undefined, mode: Mode, bytes: number): Batch {
    let batch = this.#batches.get(subject);
    if (
      batch !== undefined &&
      (batch.mode !== mode || 1 + 4 * (batch.frames.length + 1) + batch.bytes + bytes > this.#o.maxFrameBytes)
    ) {
      this.#publishOrReject(batch);
      this.#batches.delete(subject);
      batch = undefined;
    }
    if (batch === undefined) {
      batch = { subject, target, frames: [], bytes: 0, virtual, mode, asks: undefined };
      this.#batches.set(subject, batch);
    }
    batch.bytes += bytes;
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      queueMicrotask(this.#flush);
    }
    return batch;
  }

  /** Publishes every waiting batch now. */
  flush(): void {
    this.#flushScheduled = false;
    const nc = this.#o.connection;
    if (!nc.isClosed()) for (const batch of this.#batches.values()) this.#publishOrReject(batch);
    this.#batches.clear();
  }

  close(): void {
    this.#unconfirmed.close();
  }

  /**
   * Publishes a batch; one that cannot be (a reply address from the wire that is no subject, a connection
   * draining under us) becomes dead letters and failed asks here, never an exception out of a flush.
   */
  #publishOrReject(batch: Batch): void {
    try {
      this.#publish(batch);
    } catch (err) {
      const error = TroupeError.toWire(err, { code: ErrorCode.Remote });
      const asks = batch.asks ?? [];
      for (const correlationId of asks) this.#o.askFailed(correlationId, error);
      for (let i = asks.length; i < batch.frames.length; i++)
        this.#o.reject({ address: batch.target, reason: ErrorCode.Remote, error });
    }
  }

  #publish(batch: Batch): void {
    const n = batch.frames.length;
    const data = n === 1 ? batch.frames[0]! : packBatch(batch.frames, batch.bytes);
    if (batch.mode === Mode.Replies) {
      // No reply subject: an asker that is gone has nothing to say to the node that answers it.
      const security = this.#o.security;
      if (security === undefined) this.#o.connection.publish(batch.subject, data);
      else this.#o.connection.publish(batch.subject, data, { headers: security.headers(data) });
      return;
    }
    const retry = this.#o.retry;
    if (batch.virtual !== undefined && retry) {
      retry.sendTells(batch.target, batch.virtual, batch.subject, data, n);
      return;
    }
    // A batch's size stays here, not in its reply subject: a status from the wire must not name how many
    // dead letters to record (a forged `$nr.1000000` would block the node for a second).
    const subjects = this.#o.subjects;
    const asks = batch.asks;
    let reply: string;
    if (asks === undefined)
      reply =
        n === 1
          ? subjects.noResponders(batch.target)
          : subjects.noRespondersBatch(this.#unconfirmed.add(n), batch.target);
    // A single ask keeps its own status subject, as when sent at once.
    else if (n === 1) reply = subjects.askStatus(subjects.replyTo, asks[0]!);
    else
      reply = subjects.noRespondersBatch(
        this.#unconfirmed.add({ tells: n - asks.length, asks }),
        batch.target,
      );
    const security = this.#o.security;
    if (security === undefined) this.#o.connection.publish(batch.subject, data, { reply });
    else this.#o.connection.publish(batch.subject, data, { reply, headers: security.headers(data) });
  }

  /**
   * `$nr.<publish id>.<target tokens>`: a tell (id 0) or a batch found no subscriber. The batch's size comes
   * from what this node kept; a status it does not know of costs one dead letter. Its asks fail at once.
   */
  #bounced(rest: string): void {
    const { publishId, address } = parseNoResponders(rest);
    const kept = this.#unconfirmed.take(publishId) ?? 1;
    let count: number;
    if (typeof kept === 'number') count = kept;
    else {
      count = kept.tells;
      for (const correlationId of kept.asks) this.#o.askFailed(correlationId, undefined);
    }
    for (let i = 0; i < count; i++) {
      this.#o.reject({
        address,
        reason: ErrorCode.NoResponders,
        error: {
          code: ErrorCode.NoResponders,
          message: `no node subscribes to ${address}; the message was dropped`,
        },
      });
    }
  }
}
