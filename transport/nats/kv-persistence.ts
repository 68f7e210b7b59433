// Actor state in NATS KV: a persistence hook that lets an actor come back on any node with its state.

import { type KV, Kvm } from '@nats-io/kv';
import type { NatsConnection, NodeConnectionOptions } from '@nats-io/transport-node';
import { Packr } from 'msgpackr';
import {
  ErrorCode,
  InvalidOptionsError,
  type Persistence,
  type Transport,
  TroupeError,
} from '../../runtime/index.js';
import { assertOptionsObject, assertValidName } from '../../runtime/internal.js';
import { TransportError, TransportErrorCode } from '../errors.js';
import { connectionSource } from './connection-source.js';
import type { NatsAuthOptions } from './options.js';
import { DEFAULT_STATE_BUCKET } from './subjects.js';

/**
 * Options of {@link natsKvPersistence}. Give exactly one of `transport`, `servers` or `connection`: where the
 * KV lives.
 */
export interface NatsKvPersistenceOptions {
  /**
   * A NATS transport, typically `system.transport` inside an actors module's `start(system)`: the state shares
   * its connection. Given before the system started, the bucket opens on first use.
   */
  transport?: Transport | undefined;
  /** Server URL(s), e.g. `nats://127.0.0.1:4222`: opens a connection of its own, closed by `close()`. */
  servers?: string | string[];
  /** Extra options for `connect()` with `servers` (auth, TLS); reconnects forever, 500 ms apart, by default. */
  connectOptions?: Partial<NodeConnectionOptions>;
  /** Credentials and TLS for `servers` (see NatsAuthOptions); `connectOptions` wins over it. */
  auth?: NatsAuthOptions | undefined;
  /** A connection the caller owns and closes. */
  connection?: NatsConnection;
  /**
   * The KV bucket (created when missing). One bucket can hold every actor of a namespace.
   * @defaultValue `troupe-state`
   */
  bucket?: string;
  /**
   * Bucket replicas on a clustered NATS.
   * @defaultValue 1
   */
  replicas?: number;
}

/** What {@link natsKvPersistence} returns: the actor's `persistence`, plus removal and cleanup. */
export interface NatsKvPersistence<S = unknown>
  extends Persistence<S, { readonly self: { readonly address: string } }> {
  /** Deletes the state stored for an actor address. */
  remove(address: string): Promise<void>;
  /** Closes the connection opened for `servers`; a transport's or caller's connection is left open. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** How long a load keeps trying while the store does not answer (NATS reconnecting, JetStream starting). */
const LOAD_RETRY_MS = 10_000;
const RETRY_MIN_MS = 50;
const RETRY_MAX_MS = 1000;

/** KV keys allow only `[-/_=.a-zA-Z0-9]`: addresses are base64url-encoded to fit. */
function keyOf(address: string): string {
  return Buffer.from(address).toString('base64url');
}

/**
 * A {@link Persistence} that snapshots an actor's state to NATS KV after every message it handles and loads
 * it when the actor starts (first activation, restart, or reactivation on another node after failover).
 *
 * @example
 * // in an actors module (`troupe node --actors`), on the node's own connection:
 * export async function start(system) {
 *   const persistence = await natsKvPersistence({ transport: system.transport });
 *   system.register('account', defineActor({ ...spec, persistence }));
 * }
 * // anywhere else, on a connection of its own (close() it when done):
 * const persistence = await natsKvPersistence({ servers: 'nats://127.0.0.1:4222' });
 */
export async function natsKvPersistence<S = unknown>(
  options: NatsKvPersistenceOptions,
): Promise<NatsKvPersistence<S>> {
  assertOptionsObject(options, 'options');
  const bucket = options.bucket ?? DEFAULT_STATE_BUCKET;
  assertValidName(bucket, 'bucket');
  const replicas = options.replicas ?? 1;
  if (!Number.isInteger(replicas) || replicas < 1)
    throw new InvalidOptionsError('replicas', 'expected a positive integer');
  const { current, owned } = await connectionSource(options, 'troupe:kv-persistence');

  const connection = (): NatsConnection => {
    const nc = current();
    if (nc === undefined)
      throw new TransportError(
        TransportErrorCode.NotBound,
        'the NATS transport is not connected yet: start its system (createSystem) before actors use the state',
      );
    return nc;
  };
  let opening: Promise<KV> | undefined;
  const kv = (): Promise<KV> => {
    if (opening !== undefined) return opening;
    const open = new Kvm(connection()).create(bucket, { replicas, history: 1 });
    opening = open;
    // A failed open (JetStream not ready, connection away) is tried again by the next call.
    open.catch(() => {
      if (opening === open) opening = undefined;
    });
    return open;
  };
  // Open now when the connection is there, so a missing JetStream or a bad bucket shows at creation.
  if (current() !== undefined) {
    try {
      await kv();
    } catch (err) {
      await owned?.close();
      throw err;
    }
  }

  const packr = new Packr({ useRecords: false, mapsAsObjects: true });
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= owned === undefined ? Promise.resolve() : owned.close();
    return closing;
  };
  return {
    async load(ctx) {
      // An actor activated while the store is unavailable (a NATS restart) waits for it, its mail queued in
      // order, rather than failing at once and being activated again and again.
      const key = keyOf(ctx.self.address);
      const until = Date.now() + LOAD_RETRY_MS;
      let entry: Awaited<ReturnType<KV['get']>>;
      for (let attempt = 0; ; attempt++) {
        try {
          entry = await (await kv()).get(key);
          break;
        } catch (err) {
          if (current()?.isClosed() !== false || Date.now() >= until) throw err;
          await new Promise((r) => setTimeout(r, Math.min(RETRY_MIN_MS * 2 ** attempt, RETRY_MAX_MS)));
        }
      }
      if (entry?.operation !== 'PUT' || entry.value.length === 0) return undefined;
      try {
        return packr.unpack(entry.value) as S;
      } catch (err) {
        throw new TroupeError(
          ErrorCode.MalformedFrame,
          `stored state of ${ctx.self.address} cannot be decoded`,
          { cause: err },
        );
      }
    },
    async save(state, ctx) {
      // What the state itself causes is the message's fault (it counts as a failed attempt of the message
      // that produced it); anything the store or the connection throws is an outage, retried by the actor.
      let value: Uint8Array;
      try {
        value = packr.pack(state);
      } catch (err) {
        throw new TroupeError(
          ErrorCode.InvalidMessage,
          `state of ${ctx.self.address} cannot be encoded: ${(err as Error).message}`,
          { cause: err },
        );
      }
      const max = current()?.info?.max_payload;
      if (max !== undefined && value.length > max - 1024) {
        throw new TroupeError(
          ErrorCode.PayloadTooLarge,
          `state of ${ctx.self.address} is ${value.length} bytes; the server takes at most ${max}`,
        );
      }
      await (await kv()).put(keyOf(ctx.self.address), value);
    },
    async remove(address) {
      await (await kv()).delete(keyOf(address));
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
