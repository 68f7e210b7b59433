// The in-process TopicBus: the embedded default when a system runs alone, with the JetStream bus's semantics
// (durable topics kept in a bounded in-memory log, durable subscriptions that resume where they stopped after an
// unsubscribe, queue groups, one event in flight per subscription, retries then dead letters), so tests of
// either hold.

import { type Clock, systemClock } from '../core/clock.js';
import { InvalidOptionsError } from '../core/errors.js';
import {
  assertTopic,
  assertTopicData,
  DeadLetterBuffer,
  durablePatternsOption,
  maxEventBytesOption,
  type PublishAck,
  type PublishOptions,
  patternCovers,
  type ResolvedSubscribeOptions,
  resolveSubscribeOptions,
  type SubscribeOptions,
  type TopicBus,
  type TopicDeadLetter,
  TopicError,
  TopicErrorCode,
  type TopicHandler,
  type TopicSubscription,
  topicMatches,
} from '../ports/topics.js';
import { attemptEvent, SerialDelivery, Stopper, type Stored } from './serial-delivery.js';

/** Options of {@link memoryTopicBus}. */
export interface MemoryTopicBusOptions {
  /** Patterns of the durable topics (kept for durable subscribers). @defaultValue none: every topic is fast */
  durable?: string[];
  /** Largest event, in UTF-8 bytes. @defaultValue 256 KiB */
  maxEventBytes?: number;
  /** Durable events kept; the oldest go first (a stream's `max_msgs`). @defaultValue 100000 */
  maxDurableEvents?: number;
  /** Timers for retries' backoff. @defaultValue the system clock */
  clock?: Clock;
}

/** A durable subscription's shared position and its members (subscribers with its name). */
interface DurableState {
  readonly name: string;
  readonly pattern: string;
  /** The last sequence acknowledged (handled or dead-lettered). */
  acked: number;
  readonly members: DurableMember[];
  running: Promise<void> | undefined;
}

interface DurableMember {
  readonly handler: TopicHandler;
  readonly options: ResolvedSubscribeOptions;
  readonly stopper: Stopper;
  /** The handler call in flight, which `unsubscribe()` waits for. */
  busy: Promise<unknown> | undefined;
}

class MemoryTopicBus implements TopicBus {
  readonly #durable: string[];
  readonly #maxBytes: number;
  readonly #maxEvents: number;
  readonly #clock: Clock;
  readonly #deadLetters = new DeadLetterBuffer();
  /** Durable events, oldest first; `#firstSeq` is the sequence of `#log[0]`. */
  #log: Stored[] = [];
  #firstSeq = 1;
  #seq = 0;
  readonly #ids = new Map<string, number>();
  readonly #fast = new Set<{ pattern: string; queue: string | undefined; delivery: SerialDelivery }>();
  readonly #groups = new Map<string, number>();
  readonly #positions = new Map<string, DurableState>();
  #closed = false;

  constructor(durable: string[], maxBytes: number, maxEvents: number, clock: Clock) {
    this.#durable = durable;
    this.#maxBytes = maxBytes;
    this.#maxEvents = maxEvents;
    this.#clock = clock;
  }

  isDurable(topic: string): boolean {
    return this.#durable.some((p) => topicMatches(p, topic));
  }

  deadLetters(): readonly TopicDeadLetter[] {
    return this.#deadLetters.list();
  }

  async publish(topic: string, data: string, options?: PublishOptions): Promise<PublishAck> {
    this.#check();
    assertTopic(topic);
    assertTopicData(data, this.#maxBytes);
    const id = options?.id;
    if (id !== undefined && (typeof id !== 'string' || id.length === 0 || id.length > 256))
      throw new InvalidOptionsError('id', 'expected a string of 1-256 characters');
    const durable = this.isDurable(topic);
    const time = this.#clock.now();
    let ack: PublishAck = { durable };
    if (durable) {
      const seen = id === undefined ? undefined : this.#ids.get(id);
      if (seen !== undefined) return { durable, seq: seen, duplicate: true };
      const seq = ++this.#seq;
      this.#log.push({ topic, data, seq, time });
      if (id !== undefined) {
        this.#ids.set(id, seq);
        if (this.#ids.size > this.#maxEvents) this.#ids.delete(this.#ids.keys().next().value as string);
      }
      if (this.#log.length > this.#maxEvents) {
        this.#log.shift();
        this.#firstSeq++;
      }
      ack = { durable, seq };
      for (const state of this.#positions.values()) if (topicMatches(state.pattern, topic)) this.#kick(state);
    }
    const event: Stored = ack.seq === undefined ? { topic, data, time } : { topic, data, seq: ack.seq, time };
    const groups = new Map<string, SerialDelivery[]>();
    for (const sub of this.#fast) {
      if (!topicMatches(sub.pattern, topic)) continue;
      if (sub.queue === undefined) sub.delivery.push(event);
      else {
        const key = `${sub.pattern}\u0000${sub.queue}`;
        const members = groups.get(key);
        if (members === undefined) groups.set(key, [sub.delivery]);
        else members.push(sub.delivery);
      }
    }
    // Each queue group gets the event once, round robin over its members.
    for (const [key, members] of groups) {
      const turn = this.#groups.get(key) ?? 0;
      this.#groups.set(key, turn + 1);
      members[turn % members.length]?.push(event);
    }
    return ack;
  }

  async subscribe(
    pattern: string,
    handler: TopicHandler,
    options?: SubscribeOptions,
  ): Promise<TopicSubscription> {
    this.#check();
    const resolved = resolveSubscribeOptions(pattern, handler, options);
    if (resolved.durable === undefined) return this.#subscribeFast(pattern, handler, resolved);
    if (!this.#durable.some((p) => patternCovers(p, pattern)))
      throw new TopicError(
        TopicErrorCode.NotDurable,
        `durable subscription ${resolved.durable} on ${pattern}: no durable topic pattern of this bus covers it (durable: ${JSON.stringify(this.#durable)})`,
      );
    const name = resolved.durable;
    let state = this.#positions.get(name);
    if (state !== undefined && state.pattern !== pattern)
      throw new TopicError(
        TopicErrorCode.SubscriptionConflict,
        `durable subscription ${name} exists on ${state.pattern}, not ${pattern}: delete() it first`,
      );
    if (state === undefined) {
      const acked = this.#startAfter(resolved);
      state = { name, pattern, acked, members: [], running: undefined };
      this.#positions.set(name, state);
    }
    const member: DurableMember = {
      handler,
      options: resolved,
      stopper: new Stopper(this.#clock),
      busy: undefined,
    };
    state.members.push(member);
    const own = state;
    this.#kick(own);
    const unsubscribe = async () => {
      member.stopper.stop();
      const i = own.members.indexOf(member);
      if (i >= 0) own.members.splice(i, 1);
      await member.busy;
    };
    return {
      pattern,
      durable: name,
      unsubscribe,
      delete: async () => {
        await unsubscribe();
        if (this.#positions.get(name) === own) this.#positions.delete(name);
      },
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const waits: Promise<void>[] = [];
    for (const sub of this.#fast) waits.push(sub.delivery.stop());
    this.#fast.clear();
    for (const state of this.#positions.values()) {
      for (const m of state.members) m.stopper.stop();
      state.members.length = 0;
      if (state.running !== undefined) waits.push(state.running);
    }
    await Promise.all(waits);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #subscribeFast(
    pattern: string,
    handler: TopicHandler,
    resolved: ResolvedSubscribeOptions,
  ): TopicSubscription {
    const delivery = new SerialDelivery(pattern, handler, resolved, this.#clock, this.#deadLetters);
    const sub = { pattern, queue: resolved.queue, delivery };
    this.#fast.add(sub);
    const unsubscribe = async () => {
      this.#fast.delete(sub);
      await delivery.stop();
    };
    return { pattern, unsubscribe, delete: unsubscribe };
  }

  /** The sequence a new durable subscription counts as acknowledged. */
  #startAfter(options: ResolvedSubscribeOptions): number {
    const from = options.from;
    if (from === 'new') return this.#seq;
    if (from === 'all') return this.#firstSeq - 1;
    if ('seq' in from) return Math.max(this.#firstSeq, from.seq) - 1;
    const first = this.#log.find((e) => e.time >= from.time);
    return first === undefined ? this.#seq : (first.seq as number) - 1;
  }

  /** Starts a durable subscription's pump unless it runs; once it stops, starts it again if work came meanwhile. */
  #kick(state: DurableState): void {
    if (state.running !== undefined) return;
    state.running = this.#pump(state).finally(() => {
      state.running = undefined;
      if (this.#positions.get(state.name) === state && state.members.length > 0 && this.#seq > state.acked)
        this.#kick(state);
    });
  }

  /** Hands a durable subscription's events to its members, one at a time, until none is left or none listens. */
  async #pump(state: DurableState): Promise<void> {
    for (;;) {
      if (this.#positions.get(state.name) !== state) return;
      const next = Math.max(state.acked + 1, this.#firstSeq);
      let event: Stored | undefined;
      for (let seq = next; seq <= this.#seq; seq++) {
        const candidate = this.#log[seq - this.#firstSeq] as Stored;
        if (topicMatches(state.pattern, candidate.topic)) {
          event = candidate;
          break;
        }
        state.acked = seq; // not ours: step over it
      }
      if (event === undefined) return;
      const member = state.members[(event.seq as number) % Math.max(1, state.members.length)];
      if (member === undefined || member.stopper.stopped) return;
      const call = attemptEvent(
        state.name,
        member.handler,
        event,
        member.options,
        this.#deadLetters,
        member.stopper,
      );
      member.busy = call;
      const outcome = await call;
      member.busy = undefined;
      // A stopped member's unfinished event stays unacknowledged: the next subscriber gets it again.
      if (outcome === 'stopped') continue;
      state.acked = event.seq as number;
    }
  }

  #check(): void {
    if (this.#closed) throw new TopicError(TopicErrorCode.Closed, 'the topic bus is closed');
  }
}

/**
 * A {@link TopicBus} in this process's memory: for one system and tests. Durable topics are kept (bounded) so
 * durable subscribers resume after an unsubscribe, but nothing outlives the process.
 *
 * @example
 * const bus = memoryTopicBus({ durable: ['orders.>'] });
 * await bus.subscribe('orders.*', (m) => console.log(m.topic, m.data), { durable: 'billing', from: 'all' });
 * await bus.publish('orders.created', JSON.stringify({ id: 1 }));
 */
export function memoryTopicBus(options: MemoryTopicBusOptions = {}): TopicBus {
  if (typeof options !== 'object' || options === null)
    throw new InvalidOptionsError('options', 'expected an object');
  const maxEvents = options.maxDurableEvents ?? 100_000;
  if (!Number.isInteger(maxEvents) || maxEvents < 1)
    throw new InvalidOptionsError('maxDurableEvents', 'expected a positive integer');
  return new MemoryTopicBus(
    durablePatternsOption(options.durable),
    maxEventBytesOption(options.maxEventBytes),
    maxEvents,
    options.clock ?? systemClock,
  );
}
