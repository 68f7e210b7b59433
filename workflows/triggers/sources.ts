// Event sources for condition triggers built on the runtime's ports: the events of a topic bus.

import {
  InvalidOptionsError,
  type SubscribeOptions,
  type TopicBus,
  type TopicMessage,
} from '../../runtime/index.js';
import type { EventSource } from './condition.js';

/** Options of {@link topicSource}: the subscription's, and how an event's data becomes the trigger's event. */
export interface TopicSourceOptions<E> extends SubscribeOptions {
  /** @defaultValue `JSON.parse(message.data)` */
  decode?: (message: TopicMessage) => E;
}

/**
 * The events of `pattern` on a topic bus, as a trigger's source. With `durable`, each event is acknowledged
 * once the trigger handled it (sent, or decided not to): a trigger whose node dies loses no event, and several
 * nodes sharing one durable name each get a part of the stream (one trigger decision per event, fleet-wide).
 * An event whose data does not decode is skipped (a trigger never rejects its source's handler).
 *
 * @example
 * await conditionTrigger({ system, source: topicSource(bus, 'alerts.>', { durable: 'oncall' }), when, send });
 */
export function topicSource<E = unknown>(
  bus: TopicBus,
  pattern: string,
  options: TopicSourceOptions<E> = {},
): EventSource<E> {
  if (typeof bus !== 'object' || bus === null || typeof bus.subscribe !== 'function')
    throw new InvalidOptionsError('bus', 'expected a TopicBus');
  const { decode = (m: TopicMessage) => JSON.parse(m.data) as E, ...subscribe } = options;
  if (typeof decode !== 'function') throw new InvalidOptionsError('decode', 'expected a function');
  return async (handler) => {
    const subscription = await bus.subscribe(
      pattern,
      async (message) => {
        let event: E;
        try {
          event = decode(message);
        } catch {
          return; // undecodable data is no event for this trigger
        }
        await handler(event);
      },
      subscribe,
    );
    return () => subscription.unsubscribe();
  };
}
