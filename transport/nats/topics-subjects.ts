// The topic bus's part of the subject scheme (kept beside subjects.ts until it joins it): durable topics under
// `troupe.<ns>.topic.<topic>`, stored by the stream `TROUPE_TOPICS_<ns>`; fast topics under
// `troupe.<ns>.ftopic.<topic>` on core NATS. A topic's tokens are subject tokens as they are (the port allows no
// dots, spaces or wildcards inside one), so a pattern's `*` and `>` are NATS's own.

/** The stream that stores a namespace's durable topics. */
export const topicStream = (namespace: string): string => `TROUPE_TOPICS_${namespace}`;

/** The subject prefix (with its trailing dot) of a namespace's durable topics. */
export const durableTopicPrefix = (namespace: string): string => `troupe.${namespace}.topic.`;

/** The subject prefix (with its trailing dot) of a namespace's fast topics. */
export const fastTopicPrefix = (namespace: string): string => `troupe.${namespace}.ftopic.`;

/** The subject of a topic (or pattern). */
export const topicSubject = (namespace: string, topic: string, durable: boolean): string =>
  `${durable ? durableTopicPrefix(namespace) : fastTopicPrefix(namespace)}${topic}`;

/** The topic a subject of either space names, or undefined for a subject outside both. */
export function topicOfSubject(namespace: string, subject: string): string | undefined {
  const durable = durableTopicPrefix(namespace);
  if (subject.startsWith(durable)) return subject.slice(durable.length);
  const fast = fastTopicPrefix(namespace);
  if (subject.startsWith(fast)) return subject.slice(fast.length);
  return undefined;
}
