// Topics for actors: events published on a TopicBus and delivered to actors as messages, to one actor by ref or
// address, or to virtual actors activated by a key taken from each event (AutoGen's TypeSubscription: topic ->
// agent type, key from the event). Delivery is acknowledged (an ask by default) before the bus acknowledges the
// event, so a durable subscription loses nothing when its node dies: the event comes again on its next start.

import {
  type ActorSystem,
  type AnyActorRef,
  type AnyVirtualType,
  type Clock,
  ErrorCode,
  InvalidOptionsError,
  type SubscribeOptions,
  systemClock,
  type TopicBus,
  type TopicDeadLetter,
  TopicError,
  TopicErrorCode,
  type TopicMessage,
  type TopicSubscription,
  TroupeError,
} from '../../runtime/index.js';
import {
  createEvent,
  DEFAULT_MAX_EVENT_BYTES,
  decodeEvent,
  type EventInput,
  encodeEvent,
  type TopicEvent,
} from './event.js';

/** The `type` of the message an actor gets for each event. */
export const TOPIC_EVENT_MESSAGE = 'topicEvent';
/** The topic `broadcast()` publishes on; subscriptions with `broadcast: true` get it too. */
export const BROADCAST_TOPIC = 'broadcast';

/** The message an actor gets for each event: handle it under `topicEvent`. */
export interface TopicEventMessage<D = unknown> {
  readonly type: typeof TOPIC_EVENT_MESSAGE;
  readonly event: TopicEvent<D>;
}

/** The protocol entry of an actor that takes topic events (merge into its protocol). */
export type TopicEventProtocol<D = unknown> = { topicEvent: { event: TopicEvent<D> } };

/** Options of {@link topics}. */
export interface TopicsOptions {
  system: ActorSystem;
  bus: TopicBus;
  /** The `source` of events published here. @defaultValue the system's node id */
  source?: string;
  /** Largest encoded event, in UTF-8 bytes. @defaultValue 256 KiB */
  maxEventBytes?: number;
  /** Stamps events' `time`. @defaultValue the system clock */
  clock?: Clock;
}

/** Options of {@link Topics.subscribe} and {@link Topics.subscribeType}. */
export interface DeliverOptions
  extends Pick<
    SubscribeOptions,
    | 'durable'
    | 'queue'
    | 'from'
    | 'maxAttempts'
    | 'backoffMs'
    | 'maxBackoffMs'
    | 'maxPending'
    | 'onDeadLetter'
  > {
  /**
   * How each event reaches the actor: `ask` (the handler ran; the default), `send` (accepted: for a durable
   * virtual type, stored, deduplicated by the event id) or `tell` (handed over, at most once: fastest).
   * @defaultValue `'ask'`
   */
  delivery?: 'ask' | 'send' | 'tell';
  /** Deadline of each ask. @defaultValue the system's ask timeout */
  timeoutMs?: number;
  /** Also deliver the events published by `broadcast()`. @defaultValue false */
  broadcast?: boolean;
}

/** A subscription made through {@link Topics}: one bus subscription, two with `broadcast`. */
export interface TopicsSubscription {
  readonly pattern: string;
  readonly durable?: string;
  /** Stops delivering (a durable subscription keeps its position). */
  unsubscribe(): Promise<void>;
  /** Unsubscribes and forgets a durable subscription's position. */
  delete(): Promise<void>;
}

/** What a publish resolved with: the event as sent, and the bus's sequence for a durable topic. */
export interface Published<D = unknown> {
  readonly event: TopicEvent<D>;
  readonly seq?: number;
  readonly duplicate?: boolean;
}

type Target = (event: TopicEvent) => AnyActorRef;

const DELIVERIES = new Set(['ask', 'send', 'tell']);

/** Pub/sub for a system's actors over a {@link TopicBus}. Make one with {@link topics}. */
export class Topics {
  readonly #system: ActorSystem;
  readonly #bus: TopicBus;
  readonly #source: string;
  readonly #maxBytes: number;
  readonly #now: () => number;
  readonly #subscriptions = new Set<TopicsSubscription>();

  constructor(options: TopicsOptions) {
    if (typeof options !== 'object' || options === null)
      throw new InvalidOptionsError('options', 'expected { system, bus }');
    if (typeof options.system?.spawn !== 'function')
      throw new InvalidOptionsError('system', 'expected an ActorSystem');
    if (typeof options.bus?.publish !== 'function')
      throw new InvalidOptionsError('bus', 'expected a TopicBus');
    this.#system = options.system;
    this.#bus = options.bus;
    this.#source = options.source ?? options.system.nodeId;
    const max = options.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES;
    if (!Number.isInteger(max) || max < 1)
      throw new InvalidOptionsError('maxEventBytes', 'expected a positive integer');
    this.#maxBytes = max;
    const clock = options.clock ?? systemClock;
    if (typeof clock?.now !== 'function') throw new InvalidOptionsError('clock', 'expected a Clock');
    this.#now = () => clock.now();
  }

  /**
   * Publishes an event on `topic`; resolves once the bus took it (stored, for a durable topic). A retry after a
   * `TOPIC_UNAVAILABLE` should pass the same `id` (the bus deduplicates by it).
   *
   * @example
   * await hub.publish('orders.created', { type: 'order.created', subject: 'o-17', data: { total: 40 } });
   */
  async publish<D>(topic: string, input: EventInput<D>): Promise<Published<D>> {
    const event = createEvent(topic, input, { source: this.#source, now: this.#now });
    const ack = await this.#bus.publish(topic, encodeEvent(event, this.#maxBytes), { id: event.id });
    return {
      event,
      ...(ack.seq === undefined ? {} : { seq: ack.seq }),
      ...(ack.duplicate ? { duplicate: true } : {}),
    };
  }

  /** Publishes on {@link BROADCAST_TOPIC}: every subscription made with `broadcast: true` gets it. */
  broadcast<D>(input: EventInput<D>): Promise<Published<D>> {
    return this.publish(BROADCAST_TOPIC, input);
  }

  /** Sends one event straight to an actor (agent to agent), bypassing the bus; resolves as `delivery` says. */
  async send<D>(
    to: AnyActorRef | string,
    input: EventInput<D>,
    options: { delivery?: 'ask' | 'send' | 'tell'; timeoutMs?: number; topic?: string } = {},
  ): Promise<TopicEvent<D>> {
    const event = createEvent(options.topic ?? 'direct', input, {
      source: this.#source,
      now: this.#now,
    });
    encodeEvent(event, this.#maxBytes); // the same bound as on the bus
    await this.#deliver(this.#refOf(to), event, options.delivery ?? 'ask', options.timeoutMs);
    return event;
  }

  /**
   * Delivers every event of the topics `pattern` matches to one actor, as `{ type: 'topicEvent', event }`.
   * With `durable`, events of durable topics wait for the actor across restarts of this node: at least once, in
   * order.
   */
  subscribe(
    pattern: string,
    to: AnyActorRef | string,
    options: DeliverOptions = {},
  ): Promise<TopicsSubscription> {
    const ref = this.#refOf(to);
    return this.#subscribe(pattern, () => ref, options);
  }

  /**
   * A type subscription: each event goes to the virtual actor `type`/`keyOf(event)`, activated on its first
   * event (anywhere in the fleet). Events for one key arrive in order. An event whose key is not a valid actor
   * name is dead-lettered (`TOPIC_INVALID_EVENT`).
   *
   * @example
   * await hub.subscribeType('orders.>', 'order', (e) => e.subject ?? 'unknown', { durable: 'orders' });
   */
  subscribeType<D = unknown>(
    pattern: string,
    type: string | AnyVirtualType,
    keyOf: (event: TopicEvent<D>) => string,
    options: DeliverOptions = {},
  ): Promise<TopicsSubscription> {
    if (typeof keyOf !== 'function')
      throw new InvalidOptionsError('keyOf', 'expected a function of the event');
    if (typeof type !== 'string' && typeof (type as { type?: unknown })?.type !== 'string')
      throw new InvalidOptionsError('type', 'expected a virtual type name or a defineVirtual value');
    return this.#subscribe(
      pattern,
      (event) => this.#system.virtual(type as never, keyOf(event as TopicEvent<D>)),
      options,
    );
  }

  /** Stops a subscription (same as `subscription.unsubscribe()`). */
  unsubscribe(subscription: TopicsSubscription): Promise<void> {
    return subscription.unsubscribe();
  }

  /** Stops every subscription made here (the bus stays open: its owner closes it). */
  async close(): Promise<void> {
    await Promise.all([...this.#subscriptions].map((s) => s.unsubscribe().catch(() => undefined)));
    this.#subscriptions.clear();
  }

  async #subscribe(pattern: string, target: Target, options: DeliverOptions): Promise<TopicsSubscription> {
    if (typeof options !== 'object' || options === null)
      throw new InvalidOptionsError('options', 'expected an object');
    const { delivery = 'ask', timeoutMs, broadcast = false, ...busOptions } = options;
    if (!DELIVERIES.has(delivery))
      throw new InvalidOptionsError('delivery', "expected 'ask', 'send' or 'tell'");
    if (timeoutMs !== undefined && !(typeof timeoutMs === 'number' && timeoutMs > 0))
      throw new InvalidOptionsError('timeoutMs', 'expected a positive number');
    const name = options.durable ?? pattern;
    const handler = async (message: TopicMessage): Promise<void> => {
      let event: TopicEvent;
      let ref: AnyActorRef;
      try {
        event = decodeEvent(message.data, this.#maxBytes);
        ref = target(event);
      } catch (err) {
        // Retrying cannot fix a malformed event or a bad key: dead-letter it now and move on.
        const error =
          err instanceof TopicError
            ? err
            : new TopicError(
                TopicErrorCode.InvalidEvent,
                `no actor for an event of ${message.topic}: ${(err as Error).message}`,
                {
                  cause: err,
                },
              );
        const letter: TopicDeadLetter = { subscription: name, message, error };
        try {
          busOptions.onDeadLetter?.(letter);
        } catch {
          // A throwing hook must not turn a dead letter into retries.
        }
        return;
      }
      await this.#deliver(ref, event, delivery, timeoutMs);
    };
    const subs: TopicSubscription[] = [await this.#bus.subscribe(pattern, handler, busOptions)];
    if (broadcast) {
      try {
        const durable = busOptions.durable !== undefined && this.#bus.isDurable(BROADCAST_TOPIC);
        const { durable: _d, ...fast } = busOptions;
        subs.push(
          await this.#bus.subscribe(
            BROADCAST_TOPIC,
            handler,
            durable ? { ...busOptions, durable: `${busOptions.durable}-broadcast` } : fast,
          ),
        );
      } catch (err) {
        await subs[0]?.unsubscribe();
        throw err;
      }
    }
    const subscription: TopicsSubscription = {
      pattern,
      ...(busOptions.durable === undefined ? {} : { durable: busOptions.durable }),
      unsubscribe: async () => {
        this.#subscriptions.delete(subscription);
        await Promise.all(subs.map((s) => s.unsubscribe()));
      },
      delete: async () => {
        this.#subscriptions.delete(subscription);
        await Promise.all(subs.map((s) => s.delete()));
      },
    };
    this.#subscriptions.add(subscription);
    return subscription;
  }

  async #deliver(
    ref: AnyActorRef,
    event: TopicEvent,
    delivery: string,
    timeoutMs: number | undefined,
  ): Promise<void> {
    const message = { type: TOPIC_EVENT_MESSAGE, event } as never;
    if (delivery === 'tell') (ref as AnyActorRef).tell(message);
    else if (delivery === 'send') await ref.send(message, { messageId: event.id });
    else
      try {
        await ref.ask(message, timeoutMs === undefined ? undefined : { timeout: timeoutMs });
      } catch (err) {
        // NO_REPLY: the handler ran to its end and returned nothing, which is all an event delivery needs.
        if (!TroupeError.is(err, ErrorCode.NoReply)) throw err;
      }
  }

  #refOf(to: AnyActorRef | string): AnyActorRef {
    if (typeof to === 'string') return this.#system.ref(to);
    if (typeof (to as { tell?: unknown })?.tell !== 'function')
      throw new InvalidOptionsError('to', 'expected an actor ref or an address');
    return to;
  }
}

/**
 * Pub/sub for `system`'s actors over `bus` (`memoryTopicBus()` embedded, `natsTopicBus()` for a fleet).
 *
 * @example
 * const hub = topics({ system, bus: memoryTopicBus() });
 * await hub.subscribe('news.*', reader);
 * await hub.publish('news.sport', { type: 'headline', data: { text: '…' } });
 */
export function topics(options: TopicsOptions): Topics {
  return new Topics(options);
}
