// The event format on topics: a CloudEvents-like envelope `{ id, topic, type, source, time, subject?, data }`,
// encoded as JSON, checked on both sides: bounded in size and depth, plain JSON data only, and no key named
// `__proto__`, `constructor` or `prototype` anywhere (an event is wire input; a merge downstream must not be
// able to reach a prototype through it).

import { assertTopic, TopicError, TopicErrorCode } from '../../runtime/index.js';

/** One event as published and delivered. `D` is the type of `data` (plain JSON). */
export interface TopicEvent<D = unknown> {
  /** Unique per event (a UUID unless given): the durable bus deduplicates retried publishes by it. */
  readonly id: string;
  /** The topic it was published on. */
  readonly topic: string;
  /** What happened, e.g. `order.created` (CloudEvents `type`). */
  readonly type: string;
  /** Who published it (the node id unless given). */
  readonly source: string;
  /** When it was published (ISO 8601). */
  readonly time: string;
  /** The entity it is about, e.g. an order id (CloudEvents `subject`): a type subscription's natural key. */
  readonly subject?: string;
  readonly data: D;
}

/** What a publisher gives; the rest is filled in. */
export interface EventInput<D = unknown> {
  type: string;
  data: D;
  id?: string;
  subject?: string;
  source?: string;
  /** @defaultValue now */
  time?: string;
}

/** Default largest encoded event, in UTF-8 bytes. */
export const DEFAULT_MAX_EVENT_BYTES = 256 * 1024;
/** Deepest nesting of `data`. */
export const MAX_EVENT_DEPTH = 32;

const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what fields may not hold
const CONTROL = /[\u0000-\u001f\u007f]/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

const bad = (message: string): TopicError => new TopicError(TopicErrorCode.InvalidEvent, message);

function assertField(value: unknown, field: string, optional = false): void {
  if (value === undefined && optional) return;
  if (typeof value !== 'string' || value.length === 0 || value.length > 256 || CONTROL.test(value))
    throw bad(`event field ${field}: expected 1-256 characters without control characters`);
}

/** Throws `TOPIC_INVALID_EVENT` unless `value` is plain JSON without prototype-named keys. */
function assertData(value: unknown, path: string, depth: number): void {
  if (depth > MAX_EVENT_DEPTH) throw bad(`event data deeper than ${MAX_EVENT_DEPTH} levels at ${path}`);
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw bad(`event data at ${path}: ${value} is not JSON`);
    return;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) assertData(value[i], `${path}[${i}]`, depth + 1);
    return;
  }
  if (typeof value === 'object') {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) throw bad(`event data at ${path}: not a plain object`);
    for (const key of Object.keys(value)) {
      if (FORBIDDEN.has(key)) throw bad(`event data at ${path}: key ${JSON.stringify(key)} is not allowed`);
      assertData((value as Record<string, unknown>)[key], `${path}.${key}`, depth + 1);
    }
    return;
  }
  throw bad(`event data at ${path}: a ${typeof value} is not JSON`);
}

/** Checks an event's fields (not its size); throws `TOPIC_INVALID_EVENT` (or `TOPIC_INVALID` for its topic). */
export function assertEvent(event: unknown): asserts event is TopicEvent {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) throw bad('an event is an object');
  const e = event as Record<string, unknown>;
  for (const key of Object.keys(e))
    if (FORBIDDEN.has(key)) throw bad(`event key ${JSON.stringify(key)} is not allowed`);
  assertField(e.id, 'id');
  assertField(e.type, 'type');
  assertField(e.source, 'source');
  assertField(e.subject, 'subject', true);
  if (typeof e.time !== 'string' || !ISO.test(e.time))
    throw bad('event field time: expected an ISO 8601 time');
  assertTopic(e.topic as string);
  if (!('data' in e)) throw bad('event field data is missing');
  assertData(e.data, 'data', 0);
}

/** Builds the event `input` describes on `topic`, checked. */
export function createEvent<D>(
  topic: string,
  input: EventInput<D>,
  defaults: { source: string; now: () => number },
): TopicEvent<D> {
  if (typeof input !== 'object' || input === null)
    throw bad('an event input is an object with type and data');
  const event = {
    id: input.id ?? globalThis.crypto.randomUUID(),
    topic,
    type: input.type,
    source: input.source ?? defaults.source,
    time: input.time ?? new Date(defaults.now()).toISOString(),
    ...(input.subject === undefined ? {} : { subject: input.subject }),
    data: input.data,
  };
  assertEvent(event);
  return event;
}

function tooLarge(bytes: number, maxBytes: number): TopicError {
  return new TopicError(
    TopicErrorCode.EventTooLarge,
    `an event of ${bytes} bytes is over the limit of ${maxBytes}`,
    { data: { bytes, maxBytes } },
  );
}

/** The event as JSON; throws `TOPIC_EVENT_TOO_LARGE` past `maxBytes`. */
export function encodeEvent(event: TopicEvent, maxBytes = DEFAULT_MAX_EVENT_BYTES): string {
  const text = JSON.stringify(event);
  if (text.length * 3 > maxBytes) {
    const bytes = Buffer.byteLength(text);
    if (bytes > maxBytes) throw tooLarge(bytes, maxBytes);
  }
  return text;
}

/** Parses and checks an event from the wire: `TOPIC_INVALID_EVENT` for anything malformed, never a crash. */
export function decodeEvent(text: string, maxBytes = DEFAULT_MAX_EVENT_BYTES): TopicEvent {
  if (typeof text !== 'string') throw bad('an encoded event is a string');
  if (text.length * 3 > maxBytes) {
    const bytes = Buffer.byteLength(text);
    if (bytes > maxBytes) throw tooLarge(bytes, maxBytes);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new TopicError(
      TopicErrorCode.InvalidEvent,
      `an event that is not JSON: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  assertEvent(parsed);
  return parsed;
}
