// The TopicBus on NATS: durable topics on a JetStream stream per namespace (a durable subscription is a durable
// consumer: explicit acks, one event in flight, acknowledged after its handler resolved, so a subscriber that
// dies gets the event again on its next start), fast topics on core NATS subjects. Every operation has a
// deadline, so an outage rejects with TOPIC_UNAVAILABLE instead of hanging.

import {
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  RetentionPolicy,
  StorageType,
} from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import {
  assertTopic,
  assertTopicData,
  type Clock,
  InvalidOptionsError,
  type PublishAck,
  type PublishOptions,
  patternCovers,
  type SubscribeOptions,
  systemClock,
  type TopicBus,
  type TopicDeadLetter,
  TopicError,
  TopicErrorCode,
  type TopicHandler,
  type TopicSubscription,
  topicMatches,
} from '../../runtime/index.js';
import {
  assertOptionsObject,
  assertValidName,
  DeadLetterBuffer,
  durablePatternsOption,
  maxEventBytesOption,
  type ResolvedSubscribeOptions,
  resolveSubscribeOptions,
  SerialDelivery,
  withDeadline,
} from '../../runtime/internal.js';
import {
  type ConnectionSource,
  type ConnectionSourceOptions,
  connectionSource,
} from './connection-source.js';
import { DEFAULT_NAMESPACE } from './options.js';
import {
  type BusParts,
  DurableSubscription,
  type ResolvedTopicBusOptions,
  topicUnavailable,
} from './topics-durable.js';
import { topicOfSubject, topicStream, topicSubject } from './topics-subjects.js';

/** Default deadline of one bus operation (publish, subscribe). */
export const DEFAULT_TOPIC_OP_TIMEOUT_MS = 2000;
/** Default time a durable topic keeps its events: a week. */
export const DEFAULT_TOPIC_MAX_AGE_MS = 7 * 24 * 3600 * 1000;
/**
 * Default time the server waits for an ack before redelivering. Short, because a durable subscription holds one
 * event in flight: an ack lost in a server restart stalls it this long. A slower handler reports progress.
 */
export const DEFAULT_TOPIC_ACK_WAIT_MS = 5000;

/** Options of {@link natsTopicBus}: give exactly one of `transport`, `servers` or `connection`. */
export interface NatsTopicBusOptions extends ConnectionSourceOptions {
  /** Names the stream and subjects, so several fleets can share a server. @defaultValue `default` */
  namespace?: string;
  /**
   * Patterns of the durable topics (stored in JetStream, kept for durable subscribers); every publisher and
   * durable subscriber of a namespace should give the same list. @defaultValue none: every topic is fast
   */
  durable?: string[];
  /** Largest event, in UTF-8 bytes (also the stream's max message size). @defaultValue 256 KiB */
  maxEventBytes?: number;
  /** Deadline of each operation; past it the operation rejects with `TOPIC_UNAVAILABLE`. @defaultValue 2000 */
  opTimeoutMs?: number;
  /** How long durable topics keep their events. @defaultValue a week */
  maxAgeMs?: number;
  /** Stream replicas on a clustered NATS. @defaultValue 1 */
  replicas?: number;
  /**
   * How long a durable event may go unacknowledged before the server offers it again (a handler in flight
   * reports progress every half of it, so only a dead subscriber's events come again). @defaultValue 5000
   */
  ackWaitMs?: number;
  /** Timers of fast subscriptions' retries. @defaultValue the system clock */
  clock?: Clock;
}

class NatsTopicBus implements TopicBus {
  readonly #o: ResolvedTopicBusOptions;
  readonly #source: ConnectionSource;
  readonly #deadLetters = new DeadLetterBuffer();
  readonly #subscriptions = new Set<TopicSubscription>();
  #opening: Promise<{ js: JetStreamClient; jsm: JetStreamManager }> | undefined;
  #ready: { js: JetStreamClient; jsm: JetStreamManager } | undefined;
  readonly #topics = new Map<string, boolean>();
  /**
   * Fast publishes of this turn, subject and data by turns. Handed to nats.js together once per turn, they
   * leave in one socket write: publishes made one by one from promise continuations (actors' handlers) would
   * each get a write of their own, since nats.js flushes at the end of the microtask that published.
   */
  readonly #fastBatch: string[] = [];
  readonly #flushFast = (): void => {
    const batch = this.#fastBatch.splice(0);
    const nc = this.#source.current();
    if (nc === undefined || nc.isClosed()) return; // fast topics are at most once
    for (let i = 0; i < batch.length; i += 2) nc.publish(batch[i] as string, batch[i + 1] as string);
  };
  #closed = false;
  readonly #parts: BusParts;

  constructor(o: ResolvedTopicBusOptions, source: ConnectionSource) {
    this.#o = o;
    this.#source = source;
    this.#parts = {
      o,
      deadLetters: this.#deadLetters,
      open: () => this.#open(),
      connection: () => this.#connection(),
      deadline: (what, work) => this.#deadline(what, work),
    };
  }

  isDurable(topic: string): boolean {
    return this.#o.durable.some((p) => topicMatches(p, topic));
  }

  deadLetters(): readonly TopicDeadLetter[] {
    return this.#deadLetters.list();
  }

  async publish(topic: string, data: string, options?: PublishOptions): Promise<PublishAck> {
    this.#check();
    // Topics repeat: each is checked and classified once (a bounded cache), not on every publish.
    let durable = this.#topics.get(topic);
    if (durable === undefined) {
      assertTopic(topic);
      durable = this.isDurable(topic);
      if (this.#topics.size >= 10_000) this.#topics.clear();
      this.#topics.set(topic, durable);
    }
    assertTopicData(data, this.#o.maxBytes);
    const id = options?.id;
    if (id !== undefined && (typeof id !== 'string' || id.length === 0 || id.length > 256))
      throw new InvalidOptionsError('id', 'expected a string of 1-256 characters');
    if (!durable) {
      this.#connection(); // TOPIC_UNAVAILABLE now, not a silent loss later, once the connection is closed
      this.#fastBatch.push(topicSubject(this.#o.namespace, topic, false), data);
      if (this.#fastBatch.length === 2) setImmediate(this.#flushFast);
      return { durable: false };
    }
    const subject = topicSubject(this.#o.namespace, topic, true);
    const options_ = { timeout: this.#o.timeoutMs, ...(id === undefined ? {} : { msgID: id }) };
    const ready = this.#ready;
    // Once the stream is open, js.publish's own timeout is the deadline (one timer per publish, not two).
    const ack =
      ready === undefined || this.#source.current()?.isClosed() !== false
        ? await this.#deadline(
            `publish on ${topic}`,
            this.#open().then(({ js }) => js.publish(subject, data, options_)),
          )
        : await ready.js.publish(subject, data, options_).catch((err: unknown) => {
            throw topicUnavailable(`publish on ${topic}`, err);
          });
    return ack.duplicate ? { durable: true, seq: ack.seq, duplicate: true } : { durable: true, seq: ack.seq };
  }

  async subscribe(
    pattern: string,
    handler: TopicHandler,
    options?: SubscribeOptions,
  ): Promise<TopicSubscription> {
    this.#check();
    const resolved = resolveSubscribeOptions(pattern, handler, options);
    if (resolved.durable === undefined) return this.#subscribeFast(pattern, handler, resolved);
    if (!this.#o.durable.some((p) => patternCovers(p, pattern)))
      throw new TopicError(
        TopicErrorCode.NotDurable,
        `durable subscription ${resolved.durable} on ${pattern}: no durable topic pattern of this bus covers it (durable: ${JSON.stringify(this.#o.durable)})`,
      );
    const sub = new DurableSubscription(this.#parts, pattern, handler, resolved);
    await sub.start();
    return this.#track(sub);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#flushFast();
    await Promise.all([...this.#subscriptions].map((s) => s.unsubscribe().catch(() => undefined)));
    this.#subscriptions.clear();
    await this.#source.owned?.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** A fast subscription: core NATS on both subject spaces, so it also sees durable topics' events live. */
  #subscribeFast(
    pattern: string,
    handler: TopicHandler,
    resolved: ResolvedSubscribeOptions,
  ): TopicSubscription {
    const nc = this.#connection();
    const delivery = new SerialDelivery(pattern, handler, resolved, this.#o.clock, this.#deadLetters);
    const subs: Subscription[] = [];
    const ns = this.#o.namespace;
    const queue = resolved.queue === undefined ? {} : { queue: resolved.queue };
    try {
      for (const durable of [false, true])
        subs.push(
          nc.subscribe(topicSubject(ns, pattern, durable), {
            ...queue,
            callback: (err, msg) => {
              if (err !== null) return;
              const topic = topicOfSubject(ns, msg.subject);
              if (topic === undefined) return;
              delivery.push({ topic, data: msg.string(), time: this.#o.clock.now() });
            },
          }),
        );
    } catch (err) {
      for (const s of subs) s.unsubscribe();
      throw topicUnavailable(`subscribe to ${pattern}`, err);
    }
    let done: Promise<void> | undefined;
    const unsubscribe = (): Promise<void> => {
      done ??= (async () => {
        for (const s of subs) s.unsubscribe();
        this.#subscriptions.delete(sub);
        await delivery.stop();
      })();
      return done;
    };
    const sub: TopicSubscription = { pattern, unsubscribe, delete: unsubscribe };
    return this.#track(sub);
  }

  #track<S extends TopicSubscription>(sub: S): S {
    this.#subscriptions.add(sub);
    const unsubscribe = sub.unsubscribe.bind(sub);
    const remove = sub.delete.bind(sub);
    return Object.assign(sub, {
      unsubscribe: async () => {
        this.#subscriptions.delete(sub);
        await unsubscribe();
      },
      delete: async () => {
        this.#subscriptions.delete(sub);
        await remove();
      },
    });
  }

  #connection(): NatsConnection {
    const nc = this.#source.current();
    if (nc === undefined)
      throw new TopicError(TopicErrorCode.Unavailable, 'the NATS transport is not connected yet');
    if (nc.isClosed()) throw new TopicError(TopicErrorCode.Unavailable, 'the NATS connection is closed');
    return nc;
  }

  /** Creates the stream once (idempotent across nodes); a failed open is tried again by the next operation. */
  #open(): Promise<{ js: JetStreamClient; jsm: JetStreamManager }> {
    if (this.#opening !== undefined) return this.#opening;
    let nc: NatsConnection;
    try {
      nc = this.#connection();
    } catch (err) {
      return Promise.reject(err);
    }
    const name = topicStream(this.#o.namespace);
    const opening = (async () => {
      const js = jetstream(nc, { timeout: this.#o.timeoutMs });
      const jsm = await js.jetstreamManager();
      try {
        await jsm.streams.info(name);
      } catch {
        try {
          await jsm.streams.add({
            name,
            subjects: [topicSubject(this.#o.namespace, '>', true)],
            retention: RetentionPolicy.Limits,
            storage: StorageType.File,
            num_replicas: this.#o.replicas,
            max_msg_size: this.#o.maxBytes,
            max_age: this.#o.maxAgeMs * 1_000_000,
          });
        } catch (err) {
          // Another node created it at the same moment: fine if it now exists.
          await jsm.streams.info(name).catch(() => {
            throw err;
          });
        }
      }
      return { js, jsm };
    })();
    this.#opening = opening;
    opening.then(
      (ready) => {
        if (this.#opening === opening) this.#ready = ready;
      },
      () => {
        if (this.#opening === opening) this.#opening = undefined;
      },
    );
    return opening;
  }

  async #deadline<T>(what: string, work: Promise<T>): Promise<T> {
    try {
      return await withDeadline(
        work,
        this.#o.timeoutMs,
        () => new TopicError(TopicErrorCode.Unavailable, `${what} got no answer in ${this.#o.timeoutMs} ms`),
      );
    } catch (err) {
      throw topicUnavailable(what, err);
    }
  }

  #check(): void {
    if (this.#closed) throw new TopicError(TopicErrorCode.Closed, 'the topic bus is closed');
  }
}

/**
 * A {@link TopicBus} on NATS: topics matching `durable` patterns are stored in the JetStream stream
 * `TROUPE_TOPICS_<namespace>` (file storage; needs `nats-server -js`) before `publish` resolves, and durable
 * subscriptions are durable consumers that resume where they stopped; other topics are fast, on core NATS.
 * A publish that rejects with `TOPIC_UNAVAILABLE` may still have been stored: give an `id` when you retry.
 *
 * @example
 * const bus = await natsTopicBus({ transport: system.transport, durable: ['orders.>'] });
 * await bus.subscribe('orders.>', (m) => bill(m.data), { durable: 'billing' });
 */
export async function natsTopicBus(options: NatsTopicBusOptions): Promise<TopicBus> {
  assertOptionsObject(options, 'options');
  const namespace = options.namespace ?? DEFAULT_NAMESPACE;
  assertValidName(namespace, 'namespace');
  const timeoutMs = options.opTimeoutMs ?? DEFAULT_TOPIC_OP_TIMEOUT_MS;
  if (!(typeof timeoutMs === 'number' && timeoutMs > 0))
    throw new InvalidOptionsError('opTimeoutMs', 'expected a positive number');
  const maxAgeMs = options.maxAgeMs ?? DEFAULT_TOPIC_MAX_AGE_MS;
  if (!(typeof maxAgeMs === 'number' && maxAgeMs > 0))
    throw new InvalidOptionsError('maxAgeMs', 'expected a positive number');
  const replicas = options.replicas ?? 1;
  if (!Number.isInteger(replicas) || replicas < 1)
    throw new InvalidOptionsError('replicas', 'expected a positive integer');
  const ackWaitMs = options.ackWaitMs ?? DEFAULT_TOPIC_ACK_WAIT_MS;
  if (!(typeof ackWaitMs === 'number' && ackWaitMs >= 1000))
    throw new InvalidOptionsError('ackWaitMs', 'expected a number of ms, at least 1000');
  const resolved: ResolvedTopicBusOptions = {
    namespace,
    durable: durablePatternsOption(options.durable),
    maxBytes: maxEventBytesOption(options.maxEventBytes),
    timeoutMs,
    maxAgeMs,
    replicas,
    ackWaitMs,
    clock: options.clock ?? systemClock,
  };
  // Only the connection's own keys go on: connectionSource tells `transport: undefined` from no transport.
  const source: Record<string, unknown> = {};
  for (const key of ['transport', 'servers', 'connectOptions', 'connection', 'auth'] as const)
    if (key in options) source[key] = options[key];
  const connection = await connectionSource(source as ConnectionSourceOptions, 'troupe:topics');
  return new NatsTopicBus(resolved, connection);
}
