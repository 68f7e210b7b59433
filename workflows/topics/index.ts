// Topics: events published by topic and delivered to actors, by ref or by type subscription (virtual actors
// activated by a key from the event), over a TopicBus (memoryTopicBus embedded, natsTopicBus for a fleet).

export type { EventInput, TopicEvent } from './event.js';
export {
  assertEvent,
  createEvent,
  DEFAULT_MAX_EVENT_BYTES,
  decodeEvent,
  encodeEvent,
  MAX_EVENT_DEPTH,
} from './event.js';
export type {
  DeliverOptions,
  Published,
  TopicEventMessage,
  TopicEventProtocol,
  TopicsOptions,
  TopicsSubscription,
} from './topics.js';
export { BROADCAST_TOPIC, TOPIC_EVENT_MESSAGE, Topics, topics } from './topics.js';
