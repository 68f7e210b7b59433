// Unit tests of placement: rendezvous hashing spreads keys and moves few of them when members change.

import { describe, expect, it } from 'vitest';
import {
  hashPlacement,
  leastLoadedPlacement,
  type NodeInfo,
  preferLocalPlacement,
  rolePlacement,
} from '../../runtime/index.js';
import { rendezvous, shardOf } from '../../runtime/internal.js';

const node = (id: string, actors = 0, roles: string[] = []): NodeInfo => ({
  id,
  roles,
  types: [],
  durable: [],
  load: { actors, mailbox: 0 },
  startedAt: 0,
});
const keys = Array.from({ length: 3000 }, (_, i) => `user/${i}`);

describe('placement', () => {
  it('spreads keys evenly over nodes', () => {
    const counts = new Map<string, number>();
    for (const k of keys) {
      const n = rendezvous(k, ['a', 'b', 'c'])!;
      counts.set(n, (counts.get(n) ?? 0) + 1);
    }
    expect([...counts.keys()].sort()).toEqual(['a', 'b', 'c']);
    for (const c of counts.values()) expect(c).toBeGreaterThan(800);
  });

  it('moves only the leaving node’s keys, and about 1/n of keys to a joining node', () => {
    const before = new Map(keys.map((k) => [k, rendezvous(k, ['a', 'b', 'c'])]));
    const left = keys.filter((k) => rendezvous(k, ['a', 'c']) !== before.get(k));
    expect(left.every((k) => before.get(k) === 'b')).toBe(true);
    const joined = keys.filter((k) => rendezvous(k, ['a', 'b', 'c', 'd']) !== before.get(k));
    expect(joined.every((k) => rendezvous(k, ['a', 'b', 'c', 'd']) === 'd')).toBe(true);
    expect(joined.length).toBeGreaterThan(keys.length * 0.15);
    expect(joined.length).toBeLessThan(keys.length * 0.35);
  });

  it('is deterministic regardless of member order', () => {
    const p = hashPlacement();
    const one = p.place('k', { self: 'a', members: [node('a'), node('b'), node('c')] });
    const two = p.place('k', { self: 'c', members: [node('c'), node('a'), node('b')] });
    expect(one).toBe(two);
    expect(p.deterministic).toBe(true);
  });

  it('pins to a role, picks the least loaded, and returns undefined with no candidate', () => {
    const members = [node('a', 5, ['gpu']), node('b', 1), node('c', 3, ['gpu'])];
    const gpu = rolePlacement('gpu');
    for (const k of keys.slice(0, 50)) expect(['a', 'c']).toContain(gpu.place(k, { self: 'b', members }));
    expect(rolePlacement('tpu').place('k', { self: 'a', members })).toBeUndefined();
    expect(leastLoadedPlacement().place('k', { self: 'a', members })).toBe('b');
  });

  it('prefers the origin node when it qualifies, else falls back', () => {
    const members = [node('a', 5), node('b', 1), node('c', 3)];
    const local = preferLocalPlacement();
    expect(local.deterministic).toBe(false);
    expect(local.place('k', { self: 'a', members, origin: 'c' })).toBe('c');
    expect(local.place('k', { self: 'a', members })).toBe('a');
    // The origin does not host the type: the fallback (least loaded) decides.
    expect(local.place('k', { self: 'a', members, origin: 'client' })).toBe('b');
    expect(preferLocalPlacement(rolePlacement('gpu')).place('k', { self: 'x', members })).toBeUndefined();
  });

  it('maps keys to shards in range', () => {
    const shards = new Set(keys.map((k) => shardOf(k, 64)));
    expect(Math.min(...shards)).toBe(0);
    expect(Math.max(...shards)).toBe(63);
    expect(shards.size).toBe(64);
  });
});
