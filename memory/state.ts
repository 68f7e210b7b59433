// Actor and agent state on any StateStore (NATS KV, Redis, PostgreSQL): the runtime's Persistence hook built from
// a store and a codec, so the backend is a configuration choice and `troupe state migrate` can move states.

import {
  type Persistence,
  type StateCodec,
  StateError,
  StateErrorCode,
  type StateStore,
} from '../runtime/index.js';

export type { StateCodec, StateStore } from '../runtime/index.js';
export { StateError, StateErrorCode } from '../runtime/index.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** UTF-8 JSON: readable in any backend's own tools (psql, redis-cli). */
export function jsonStateCodec<S = unknown>(): StateCodec<S> {
  return {
    encode: (state) => encoder.encode(JSON.stringify(state)),
    decode: (bytes) => JSON.parse(decoder.decode(bytes)) as S,
  };
}

/** Options of {@link persistenceFrom}. */
export interface PersistenceFromOptions<S> {
  /** @defaultValue {@link jsonStateCodec} */
  codec?: StateCodec<S>;
  /** The store key of an actor address. @defaultValue the address itself */
  key?: (address: string) => string;
  /**
   * How long a load keeps trying while the store is unavailable (a restart), the actor's mail queued in order,
   * rather than failing and being activated again and again. @defaultValue 10000
   */
  loadRetryMs?: number;
}

/** What {@link persistenceFrom} returns: the actor's `persistence`, plus removal and the store's close. */
export interface StatePersistence<S> extends Persistence<S, { readonly self: { readonly address: string } }> {
  readonly store: StateStore;
  /** Deletes the state stored for an actor address. */
  remove(address: string): Promise<boolean>;
  close(): Promise<void>;
}

const RETRY_MIN_MS = 50;
const RETRY_MAX_MS = 1000;

/**
 * The Persistence hook of actors and agents from any {@link StateStore}: loads the state on start and restart,
 * saves it after each handled message. A store outage on save fails the message's persistence phase (the actor
 * restarts and retries it); a state the codec rejects is the message's fault (`STATE_CODEC`).
 *
 * @example
 * const persistence = persistenceFrom(await postgresStateStore({ url }));
 * system.spawn(defineActor({ ...counter, persistence }), 'counter-1');
 */
export function persistenceFrom<S = unknown>(
  store: StateStore,
  options: PersistenceFromOptions<S> = {},
): StatePersistence<S> {
  const codec = options.codec ?? jsonStateCodec<S>();
  const keyOf = options.key ?? ((address: string) => address);
  const loadRetryMs = options.loadRetryMs ?? 10_000;
  return {
    store,
    async load(ctx) {
      const key = keyOf(ctx.self.address);
      const until = Date.now() + loadRetryMs;
      let bytes: Uint8Array | undefined;
      for (let attempt = 0; ; attempt++) {
        try {
          bytes = await store.get(key);
          break;
        } catch (err) {
          const code = (err as { code?: unknown }).code;
          if (code !== StateErrorCode.Unavailable || Date.now() >= until) throw err;
          await new Promise((r) => setTimeout(r, Math.min(RETRY_MIN_MS * 2 ** attempt, RETRY_MAX_MS)));
        }
      }
      if (bytes === undefined) return undefined;
      try {
        return codec.decode(bytes);
      } catch (err) {
        throw new StateError(StateErrorCode.Codec, `stored state of ${ctx.self.address} cannot be decoded`, {
          cause: err,
        });
      }
    },
    async save(state, ctx) {
      let bytes: Uint8Array;
      try {
        bytes = codec.encode(state);
      } catch (err) {
        throw new StateError(
          StateErrorCode.Codec,
          `state of ${ctx.self.address} cannot be encoded: ${(err as Error).message}`,
          { cause: err },
        );
      }
      await store.save(keyOf(ctx.self.address), bytes);
    },
    remove: (address) => store.delete(keyOf(address)),
    close: () => store.close(),
  };
}
