// The topic bus contract: publish by topic, subscribe by pattern (NATS wildcards), durable subscriptions that
// get every event of a durable topic in order across their own restarts. The runtime ships an in-process bus
// (runtime/kv/memory-topics.ts); transport/ ships `natsTopicBus()` (JetStream for durable topics, core NATS for
// fast ones). Events are opaque strings here: workflows/topics/ gives them a format.

import { InvalidOptionsError, TroupeError } from '../core/errors.js';

/** Codes of {@link TopicError}. */
export const TopicErrorCode = {
  /** A topic or pattern that is empty, too long, has an empty token or a character outside the token set. */
  InvalidTopic: 'TOPIC_INVALID',
  /** An event larger than the bus's `maxEventBytes`. */
  EventTooLarge: 'TOPIC_EVENT_TOO_LARGE',
  /** An event (workflows' envelope) that is malformed: not JSON, a field missing, a prototype-named key. */
  InvalidEvent: 'TOPIC_INVALID_EVENT',
  /** The bus did not answer in time or is not reachable: a publish may or may not have been stored. */
  Unavailable: 'TOPIC_UNAVAILABLE',
  /** The bus (or the subscription) was closed. */
  Closed: 'TOPIC_CLOSED',
  /** A durable subscription on a pattern that the bus's durable topics do not cover. */
  NotDurable: 'TOPIC_NOT_DURABLE',
  /** A durable subscription name already used with another pattern. */
  SubscriptionConflict: 'TOPIC_SUBSCRIPTION_CONFLICT',
  /** The code of a dead letter: the handler failed on every attempt. */
  HandlerFailed: 'TOPIC_HANDLER_FAILED',
  /** The code of a dead letter: a fast subscription fell `maxPending` events behind and dropped this one. */
  SlowConsumer: 'TOPIC_SLOW_CONSUMER',
} as const;

export type TopicErrorCode = (typeof TopicErrorCode)[keyof typeof TopicErrorCode];

export class TopicError extends TroupeError {
  override readonly name = 'TopicError';
  constructor(code: TopicErrorCode, message: string, options: { cause?: unknown; data?: unknown } = {}) {
    super(code, message, options);
  }
}

/** One event as a subscriber gets it. */
export interface TopicMessage {
  readonly topic: string;
  readonly data: string;
  /** The stream sequence of a durable topic's event (increasing per bus); absent for fast topics. */
  readonly seq?: number;
  /** When the bus stored or received it (epoch ms). */
  readonly time: number;
  /** 1 the first time this subscription gets the event, more on a redelivery (a crash or a failed attempt). */
  readonly attempt: number;
}

/** Options of {@link TopicBus.publish}. */
export interface PublishOptions {
  /**
   * Identifies the event for deduplication on a durable topic (JetStream's window, 2 minutes): publishing
   * twice with one id stores it once. Give one when you retry a publish that failed.
   */
  id?: string;
}

/** What a publish resolved with. */
export interface PublishAck {
  /** Whether the topic is durable (stored before the publish resolved). */
  readonly durable: boolean;
  /** The stored event's sequence (durable topics). */
  readonly seq?: number;
  /** True when a durable store saw this `id` already and kept the first. */
  readonly duplicate?: boolean;
}

/** Where a new durable subscription starts; an existing one resumes from its position whatever this says. */
export type TopicStart = 'new' | 'all' | { readonly seq: number } | { readonly time: number };

/** A failed event a subscription gave up on. */
export interface TopicDeadLetter {
  /** The subscription's durable name, or its pattern for a fast one. */
  readonly subscription: string;
  readonly message: TopicMessage;
  readonly error: TopicError;
}

/** Options of {@link TopicBus.subscribe}. */
export interface SubscribeOptions {
  /**
   * Makes the subscription durable under this name (a valid name: no dots or wildcards): it gets every event of
   * the durable topics its pattern matches, in order, one at a time, acknowledged after the handler resolved,
   * and resumes where it stopped after `unsubscribe()`, a crash or a restart. Several subscribers with one
   * name (in one process or many) share the position: each event goes to one of them.
   */
  durable?: string;
  /** A fast subscription in a queue group: each event goes to one member of the group. */
  queue?: string;
  /** Where a new durable subscription starts. @defaultValue `'new'` */
  from?: TopicStart;
  /** Attempts of the handler per event before the event is dead-lettered. @defaultValue 5 */
  maxAttempts?: number;
  /** Backoff before attempt n+1: `min(backoffMs * 2^(n-1), maxBackoffMs)`. @defaultValue 100 */
  backoffMs?: number;
  /** @defaultValue 5000 */
  maxBackoffMs?: number;
  /** Events a fast subscription may hold waiting for its handler; more are dead-lettered. @defaultValue 65536 */
  maxPending?: number;
  /** Called with each event the subscription gave up on (besides the bus's `deadLetters()` buffer). */
  onDeadLetter?: (letter: TopicDeadLetter) => void;
}

/** Handles one event; the subscription waits for it (and, if durable, acknowledges the event once it resolved). */
export type TopicHandler = (message: TopicMessage) => void | Promise<void>;

/** A live subscription. */
export interface TopicSubscription {
  readonly pattern: string;
  /** The durable name, for durable subscriptions. */
  readonly durable?: string;
  /** Stops getting events; waits for the handler in flight. A durable subscription keeps its position. */
  unsubscribe(): Promise<void>;
  /** Unsubscribes and, for a durable subscription, forgets its position (a fast one just unsubscribes). */
  delete(): Promise<void>;
}

/**
 * A publish/subscribe bus. Topics are dot-separated tokens of `[-_a-zA-Z0-9:=+@~]` (at most 16 tokens, 256
 * characters); patterns may use `*` for one token and a final `>` for one or more (NATS semantics). Which topics
 * are durable is the bus's configuration (its `durable` patterns): those are stored before `publish` resolves
 * and kept for durable subscribers; the others are fast (at most once, to the subscribers there now).
 *
 * Every subscription runs its handler for one event at a time, in the order of arrival; a handler that throws
 * is tried again after a backoff up to `maxAttempts`, then the event is dead-lettered (`TOPIC_HANDLER_FAILED`).
 * Every operation settles within the bus's operation timeout or rejects with a {@link TopicError}
 * (`TOPIC_UNAVAILABLE` during an outage): it never hangs.
 */
export interface TopicBus {
  /** Publishes `data` (a string, at most `maxEventBytes` UTF-8 bytes) on `topic`. */
  publish(topic: string, data: string, options?: PublishOptions): Promise<PublishAck>;
  /** Subscribes `handler` to the topics `pattern` matches. */
  subscribe(pattern: string, handler: TopicHandler, options?: SubscribeOptions): Promise<TopicSubscription>;
  /** Whether `topic` is durable on this bus. */
  isDurable(topic: string): boolean;
  /** The newest dead letters (a bounded buffer), oldest first. */
  deadLetters(): readonly TopicDeadLetter[];
  /** Stops every subscription (waiting for handlers in flight) and releases what the bus opened. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Default largest event (UTF-8 bytes): under NATS's default 1 MiB payload. */
export const DEFAULT_MAX_TOPIC_EVENT_BYTES = 256 * 1024;
/** Default attempts of a handler per event. */
export const DEFAULT_TOPIC_MAX_ATTEMPTS = 5;
/** Dead letters a bus keeps for `deadLetters()`. */
export const TOPIC_DEAD_LETTER_BUFFER = 1000;

const MAX_TOPIC_LENGTH = 256;
const MAX_TOKENS = 16;
const TOKEN = /^[-_a-zA-Z0-9:=+@~]{1,128}$/;

function invalid(what: string, value: unknown, why: string): TopicError {
  const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 80)) : String(value);
  return new TopicError(TopicErrorCode.InvalidTopic, `invalid ${what} ${shown}: ${why}`);
}

/** Throws `TOPIC_INVALID` unless `topic` is a topic (`pattern`: may hold `*` and a final `>`). */
export function assertTopic(topic: string, pattern = false): void {
  const what = pattern ? 'topic pattern' : 'topic';
  if (typeof topic !== 'string' || topic.length === 0)
    throw invalid(what, topic, 'expected a non-empty string');
  if (topic.length > MAX_TOPIC_LENGTH)
    throw invalid(what, topic, `longer than ${MAX_TOPIC_LENGTH} characters`);
  const tokens = topic.split('.');
  if (tokens.length > MAX_TOKENS) throw invalid(what, topic, `more than ${MAX_TOKENS} tokens`);
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] as string;
    if (pattern && (t === '*' || (t === '>' && i === tokens.length - 1))) continue;
    if (!TOKEN.test(t))
      throw invalid(
        what,
        topic,
        pattern
          ? 'dot-separated tokens of [-_a-zA-Z0-9:=+@~], `*` or a final `>`'
          : 'dot-separated tokens of [-_a-zA-Z0-9:=+@~] (no wildcards)',
      );
  }
}

/** Whether `topic` matches `pattern` (NATS rules: `*` one token, a final `>` one or more). */
export function topicMatches(pattern: string, topic: string): boolean {
  const p = pattern.split('.');
  const t = topic.split('.');
  for (let i = 0; i < p.length; i++) {
    const token = p[i];
    if (token === '>') return t.length > i;
    if (i >= t.length) return false;
    if (token !== '*' && token !== t[i]) return false;
  }
  return p.length === t.length;
}

/** Whether every topic `inner` matches is matched by `outer` too (both patterns). */
export function patternCovers(outer: string, inner: string): boolean {
  const o = outer.split('.');
  const n = inner.split('.');
  for (let i = 0; i < o.length; i++) {
    const token = o[i];
    if (token === '>') return n.length > i;
    if (i >= n.length) return false;
    const other = n[i];
    if (other === '>') return false;
    if (token !== '*' && token !== other) return false;
  }
  return o.length === n.length;
}

/** Throws `TOPIC_EVENT_TOO_LARGE` (INVALID_OPTIONS for a non-string) unless `data` fits `maxBytes`. */
export function assertTopicData(data: string, maxBytes: number): void {
  if (typeof data !== 'string') throw new InvalidOptionsError('data', 'expected a string');
  if (data.length * 3 <= maxBytes) return;
  const bytes = Buffer.byteLength(data);
  if (bytes > maxBytes)
    throw new TopicError(
      TopicErrorCode.EventTooLarge,
      `an event of ${bytes} bytes is over the bus's limit of ${maxBytes}`,
      { data: { bytes, maxBytes } },
    );
}

/** @internal Subscribe options after defaults and checks. */
export interface ResolvedSubscribeOptions {
  durable: string | undefined;
  queue: string | undefined;
  from: TopicStart;
  maxAttempts: number;
  backoffMs: number;
  maxBackoffMs: number;
  maxPending: number;
  onDeadLetter: ((letter: TopicDeadLetter) => void) | undefined;
}

const NAME = /^[-_a-zA-Z0-9]{1,128}$/;

function positiveInt(value: unknown, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1)
    throw new InvalidOptionsError(field, 'expected a positive integer');
  return value;
}

function nonNegative(value: unknown, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
    throw new InvalidOptionsError(field, 'expected a non-negative number');
  return value;
}

/** @internal Checks a pattern, handler and options of a subscribe; throws naming the bad field. */
export function resolveSubscribeOptions(
  pattern: string,
  handler: unknown,
  options: SubscribeOptions | undefined,
): ResolvedSubscribeOptions {
  assertTopic(pattern, true);
  if (typeof handler !== 'function') throw new InvalidOptionsError('handler', 'expected a function');
  const o = options ?? {};
  if (typeof o !== 'object' || o === null || Array.isArray(o))
    throw new InvalidOptionsError('options', 'expected an object');
  for (const [field, value] of [
    ['durable', o.durable],
    ['queue', o.queue],
  ] as const)
    if (value !== undefined && (typeof value !== 'string' || !NAME.test(value)))
      throw new InvalidOptionsError(field, 'expected 1-128 of A-Z a-z 0-9 _ -');
  if (o.durable !== undefined && o.queue !== undefined)
    throw new InvalidOptionsError('queue', 'durable subscribers with one name already share their events');
  const from = o.from ?? 'new';
  const fromOk =
    from === 'new' ||
    from === 'all' ||
    (typeof from === 'object' &&
      from !== null &&
      (('seq' in from && Number.isInteger(from.seq) && from.seq >= 1) ||
        ('time' in from && Number.isFinite(from.time) && from.time >= 0)));
  if (!fromOk) throw new InvalidOptionsError('from', "expected 'new', 'all', { seq } or { time }");
  if (o.onDeadLetter !== undefined && typeof o.onDeadLetter !== 'function')
    throw new InvalidOptionsError('onDeadLetter', 'expected a function');
  const backoffMs = nonNegative(o.backoffMs, 'backoffMs', 100);
  return {
    durable: o.durable,
    queue: o.queue,
    from,
    maxAttempts: positiveInt(o.maxAttempts, 'maxAttempts', DEFAULT_TOPIC_MAX_ATTEMPTS),
    backoffMs,
    maxBackoffMs: Math.max(backoffMs, nonNegative(o.maxBackoffMs, 'maxBackoffMs', 5000)),
    maxPending: positiveInt(o.maxPending, 'maxPending', 65_536),
    onDeadLetter: o.onDeadLetter,
  };
}

/** @internal The delay before attempt `attempt + 1`. */
export function topicBackoff(options: ResolvedSubscribeOptions, attempt: number): number {
  return Math.min(options.backoffMs * 2 ** Math.max(0, attempt - 1), options.maxBackoffMs);
}

/** @internal Checks the `durable` patterns of a bus's options. */
export function durablePatternsOption(value: unknown): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new InvalidOptionsError('durable', 'expected an array of topic patterns');
  for (const p of value) {
    try {
      assertTopic(p as string, true);
    } catch (err) {
      throw new InvalidOptionsError('durable', (err as Error).message);
    }
  }
  return [...(value as string[])];
}

/** @internal Validates `maxEventBytes` of a bus's options. */
export function maxEventBytesOption(value: number | undefined): number {
  if (value === undefined) return DEFAULT_MAX_TOPIC_EVENT_BYTES;
  if (!Number.isInteger(value) || value < 1)
    throw new InvalidOptionsError('maxEventBytes', 'expected a positive integer');
  return value;
}

/** @internal A bounded buffer of dead letters that also calls the subscription's hook (never throwing). */
export class DeadLetterBuffer {
  readonly #letters: TopicDeadLetter[] = [];
  add(letter: TopicDeadLetter, hook: ((letter: TopicDeadLetter) => void) | undefined): void {
    this.#letters.push(letter);
    if (this.#letters.length > TOPIC_DEAD_LETTER_BUFFER) this.#letters.shift();
    try {
      hook?.(letter);
    } catch {
      // A hook that throws must not stop the subscription.
    }
  }
  list(): readonly TopicDeadLetter[] {
    return [...this.#letters];
  }
}

/** @internal The error a dead letter carries for a handler that failed every attempt. */
export function handlerFailed(subscription: string, message: TopicMessage, cause: unknown): TopicError {
  return new TopicError(
    TopicErrorCode.HandlerFailed,
    `subscription ${subscription} gave up on an event of ${message.topic} after ${message.attempt} attempts: ${(cause as Error)?.message ?? String(cause)}`,
    { cause, data: { topic: message.topic, seq: message.seq, attempts: message.attempt } },
  );
}
