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
import { type Envelope, ErrorCode, TroupeError } from '../runtime/index.js';

/** How long a message may stay unacknowledged on a node before JetStream offers it again. */
const ACK_WAIT_NS = 30_000_000_000;
/** Publisher deduplication window (by message id). */
const DUPLICATE_WINDOW_NS = 120_000_000_000;

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
  readonly #prefix: string;
  readonly #stream: string;
  readonly #decode: (data: Uint8Array) => Envelope;
  readonly #deliver: (envelope: Envelope) => void;
  readonly #reject: (subject: string, error: unknown) => void;
  readonly #consuming = new Map<string, ConsumerMessages>();
  #jsm: JetStreamManager | undefined;
  #ready: Promise<void> | undefined;
  #isReady = false;

  constructor(
    nc: NatsConnection,
    namespace: string,
    decode: (data: Uint8Array) => Envelope,
    deliver: (envelope: Envelope) => void,
    reject: (subject: string, error: unknown) => void,
  ) {
    this.#nc = nc;
    this.#js = jetstream(nc);
    this.#prefix = `troupe.${namespace}.$d`;
    this.#stream = `TROUPE_${namespace.replace(/[^A-Za-z0-9_-]/g, '_')}`;
    this.#decode = decode;
    this.#deliver = deliver;
    this.#reject = reject;
  }

  /** Subject of a durable message to virtual actor `type`/`id` in shard `shard`. */
  subjectOf(type: string, shard: number, id: string): string {
    return `${this.#prefix}.${type}.${shard}.${id}`;
  }

  /** Creates the stream once (idempotent across nodes). */
  ready(): Promise<void> {
    this.#ready ??= (async () => {
      this.#jsm = await jetstreamManager(this.#nc);
      const config = {
        name: this.#stream,
        subjects: [`${this.#prefix}.>`],
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
    const options = messageId === undefined ? undefined : { msgID: messageId };
    // On the hot path the stream exists already: skip the extra await.
    const stored = this.#isReady
      ? this.#js.publish(subject, frame, options)
      : this.ready().then(() => this.#js.publish(subject, frame, options));
    return stored.then(
      () => undefined,
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

  /** Starts consuming shard `type.shard` from the oldest message left in the store. */
  async claim(type: string, shard: number): Promise<void> {
    await this.ready();
    const jsm = this.#jsm!;
    const name = `${type}_${shard}`.replace(/[^A-Za-z0-9_-]/g, '_');
    await this.release(type, shard);
    await jsm.consumers.delete(this.#stream, name).catch(() => undefined);
    await jsm.consumers.add(this.#stream, {
      durable_name: name,
      filter_subject: `${this.#prefix}.${type}.${shard}.*`,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: ACK_WAIT_NS,
      max_ack_pending: 1024,
    });
    const consumer = await this.#js.consumers.get(this.#stream, name);
    const messages = await consumer.consume({ max_messages: 256 });
    this.#consuming.set(`${type}.${shard}`, messages);
    void (async () => {
      for await (const m of messages) {
        let envelope: Envelope;
        try {
          envelope = this.#decode(m.data);
        } catch (err) {
          // A frame that can never be handled: acknowledge it away and report it, rather than redeliver forever.
          m.term();
          this.#reject(m.subject, err);
          continue;
        }
        envelope.delivery = { ack: () => m.ack(), nak: () => m.nak() };
        this.#deliver(envelope);
      }
    })().catch((err: unknown) => this.#reject(`${this.#prefix}.${type}.${shard}`, err));
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
    for (const messages of this.#consuming.values()) messages.stop();
    this.#consuming.clear();
  }
}
