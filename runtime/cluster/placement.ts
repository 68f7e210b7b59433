// Placement: which node should host an actor, decided the same way by every node that looks.

import { InvalidOptionsError } from '../core/errors.js';

/** What a node tells the cluster about itself. */
export interface NodeInfo {
  id: string;
  /** Roles this node plays (e.g. `gpu`, `api`): placement can pin actor types to a role. */
  roles: string[];
  /** Virtual actor types this node hosts. */
  types: string[];
  /** The hosted types whose mailboxes are durable. */
  durable: string[];
  /** Load figures, refreshed with every heartbeat. */
  load: NodeLoad;
  /** Clock time the node started. */
  startedAt: number;
}

/** A node's load, as reported in its heartbeats. */
export interface NodeLoad {
  /** Active actors on the node. */
  actors: number;
  /** Messages waiting in its mailboxes. */
  mailbox: number;
}

/**
 * @internal A {@link NodeInfo}: what `fields` leaves out is empty (no roles, types or load, started at 0).
 *
 * @example
 * const host = nodeInfo('n1', { types: ['account'] });
 */
export function nodeInfo(id: string, fields: Partial<Omit<NodeInfo, 'id'>> = {}): NodeInfo {
  return {
    id,
    roles: fields.roles ?? [],
    types: fields.types ?? [],
    durable: fields.durable ?? [],
    load: fields.load ?? { actors: 0, mailbox: 0 },
    startedAt: fields.startedAt ?? 0,
  };
}

/** The view a placement decision is made from. `members` are the live nodes, self included. */
export interface PlacementContext {
  self: string;
  members: readonly NodeInfo[];
  /** The node the triggering message came from, when known (prefer-local places the actor there). */
  origin?: string | undefined;
}

/**
 * Chooses a node for a key (`type/id` of a virtual actor, or a shard). Returns `undefined` when no member
 * qualifies. A deterministic strategy (every node with the same view chooses the same node) places virtual
 * actors by shard with no lookup at all; any other is asked once per actor by the owner of the actor's
 * shard, which records the choice in an activation directory.
 */
export interface PlacementStrategy {
  readonly name: string;
  /** True when every node with the same view picks the same node: placement by shard, no directory. */
  readonly deterministic: boolean;
  place(key: string, context: PlacementContext): string | undefined;
}

/** 32-bit FNV-1a with a murmur-style finalizer: fast, and well spread for short keys. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Rendezvous (highest-random-weight) hashing: the node with the highest `hash(node, key)` wins. When a node
 * leaves only its keys move; when one joins it takes about 1/n of the keys and nothing else moves.
 */
export function rendezvous(key: string, nodes: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestWeight = -1;
  for (const node of nodes) {
    const weight = hash32(`${node}\u0000${key}`);
    if (weight > bestWeight || (weight === bestWeight && best !== undefined && node < best)) {
      best = node;
      bestWeight = weight;
    }
  }
  return best;
}

/** Shard of a key among `shards` shards. */
export function shardOf(key: string, shards: number): number {
  return hash32(key) % shards;
}

/** Spreads keys over all members by rendezvous hashing. The default for virtual actors. */
export function hashPlacement(): PlacementStrategy {
  return {
    name: 'hash',
    deterministic: true,
    place: (key, { members }) =>
      rendezvous(
        key,
        members.map((m) => m.id),
      ),
  };
}

/** Keeps keys on members that play `role`, spread by hash among them. */
export function rolePlacement(role: string): PlacementStrategy {
  if (typeof role !== 'string' || role.length === 0)
    throw new InvalidOptionsError('role', `expected a non-empty string, got ${String(role)}`);
  return {
    name: `role:${role}`,
    deterministic: true,
    place: (key, { members }) =>
      rendezvous(
        key,
        members.filter((m) => m.roles.includes(role)).map((m) => m.id),
      ),
  };
}

/**
 * The member with the fewest active actors (ties by id). Virtual actors placed this way go through the
 * activation directory; a durable type cannot use it.
 */
export function leastLoadedPlacement(): PlacementStrategy {
  return {
    name: 'least-loaded',
    deterministic: false,
    place: (_key, { members }) => {
      let best: NodeInfo | undefined;
      for (const m of members) {
        if (
          !best ||
          m.load.actors < best.load.actors ||
          (m.load.actors === best.load.actors && m.id < best.id)
        )
          best = m;
      }
      return best?.id;
    },
  };
}

/**
 * The node the request came from (`origin`: the sender of a virtual actor's first message, or the caller of
 * `spawnOn`) when it qualifies, else `fallback`. Keeps an actor next to whoever talks to it first.
 */
export function preferLocalPlacement(
  fallback: PlacementStrategy = leastLoadedPlacement(),
): PlacementStrategy {
  return {
    name: 'prefer-local',
    deterministic: false,
    place: (key, context) => {
      const here = context.origin ?? context.self;
      return context.members.some((m) => m.id === here) ? here : fallback.place(key, context);
    },
  };
}
