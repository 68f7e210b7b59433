// The message body every NATS scenario sends, the same size for troupe and for the plain nats.js baseline.

/** Bytes of user payload per message. */
export const PAYLOAD_BYTES = 128;

/** Troupe messages carry the payload as a string field (msgpack-encoded by the transport). */
export const PAYLOAD_STRING = 'x'.repeat(PAYLOAD_BYTES);

/** Baseline messages carry the payload as raw bytes. */
export const PAYLOAD_BYTES_ARRAY = new Uint8Array(PAYLOAD_BYTES).fill(0x78);

/** Subject of a plain nats.js baseline endpoint, namespaced like troupe's own subjects. */
export function baselineSubject(namespace: string, name: string): string {
  return `bench.${namespace}.${name}`;
}
