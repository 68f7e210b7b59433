// The contract between an actor system and whatever carries its messages between nodes.

import type { NodeInfo, NodeLoad, PlacementStrategy } from '../cluster/placement.js';
import type { Envelope } from '../core/envelope.js';
import type { WireError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { TransportStats } from './metrics.js';

/** Something a transport could not turn into a delivered envelope. */
export interface Rejected {
  /** Best guess at the intended address (from the subject, say); may be empty. */
  address: string;
  /** Error code: `MALFORMED_FRAME`, `PAYLOAD_TOO_LARGE`, `NO_RESPONDERS`, ... */
  reason: string;
  error: WireError;
  /** The envelope, when it was decoded before the failure. */
  envelope?: Envelope;
}

/** Where a transport hands what arrives for its node. Both methods must not throw. */
export interface TransportSink {
  /** An envelope addressed to this node (a user or system message, or a reply). */
  deliver(envelope: Envelope): void;
  /** Input that could not be delivered: becomes a dead letter (and, for asks, a failed reply). */
  reject(rejected: Rejected): void;
  /**
   * Passivates the active virtual actors whose address matches (their shard moved to another node);
   * resolves with how many stopped, once they have.
   */
  passivate(match: (address: string) => boolean): Promise<number>;
  /** This node's current load, for membership heartbeats. */
  load(): NodeLoad;
  /** The node's logger (node id bound): a transport given no logger of its own writes here. */
  readonly logger?: Logger;
}

/** A virtual actor type a node hosts, and how its ids are placed. */
export interface HostedType {
  type: string;
  placement: PlacementStrategy;
  /** Messages to this type go through a durable store (JetStream) and are delivered at least once. */
  durable: boolean;
}

/**
 * Carries envelopes between nodes. A system owns exactly one transport and binds it once.
 *
 * Guarantees every implementation keeps (the conformance suite checks them):
 * - envelopes sent from one node to one address arrive in the order `send` was called;
 * - a frame that cannot be decoded, or is too large, reaches `sink.reject`, never an exception;
 * - an ask (an envelope with `replyTo`) sent to a node that does not exist comes back as a reply whose
 *   payload is a `NO_RESPONDERS` error, so the asker fails fast instead of waiting for its timeout.
 */
export interface Transport {
  /** `local`, `nats`, ... */
  readonly kind: string;
  /** Frames larger than this are refused on send and on receipt. Valid after `bind`. */
  readonly maxFrameBytes: number;
  /** Starts receiving envelopes addressed to `nodeId/...`. Rejects with `NAME_TAKEN` if the node id is in use. */
  bind(nodeId: string, sink: TransportSink): Promise<void>;
  /**
   * Sends an envelope to another node. Throws `PAYLOAD_TOO_LARGE` (synchronously) when it cannot be encoded
   * within `maxFrameBytes`, and `SYSTEM_CLOSED` after close.
   */
  send(envelope: Envelope): void;
  /**
   * Routes virtual addresses (`$v/<type>/<id>`): called with every type registered on this node, so the
   * transport can take its share of them. Transports without it deliver virtual addresses locally.
   */
  hostTypes?(types: HostedType[]): void;
  /**
   * Sends and resolves once the message is accepted: for a durable virtual actor, once stored (deduplicated
   * by `messageId` when one is given); otherwise once handed to the connection. Transports without it use
   * `send`.
   */
  sendAcked?(envelope: Envelope, messageId: string | undefined): Promise<void>;
  /**
   * A sender declares virtual actor type `type` (from `defineVirtual`): mail to a durable one goes to the
   * durable store whatever the hosts' heartbeats say, so it is stored, or `sendAcked` rejects, even while no
   * host runs. Idempotent. Transports without a durable store ignore it.
   */
  declare?(type: string, durable: boolean): void;
  /**
   * Lists the ids of the nodes reachable on this transport (this one included), waiting up to `timeoutMs` for
   * answers. Optional: `system.ps()` covers only its own node without it.
   */
  nodes?(timeoutMs: number): Promise<string[]>;
  /** The live members as this node sees them (self included), with their hosted types and load. */
  members?(): NodeInfo[];
  /**
   * The first step of a graceful exit: stop taking work for this node (hand its shards to other nodes,
   * leave the cluster) while the connection stays open for its actors to finish and their mail to be
   * passed on. `drain` follows. Optional; safe to call twice.
   */
  handOver?(): Promise<void>;
  /**
   * The connection, the cluster as this node sees it, and counters, for metrics and readiness. Optional;
   * must be cheap (it is read on every metrics collection and readiness probe).
   */
  stats?(): TransportStats;
  /** Stops now: in-flight frames may be lost. Safe to call twice. */
  close(): Promise<void>;
  /** Flushes what was sent, stops receiving, then closes. Safe to call twice. */
  drain(): Promise<void>;
  /** Resolves once closed, with the error that closed it, if any. */
  closed(): Promise<Error | undefined>;
  [Symbol.asyncDispose](): Promise<void>;
}
