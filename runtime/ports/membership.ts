// The contract for cluster membership: who is alive, and what changed.

import type { NodeInfo, NodeLoad } from '../cluster/placement.js';

/** A change in the cluster's membership. */
export interface MembershipEvent {
  /**
   * `joined`: first heartbeat seen; `updated`: its hosted types changed; `left`: said goodbye; `failed`:
   * heartbeats stopped for the failure timeout.
   */
  type: 'joined' | 'updated' | 'left' | 'failed';
  node: NodeInfo;
  at: number;
}

/**
 * Who is in the cluster, with no central coordinator: every node announces itself and watches the others.
 * Implementations must detect a silent node within their failure timeout and report each change once.
 */
export interface Membership {
  readonly self: NodeInfo;
  /** Live members, self included, sorted by id (the same order on every node with the same view). */
  members(): NodeInfo[];
  /** Subscribes to changes; returns the unsubscribe function. */
  onChange(listener: (event: MembershipEvent) => void): () => void;
  /** Announces the virtual actor types this node hosts (sent at once, then with every heartbeat). */
  setTypes(types: string[], durable?: string[]): void;
  /** Where the node's load figures come from; read before each heartbeat. */
  setLoadSource(source: () => NodeLoad): void;
  /** Leaves now without saying goodbye (others notice by timeout). */
  close(): Promise<void>;
  /** Says goodbye so others update at once, then closes. */
  drain(): Promise<void>;
  closed(): Promise<Error | undefined>;
  [Symbol.asyncDispose](): Promise<void>;
}
