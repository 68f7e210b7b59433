// Actor state in NATS KV: a persistence hook that lets an actor come back on any node with its state.

import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { Packr } from 'msgpackr';
import { assertValidName, ErrorCode, type Persistence, TroupeError } from '../runtime/index.js';

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
  const bucket = options.bucket ?? 'troupe-state';
  assertValidName(bucket, 'bucket');
  const kv = await new Kvm(options.connection).create(bucket, {
    replicas: options.replicas ?? 1,
    history: 1,
  });
  const packr = new Packr({ useRecords: false, mapsAsObjects: true });
  return {
    async load(ctx) {
      const entry = await kv.get(keyOf(ctx.self.address));
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
      await kv.put(keyOf(ctx.self.address), packr.pack(state));
    },
    async remove(address) {
      await kv.delete(keyOf(address));
    },
  };
}
