// Durable mailboxes on JetStream: a work-queue stream per namespace, one consumer per owned shard.

import {
  AckPolicy,
  type ConsumerMessages,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { type DurableStats, ErrorCode, TroupeError } from '../../runtime/index.js';
import type { Codec, Envelope, Rejected } from '../../runtime/internal.js';
import { decodeFrame } from '../codec.js';
import type { FrameSecurity } from './security.js';
import { durableConsumer, durableStream, SubjectScheme } from './subjects.js';

function settleSafely(settle: () => void): void {
  try {
    settle();
  } catch {
    // Left unacknowledged: the store offers it again after its ack wait.
  }
}

/** How long a message may stay unacknowledged on a node before JetStream offers it again. */
const ACK_WAIT_NS = 30_000_000_000;
/** Publisher deduplication window (by message id). */
const DUPLICATE_WINDOW_NS = 120_000_000_000;

/** What the durable mailboxes work with, from the transport. */
export interface DurableMailboxesOptions {
  connection: NatsConnection;
  namespace: string;
  nodeId: string;
  /** Reads stored frames (one envelope each). */
  codec: Codec;
  /** Hands a stored message to the system; it carries `delivery` to acknowledge it. */
  deliver: (envelope: Envelope) => void;
  /** A stored frame that can never be handled (it is removed from the store) or a claim that failed. */
  reject: (subject: string, error: unknown) => void;
  /** Another node took a shard's consumer: the shard's actors here may be stale. */
  lost: (type: string, shard: number) => Promise<unknown>;
  /** A claim of shard `type.shard` failed and is tried again (for the log). */
  onRetry?: ((shard: string, attempt: number, error: unknown) => void) | undefined;
  /** Set for a signed transport: stored frames are signed, and verified before they are handled. */
  security?: FrameSecurity | undefined;
  /** Records a refused frame (with `security`). */
  refuse?: ((rejected: Rejected) => void) | undefined;
}

/**
 * @internal The JetStream side of durable virtual actors. Messages are stored in a work-queue stream
 * (`troupe.<ns>.$d.<type>.<shard>.<id>`), so a message leaves the store only when acknowledged, which
 * happens after its handler finished (or it was dead-lettered). A node that claims a shard recreates the
 * shard's consumer from the start of what is left, so messages the previous owner never acknowledged come
 * first and per-actor order holds across a failover.
 */
export class DurableMailboxes {
  readonly #nc: NatsConnection;
  readonly #js: JetStreamClient;
  readonly #subjects: SubjectScheme;
  readonly #stream: string;
  readonly #codec: Codec;
  readonly #deliver: (envelope: Envelope) => void;
  readonly #reject: (subject: string, error: unknown) => void;
  readonly #consuming = new Map<string, ConsumerMessages>();
  readonly #lost: (type: string, shard: number) => Promise<unknown>;
  readonly #onRetry: ((shard: string, attempt: number, error: unknown) => void) | undefined;
  #jsm: JetStreamManager | undefined;
  readonly #node: string;
  readonly #security: FrameSecurity | undefined;
  readonly #refuse: (rejected: Rejected) => void;
  #claims = 0;
  #queue: Promise<void> = Promise.resolve();
  #closed = false;
  #ready: Promise<void> | undefined;
  #isReady = false;
  /** Publishes waiting for the stream to exist; while any are, new ones wait too (order per actor). */
  #waiting = 0;
  /** Durable mail counted for metrics. */
  readonly stats: DurableStats = { stored: 0, delivered: 0, acked: 0, nacked: 0, terminated: 0 };

  constructor(options: DurableMailboxesOptions) {
    this.#lost = options.lost;
    this.#onRetry = options.onRetry;
    this.#nc = options.connection;
    this.#node = options.nodeId;
    this.#js = jetstream(options.connection);
    this.#subjects = new SubjectScheme(options.namespace);
    this.#stream = durableStream(options.namespace);
    this.#codec = options.codec;
    this.#deliver = options.deliver;
    this.#reject = options.reject;
    this.#security = options.security;
    this.#refuse = options.refuse ?? (() => undefined);
  }

  /** Subject of a durable message to virtual actor `type`/`id` in shard `shard`. */
  subjectOf(type: string, shard: number, id: string): string {
    return this.#subjects.durable(type, shard, id);
  }

  /** Creates the stream once (idempotent across nodes). */
  ready(): Promise<void> {
    this.#ready ??= (async () => {
      this.#jsm = await jetstreamManager(this.#nc);
      const config = {
        name: this.#stream,
        subjects: [this.#subjects.durableAll],
        retention: RetentionPolicy.Workqueue,
        storage: StorageType.File,
        duplicate_window: DUPLICATE_WINDOW_NS,
      };
      try {
        await this.#jsm.streams.info(this.#stream);
      } catch {
        try {
          await this.#jsm.streams.add(config);
        } catch (err) {
          // Another node created it at the same moment: fine if it now exists.
          await this.#jsm.streams.info(this.#stream).catch(() => {
            throw err;
          });
        }
      }
      this.#isReady = true;
    })();
    this.#ready.catch(() => {
      this.#ready = undefined;
    });
    return this.#ready;
  }

  /** Stores a message; resolves once JetStream acknowledged it (deduplicated by `messageId`, when given). */
  publish(subject: string, frame: Uint8Array, messageId: string | undefined): Promise<void> {
    const signed = this.#security?.headers(frame);
    const options =
      signed === undefined
        ? messageId === undefined
          ? undefined
          : { msgID: messageId }
        : messageId === undefined
          ? { headers: signed }
          : { msgID: messageId, headers: signed };
    // On the hot path the stream exists already: skip the extra await. Until every publish that waited for
    // the stream has gone out, later ones queue behind them on the same promise, or they would overtake.
    let stored: Promise<unknown>;
    if (this.#isReady && this.#waiting === 0) stored = this.#js.publish(subject, frame, options);
    else {
      this.#waiting++;
      stored = this.ready().then(
        () => {
          this.#waiting--;
          return this.#js.publish(subject, frame, options);
        },
        (err: unknown) => {
          this.#waiting--;
          throw err;
        },
      );
    }
    return stored.then(
      () => {
        this.stats.stored++;
      },
      (err: unknown) => {
        throw new TroupeError(
          ErrorCode.NoResponders,
          `durable message was not stored: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      },
    );
  }

  /**
   * Starts consuming shard `type.shard` from the oldest message left in the store, for as long as
   * `stillOwned()` says so. Claims on one node run one at a time; a claim that loses a race with another
   * node's (their views of the cluster briefly disagree) is retried, and a consumer deleted under us is
   * claimed again, until ownership settles.
   */
  claim(type: string, shard: number, stillOwned: () => boolean): Promise<void> {
    const run = this.#queue.then(() => this.#claimNow(type, shard, stillOwned));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #claimNow(type: string, shard: number, stillOwned: () => boolean): Promise<void> {
    const key = `${type}.${shard}`;
    for (let attempt = 0; ; attempt++) {
      if (this.#closed || !stillOwned()) return;
      try {
        await this.#consume(type, shard, stillOwned);
        return;
      } catch (err) {
        if (attempt >= 20) throw err;
        this.#onRetry?.(key, attempt + 1, err);
        // Another node is claiming the same shard right now; wait for views to agree, then try again.
        await new Promise((resolve) => setTimeout(resolve, 50 + 50 * Math.min(attempt, 8)));
        if (this.#consuming.has(key)) return;
      }
    }
  }

  async #consume(type: string, shard: number, stillOwned: () => boolean): Promise<void> {
    await this.ready();
    const jsm = this.#jsm!;
    const key = `${type}.${shard}`;
    const filter = this.#subjects.durableShard(type, shard);
    // A consumer name of our own per claim: a previous owner still pulling (its view lagging) must not share
    // the new owner's consumer and handle its messages.
    const name = durableConsumer(type, shard, this.#node, ++this.#claims);
    await this.release(type, shard);
    // A work queue allows one consumer per subject: remove whatever consumer the previous owner left.
    for await (const info of jsm.consumers.list(this.#stream)) {
      if (info?.config?.filter_subject === filter) {
        await jsm.consumers.delete(this.#stream, info.name).catch(() => undefined);
      }
    }
    await jsm.consumers.add(this.#stream, {
      durable_name: name,
      filter_subject: filter,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: ACK_WAIT_NS,
      max_ack_pending: 1024,
    });
    const consumer = await this.#js.consumers.get(this.#stream, name);
    // abort_on_missing_resource: if another node deletes our consumer, the loop ends and we know it.
    const messages = await consumer.consume({ max_messages: 256, abort_on_missing_resource: true });
    // Released or closed while the consumer was being set up: do not start pulling for a shard no longer ours.
    if (this.#closed || !stillOwned()) {
      messages.stop();
      return;
    }
    this.#consuming.set(key, messages);
    void (async () => {
      for await (const m of messages) {
        const security = this.#security;
        let signer: string | undefined;
        if (security !== undefined) {
          signer = security.verify(m, this.#subjects.addressOf(m.subject), this.#refuse);
          if (signer === undefined) {
            // Never handled, never redelivered.
            m.term();
            this.stats.terminated++;
            continue;
          }
        }
        let envelope = decodeFrame(this.#codec, m.data);
        if (envelope instanceof TroupeError) {
          // A frame that can never be handled: acknowledge it away and report it, rather than redeliver forever.
          m.term();
          this.stats.terminated++;
          this.#reject(m.subject, envelope);
          continue;
        }
        // Anyone may publish to the stream's subjects: the envelope must name the actor its subject names.
        if (envelope.target !== this.#subjects.durableTarget(type, m.subject)) {
          m.term();
          this.stats.terminated++;
          this.#reject(
            m.subject,
            new TroupeError(
              ErrorCode.MalformedFrame,
              `a durable frame on ${m.subject} names ${envelope.target.slice(0, 300)}`,
            ),
          );
          continue;
        }
        if (security !== undefined) {
          const admitted = security.admit(signer!, envelope, this.#refuse);
          if (admitted === undefined) {
            m.term();
            this.stats.terminated++;
            continue;
          }
          envelope = admitted;
        }
        // A closed or draining connection makes ack/nak throw; JetStream redelivers what was not acked.
        const stats = this.stats;
        envelope.delivery = {
          ack: () => {
            stats.acked++;
            settleSafely(() => m.ack());
          },
          nak: () => {
            stats.nacked++;
            settleSafely(() => m.nak());
          },
        };
        stats.delivered++;
        this.#deliver(envelope);
      }
    })()
      .catch(() => undefined)
      .then(async () => {
        // Ended without a release of ours: another node took the consumer (our view of the cluster lagged
        // or theirs did). Our activations of that shard's actors may now be stale: passivate them, so the
        // next activation, here or there, starts from the saved state. Claim again while the shard is ours.
        if (this.#consuming.get(key) !== messages) return;
        this.#consuming.delete(key);
        await this.#lost(type, shard).catch(() => undefined);
        if (!this.#closed && stillOwned()) {
          setTimeout(() => {
            this.claim(type, shard, stillOwned).catch((err: unknown) => this.#reject(filter, err));
          }, 100);
        }
      });
  }

  /** Stops consuming a shard (its unacknowledged messages stay in the store for the next owner). */
  async release(type: string, shard: number): Promise<void> {
    const key = `${type}.${shard}`;
    const messages = this.#consuming.get(key);
    if (!messages) return;
    this.#consuming.delete(key);
    messages.stop();
    await messages.closed().catch(() => undefined);
  }

  /** Shards being consumed (`type.shard`). */
  consuming(): string[] {
    return [...this.#consuming.keys()];
  }

  close(): void {
    this.#closed = true;
    for (const messages of this.#consuming.values()) messages.stop();
    this.#consuming.clear();
  }
}
