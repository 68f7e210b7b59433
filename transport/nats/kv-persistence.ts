// Actor state in NATS KV: a persistence hook that lets an actor come back on any node with its state.

import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { Packr } from 'msgpackr';
import { ErrorCode, InvalidOptionsError, type Persistence, TroupeError } from '../../runtime/index.js';
import { assertOptionsObject, assertValidName } from '../../runtime/internal.js';
import { DEFAULT_STATE_BUCKET } from './subjects.js';

/** Options of {@link natsKvPersistence}. */
export interface NatsKvPersistenceOptions {
  connection: NatsConnection;
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
 * const persistence = await natsKvPersistence({ connection: transport.connection! });
 * system.register('account', defineActor({ ...spec, persistence }));
 */
export async function natsKvPersistence<S = unknown>(
  options: NatsKvPersistenceOptions,
): Promise<
  Persistence<S, { readonly self: { readonly address: string } }> & { remove(address: string): Promise<void> }
> {
  assertOptionsObject(options, 'options');
  if (typeof options.connection?.publish !== 'function')
    throw new InvalidOptionsError('connection', 'expected a NATS connection');
  const bucket = options.bucket ?? DEFAULT_STATE_BUCKET;
  assertValidName(bucket, 'bucket');
  const kv = await new Kvm(options.connection).create(bucket, {
    replicas: options.replicas ?? 1,
    history: 1,
  });
  const packr = new Packr({ useRecords: false, mapsAsObjects: true });
  const connection = options.connection;
  return {
    async load(ctx) {
      // An actor activated while the store is unavailable (a NATS restart) waits for it, its mail queued in
      // order, rather than failing at once and being activated again and again.
      const key = keyOf(ctx.self.address);
      const until = Date.now() + LOAD_RETRY_MS;
      let entry: Awaited<ReturnType<typeof kv.get>>;
      for (let attempt = 0; ; attempt++) {
        try {
          entry = await kv.get(key);
          break;
        } catch (err) {
          if (connection.isClosed() || Date.now() >= until) throw err;
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
      const max = connection.info?.max_payload;
      if (max !== undefined && value.length > max - 1024) {
        throw new TroupeError(
          ErrorCode.PayloadTooLarge,
          `state of ${ctx.self.address} is ${value.length} bytes; the server takes at most ${max}`,
        );
      }
      await kv.put(keyOf(ctx.self.address), value);
    },
    async remove(address) {
      await kv.delete(keyOf(address));
    },
  };
}
