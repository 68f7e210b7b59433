// A durable subscription of the NATS topic bus: a JetStream durable consumer named after it, explicit acks, one
// event in flight (max_ack_pending 1), acked after the handler resolved, nak'ed with backoff when it threw, then
// terminated and dead-lettered after its attempts. Its consume loop starts again after the consumer or the
// connection went away, so it outlives server restarts.

import {
  AckPolicy,
  type ConsumerConfig,
  type ConsumerMessages,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  type Clock,
  InvalidOptionsError,
  TopicError,
  TopicErrorCode,
  type TopicHandler,
  type TopicMessage,
  type TopicSubscription,
} from '../../runtime/index.js';
import {
  type DeadLetterBuffer,
  handlerFailed,
  type ResolvedSubscribeOptions,
  topicBackoff,
  withDeadline,
} from '../../runtime/internal.js';
import { topicOfSubject, topicStream, topicSubject } from './topics-subjects.js';

/** Pause before a durable subscription's consume loop starts again after it ended on an error. */
const RESTART_MS = 500;

/** @internal A bus's options after defaults and checks. */
export interface ResolvedTopicBusOptions {
  namespace: string;
  durable: string[];
  maxBytes: number;
  timeoutMs: number;
  maxAgeMs: number;
  replicas: number;
  ackWaitMs: number;
  clock: Clock;
}

function startConfig(options: ResolvedSubscribeOptions): Partial<ConsumerConfig> {
  const from = options.from;
  if (from === 'new') return { deliver_policy: DeliverPolicy.New };
  if (from === 'all') return { deliver_policy: DeliverPolicy.All };
  if ('seq' in from) return { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from.seq };
  return { deliver_policy: DeliverPolicy.StartTime, opt_start_time: new Date(from.time).toISOString() };
}

/** @internal A failure as `TOPIC_UNAVAILABLE` (coded errors pass through as they are). */
export const topicUnavailable = (what: string, err: unknown): TopicError =>
  err instanceof TopicError || err instanceof InvalidOptionsError
    ? (err as TopicError)
    : new TopicError(
        TopicErrorCode.Unavailable,
        `${what} failed: ${(err as Error)?.message ?? String(err)}`,
        {
          cause: err,
        },
      );

/** What the subscriptions need of their bus. */
export interface BusParts {
  readonly o: ResolvedTopicBusOptions;
  readonly deadLetters: DeadLetterBuffer;
  open(): Promise<{ js: JetStreamClient; jsm: JetStreamManager }>;
  connection(): NatsConnection;
  deadline<T>(what: string, work: Promise<T>): Promise<T>;
}

/** A durable subscription: a JetStream durable consumer named after it, one event in flight. */
export class DurableSubscription implements TopicSubscription {
  readonly pattern: string;
  readonly durable: string;
  readonly #bus: BusParts;
  readonly #handler: TopicHandler;
  readonly #options: ResolvedSubscribeOptions;
  #messages: ConsumerMessages | undefined;
  #loop: Promise<void> | undefined;
  #stopped = false;
  #wake: (() => void) | undefined;
  /** The event whose handler runs, and since when (for the progress timer). */
  #current: JsMsg | undefined;
  #since = 0;
  #progress: ReturnType<typeof setInterval> | undefined;

  constructor(bus: BusParts, pattern: string, handler: TopicHandler, options: ResolvedSubscribeOptions) {
    this.#bus = bus;
    this.pattern = pattern;
    this.durable = options.durable as string;
    this.#handler = handler;
    this.#options = options;
  }

  /** Creates the consumer (or checks the one there) and starts consuming. */
  async start(): Promise<void> {
    const { o } = this.#bus;
    const stream = topicStream(o.namespace);
    const filter = topicSubject(o.namespace, this.pattern, true);
    await this.#bus.deadline(
      `durable subscription ${this.durable}`,
      (async () => {
        const { jsm } = await this.#bus.open();
        const existing = await jsm.consumers.info(stream, this.durable).catch((err: unknown) => {
          if ((err as { code?: unknown }).code === 10014 || /consumer not found/i.test(String(err)))
            return undefined;
          throw err;
        });
        if (existing !== undefined) {
          if (existing.config.filter_subject !== filter)
            throw new TopicError(
              TopicErrorCode.SubscriptionConflict,
              `durable subscription ${this.durable} exists on ${existing.config.filter_subject?.slice(filter.length - this.pattern.length)}, not ${this.pattern}: delete() it first`,
            );
          return;
        }
        await jsm.consumers.add(stream, {
          durable_name: this.durable,
          filter_subject: filter,
          ack_policy: AckPolicy.Explicit,
          // One event in flight: the next is delivered once this one is acked, so order holds across redeliveries.
          max_ack_pending: 1,
          ack_wait: this.#bus.o.ackWaitMs * 1_000_000,
          max_deliver: -1,
          ...startConfig(this.#options),
        });
      })(),
    );
    // One timer per subscription: a handler slower than half the ack wait says it is still working, so the
    // server does not offer its event again while it runs.
    const half = this.#bus.o.ackWaitMs / 2;
    this.#progress = setInterval(() => {
      if (this.#current !== undefined && Date.now() - this.#since >= half) this.#current.working();
    }, half);
    this.#progress.unref?.();
    this.#loop = this.#run();
  }

  async unsubscribe(): Promise<void> {
    if (this.#stopped) return this.#loop;
    this.#stopped = true;
    this.#wake?.();
    this.#messages?.stop();
    await this.#loop;
    clearInterval(this.#progress);
    // Send the last ack before the caller closes the connection.
    await withDeadline(this.#bus.connection().flush(), this.#bus.o.timeoutMs, () => new Error('flush')).catch(
      () => undefined,
    );
  }

  async delete(): Promise<void> {
    await this.unsubscribe();
    const stream = topicStream(this.#bus.o.namespace);
    await this.#bus.deadline(
      `delete of durable subscription ${this.durable}`,
      this.#bus.open().then(({ jsm }) => jsm.consumers.delete(stream, this.durable)),
    );
  }

  async #run(): Promise<void> {
    const stream = topicStream(this.#bus.o.namespace);
    while (!this.#stopped) {
      try {
        const { js } = await this.#bus.open();
        const consumer = await js.consumers.get(stream, this.durable);
        if (this.#stopped) return;
        // Short pulls: after a server restart the lost pull is noticed by its missed heartbeats (half of this).
        const messages = await consumer.consume({ max_messages: 16, expires: 5000 });
        this.#messages = messages;
        if (this.#stopped) {
          messages.stop();
          return;
        }
        for await (const m of messages) {
          if (this.#stopped) {
            m.nak(); // not ours to handle any more: the next subscriber gets it now
            break;
          }
          await this.#handle(m);
        }
      } catch {
        // The consumer or the connection went away: try again below.
      }
      if (this.#stopped) return;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        const t = setTimeout(resolve, RESTART_MS);
        t.unref?.();
      });
    }
  }

  async #handle(m: JsMsg): Promise<void> {
    const { o } = this.#bus;
    const message: TopicMessage = {
      topic: topicOfSubject(o.namespace, m.subject) ?? m.subject,
      data: m.string(),
      seq: m.seq,
      time: m.time.getTime(),
      attempt: m.info.deliveryCount,
    };
    this.#current = m;
    this.#since = Date.now();
    try {
      await this.#handler(message);
      m.ack();
    } catch (err) {
      if (message.attempt >= this.#options.maxAttempts) {
        this.#bus.deadLetters.add(
          { subscription: this.durable, message, error: handlerFailed(this.durable, message, err) },
          this.#options.onDeadLetter,
        );
        m.term(); // no reason: servers before 2.10.4 do not parse one and would leave the event pending
      } else {
        // The server redelivers it after the backoff; nothing newer comes first (one in flight).
        m.nak(topicBackoff(this.#options, message.attempt));
      }
    } finally {
      this.#current = undefined;
    }
  }
}
