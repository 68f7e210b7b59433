// The sender's side of durable mailboxes: which virtual types are durable here, and the sends that store
// their mail in JetStream rather than publish it.

import { ErrorCode, TroupeError } from '../../runtime/index.js';
import {
  type Envelope,
  type HostedType,
  parseVirtualAddress,
  type Rejected,
} from '../../runtime/internal.js';
import { durableSubject, type NatsCluster } from './cluster.js';

/** What the durable sender needs from the transport. */
export interface DurableSenderOptions {
  /** Sends mail the plain way (a type that is not durable). */
  send(envelope: Envelope): void;
  /** Encodes a frame to store, once mail still waiting in a tell batch has gone (so it is not overtaken). */
  encode(envelope: Envelope): Uint8Array;
  /** A tell the store refused, as a dead letter. */
  reject(rejected: Rejected): void;
  /** Types this node hosts. */
  hosted(): readonly HostedType[];
}

/**
 * @internal Decides, per virtual type, whether mail is stored (durable) or published, and stores it: `tell`
 * in the background, `sendAcked` resolving once JetStream stored the message.
 */
export class DurableSender {
  readonly #o: DurableSenderOptions;
  /** Virtual types senders here declared (`defineVirtual`), and whether each is durable. */
  readonly #declared = new Map<string, boolean>();
  #cluster: NatsCluster | undefined;

  constructor(options: DurableSenderOptions) {
    this.#o = options;
  }

  /** The node joined its cluster: durable mail can be stored now. */
  attach(cluster: NatsCluster): void {
    this.#cluster = cluster;
  }

  declare(type: string, durable: boolean): void {
    this.#declared.set(type, durable);
  }

  /**
   * Durable if declared so here, or ever seen hosted as durable (here or by a member's heartbeats): a view
   * rebuilt from heartbeats after a reconnect must never turn an acknowledged send into a plain publish.
   */
  isDurable(type: string): boolean {
    if (this.#declared.get(type) === true) return true;
    if (this.#cluster?.shards.isDurable(type) !== true) return false;
    this.#declared.set(type, true);
    return true;
  }

  /** Stores a tell to durable virtual actor `type`/`id` in the background; a refusal becomes a dead letter. */
  tell(envelope: Envelope, type: string, id: string, frame: Uint8Array): void {
    const cluster = this.#cluster;
    if (cluster === undefined) return;
    cluster.durable.publish(durableSubject(cluster, type, id), frame, undefined).catch((err: unknown) =>
      this.#o.reject({
        address: envelope.target,
        reason: ErrorCode.NoResponders,
        error: TroupeError.toWire(err, { code: ErrorCode.NoResponders }),
        envelope,
      }),
    );
  }

  /**
   * Mail to a durable virtual actor resolves once stored; to a type hosted but not durable, once published;
   * to a type neither declared here nor hosted by a live node, it rejects with `NO_RESPONDERS`.
   */
  sendAcked(envelope: Envelope, messageId: string | undefined): Promise<void> {
    const virtual = parseVirtualAddress(envelope.target);
    const cluster = this.#cluster;
    if (virtual === undefined || cluster === undefined) {
      this.#o.send(envelope);
      return Promise.resolve();
    }
    if (!this.isDurable(virtual.type)) {
      // Neither declared by this sender nor hosted by a live node: storing it would be a guess, and a
      // plain publish would resolve for mail no one takes. Say so now.
      if (!this.#isKnown(cluster, virtual.type)) {
        return Promise.reject(
          new TroupeError(
            ErrorCode.NoResponders,
            `no live node hosts virtual actor type ${virtual.type}, and this sender did not declare it: ` +
              'name it with a defineVirtual() value so a durable type is stored while no host runs',
          ),
        );
      }
      this.#o.send(envelope);
      return Promise.resolve();
    }
    const frame = this.#o.encode(envelope);
    return cluster.durable.publish(durableSubject(cluster, virtual.type, virtual.id), frame, messageId);
  }

  #isKnown(cluster: NatsCluster, type: string): boolean {
    return (
      this.#declared.has(type) ||
      this.#o.hosted().some((t) => t.type === type) ||
      cluster.membership.members().some((m) => m.types.includes(type))
    );
  }
}
