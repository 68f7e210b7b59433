// Where a virtual actor type's shards belong under a view of the cluster: pure computations over the members and
// the hosted types, so the shard owner (which subscribes, claims and releases) only acts on their answers.

import { hashPlacement, type NodeInfo, type PlacementStrategy } from '../../runtime/index.js';
import type { HostedType } from '../../runtime/internal.js';

const byHash = hashPlacement();

/**
 * How a type's shards are spread. A non-deterministic strategy places actors through the directory; their
 * shards (and with them the directory's entries) are spread by hash.
 */
function shardPlacement(hosted: HostedType): PlacementStrategy {
  return hosted.placement.deterministic ? hosted.placement : byHash;
}

/** The shards (`type.shard`) placement gives `self` now, and the owner of every shard of the hosted types. */
export interface ShardView {
  readonly desired: Set<string>;
  readonly owners: Map<string, string | undefined>;
}

/** @internal Places every shard of `types` over the members hosting each type (`self` always hosts its own). */
export function placeShards(
  types: readonly HostedType[],
  members: readonly NodeInfo[],
  self: string,
  shards: number,
): ShardView {
  const desired = new Set<string>();
  const owners = new Map<string, string | undefined>();
  for (const hosted of types) {
    const type = hosted.type;
    const placement = shardPlacement(hosted);
    const hosts = members.filter((m) => m.id === self || m.types.includes(type));
    for (let shard = 0; shard < shards; shard++) {
      const key = `${type}.${shard}`;
      const owner = placement.place(`${type}#${shard}`, { self, members: hosts });
      owners.set(key, owner);
      if (owner === self) desired.add(key);
    }
  }
  return { desired, owners };
}

/** @internal Who would own shard `key` were `self` absent: its likely previous owner when `self` just joined. */
export function ownerWithout(
  key: string,
  types: readonly HostedType[],
  members: readonly NodeInfo[],
  self: string,
): string | undefined {
  const [type, shard] = key.split('.') as [string, string];
  const hosted = types.find((t) => t.type === type);
  if (!hosted) return undefined;
  const others = members.filter((m) => m.id !== self && m.types.includes(type));
  return shardPlacement(hosted).place(`${type}#${shard}`, { self, members: others });
}

/** @internal True for `type.shard` of a type in `types`, with shard < `shards`. */
export function isShardKey(key: string, types: readonly HostedType[], shards: number): boolean {
  const dot = key.lastIndexOf('.');
  if (dot <= 0) return false;
  const shard = Number(key.slice(dot + 1));
  const type = key.slice(0, dot);
  return Number.isInteger(shard) && shard >= 0 && shard < shards && types.some((t) => t.type === type);
}
