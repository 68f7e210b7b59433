// The thenable test: what user code returned is awaited only when it is promise-like.

/**
 * @internal True for anything with a `then` method: an async handler's, init's, save's or task's result.
 *
 * @example
 * if (isPromiseLike(result)) result.then(done, failed);
 * else done(result);
 */
export function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
