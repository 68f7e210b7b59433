// Stock reducers: how a node's partial update to one state field is merged into the current value.

/** Merges `update` into `current`; `current` is `undefined` until the field is first set (and has no default). */
export type Reducer<T> = (current: T, update: T) => T;

/** The last write wins. */
export function replace<T>(): Reducer<T> {
  return (_current, update) => update;
}

/** Arrays are concatenated (a non-array update is appended as one item). */
export function append<T>(): Reducer<T[]> {
  return (current, update) => [...(current ?? []), ...(Array.isArray(update) ? update : [update as T])];
}

/** Numbers are added. */
export function sum(): Reducer<number> {
  return (current, update) => (current ?? 0) + update;
}

/** Objects are shallow-merged. */
export function merge<T extends Record<string, unknown>>(): Reducer<T> {
  return (current, update) => ({ ...(current ?? {}), ...update }) as T;
}
