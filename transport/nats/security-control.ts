// The freshness of a signed fleet's control frames: the stamp each carries inside its signed bytes (send time,
// the sender's incarnation and sequence), read off the wire and ordered, so a recorded frame cannot be replayed.
// FrameSecurity (security.ts) stamps and checks; this file holds the stamp and its rules.

import type { Clock } from '../../runtime/index.js';

/**
 * What a signed node puts in each control frame it sends, inside the signed bytes (the frame's `stamp`), so
 * that a recorded frame cannot be replayed.
 */
export interface ControlStamp {
  /** Send time, epoch ms by the sender's clock. */
  at: number;
  /** When the sender's incarnation (this run of the node) started, epoch ms by its clock. */
  since: number;
  /** The incarnation's random id: a node restarted with the same id and key is a new incarnation. */
  inc: string;
  /** One more for each control frame the incarnation sends, from 1. */
  seq: number;
}

/** Which stream of control frames a stamp belongs to: each is checked for order on its own. */
export type ControlChannel = 'members' | 'shards';

/** The default freshness window: five failure timeouts, at least 10 s (it must cover the nodes' clock skew). */
export function defaultFreshnessMs(failureTimeoutMs: number): number {
  return Math.max(10_000, 5 * failureTimeoutMs);
}

/** A stamp from the wire, every field checked, or undefined. */
export function stampOf(value: unknown): ControlStamp | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { at, since, inc, seq } = value as Record<string, unknown>;
  if (
    !Number.isSafeInteger(at) ||
    !Number.isSafeInteger(since) ||
    !Number.isSafeInteger(seq) ||
    (seq as number) < 1 ||
    typeof inc !== 'string' ||
    inc.length === 0 ||
    inc.length > 64
  )
    return undefined;
  return { at: at as number, since: since as number, inc, seq: seq as number };
}

/** Orders two incarnations of one node: the later started one is newer; the id breaks a tie. */
export function compareIncarnations(a: ControlStamp, b: ControlStamp): number {
  if (a.since !== b.since) return a.since - b.since;
  return a.inc < b.inc ? -1 : a.inc > b.inc ? 1 : 0;
}

/** How {@link FrameSecurity} stamps and checks control frames. */
export interface ControlFreshnessOptions {
  /** @defaultValue the real clock */
  clock?: Clock | undefined;
  /** @defaultValue {@link defaultFreshnessMs} of the default failure timeout (10 s) */
  freshnessMs?: number | undefined;
}
