// Rebuilding an entity from its log: from a snapshot and the tail after it, or from the start up to a moment
// (time travel). Each log record is one command's events, so a command's events land all or none.

import type { AppendLog, KeyValueStore, LogRecord } from '../../runtime/index.js';
import { type EventSourced, entityKey, snapshotKey } from './define.js';

/** Where an entity's events and snapshots live. */
export interface EventStores {
  log: AppendLog;
  /** Snapshots every `snapshotEvery` events; without it every activation replays the whole stream. */
  snapshots?: KeyValueStore | undefined;
}

/** A stored snapshot: the state after the record with sequence `seq`. */
export interface EntitySnapshot<S> {
  readonly seq: number;
  readonly state: S;
  readonly at: number;
  /** The latest command ids and the sequences of their records (the dedupe window), oldest first. */
  readonly ids?: readonly (readonly [string, number])[];
}

/** One stored event with the sequence and time (ms) of the command record that holds it. */
export interface StoredEvent<E> {
  readonly seq: number;
  readonly at: number;
  readonly event: E;
}

/** An entity's state and the sequence of its last record (0 for none): the expected sequence of the next write. */
export interface LoadedEntity<S> {
  state: S;
  seq: number;
  /** Events applied since the snapshot it started from. */
  sinceSnapshot: number;
  /** Ids of the latest commands that gave an id, with their record's sequence: a redelivery is not stored twice. */
  ids: Map<string, number>;
}

export interface EntityReplayOptions {
  /** Only records stored at or before this time (ms since the epoch): the state as it was then. */
  until?: number;
  /** Start from the latest snapshot (when its time is within `until`). @defaultValue true */
  useSnapshot?: boolean;
}

/**
 * @internal A stored record: one command's events, as a bare array (no command id) or `{ id, events }`.
 */
export function parseRecord<E>(record: LogRecord): { id: string | undefined; events: E[] } {
  const data = JSON.parse(record.data) as E[] | { id: string; events: E[] };
  return Array.isArray(data) ? { id: undefined, events: data } : { id: data.id, events: data.events };
}

/** @internal The record text of one command's events. */
export const recordOf = <E>(id: string | undefined, events: readonly E[]): string =>
  JSON.stringify(id === undefined ? events : { id, events });

const eventsOf = <E>(record: LogRecord): E[] => parseRecord<E>(record).events;

/** @internal Remembers command `id` at `seq`, forgetting the oldest beyond `window` ids. */
export function rememberId(ids: Map<string, number>, id: string, seq: number, window: number): void {
  ids.delete(id);
  ids.set(id, seq);
  while (ids.size > window) ids.delete(ids.keys().next().value as string);
}

/** @internal Folds `records` (the entity's, in order, after `loaded.seq`) into a copy of `loaded`. */
export function foldRecords<S, C, E>(
  def: EventSourced<S, C, E>,
  loaded: LoadedEntity<S>,
  records: readonly LogRecord[],
  until?: number,
): LoadedEntity<S> {
  let { state, seq, sinceSnapshot } = loaded;
  const ids = new Map(loaded.ids);
  for (const r of records) {
    if (until !== undefined && r.at > until) break;
    const { id, events } = parseRecord<E>(r);
    for (const event of events) {
      state = def.apply(state, event);
      sinceSnapshot++;
    }
    if (id !== undefined) rememberId(ids, id, r.seq, def.dedupeWindow);
    seq = r.seq;
  }
  return { state, seq, sinceSnapshot, ids };
}

/** The stored events of entity `id`, oldest first, from `fromSeq` and within `[since, until]` (ms). */
export async function readEvents<S, C, E>(
  def: EventSourced<S, C, E>,
  log: AppendLog,
  id: string,
  options: { fromSeq?: number; since?: number; until?: number } = {},
): Promise<StoredEvent<E>[]> {
  const records = await log.read(entityKey(def.type, id), { fromSeq: options.fromSeq ?? 1 });
  const out: StoredEvent<E>[] = [];
  for (const r of records) {
    if (options.since !== undefined && r.at < options.since) continue;
    if (options.until !== undefined && r.at > options.until) break;
    for (const event of eventsOf<E>(r)) out.push({ seq: r.seq, at: r.at, event });
  }
  return out;
}

/** Reads the snapshot of entity `id`, or undefined when there is none. */
export async function readSnapshot<S>(
  snapshots: KeyValueStore | undefined,
  type: string,
  id: string,
): Promise<EntitySnapshot<S> | undefined> {
  if (snapshots === undefined) return undefined;
  const entry = await snapshots.get(snapshotKey(type, id));
  return entry === undefined ? undefined : (JSON.parse(entry.value) as EntitySnapshot<S>);
}

/** Writes a snapshot of entity `id`. */
export async function writeSnapshot<S>(
  snapshots: KeyValueStore,
  type: string,
  id: string,
  snapshot: EntitySnapshot<S>,
): Promise<void> {
  await snapshots.put(snapshotKey(type, id), JSON.stringify(snapshot));
}

/** Rebuilds entity `id`: the latest snapshot (unless told not to) plus every record after it, or up to `until`. */
export async function replayEntity<S, C, E>(
  def: EventSourced<S, C, E>,
  stores: EventStores,
  id: string,
  options: EntityReplayOptions = {},
): Promise<LoadedEntity<S>> {
  const { until } = options;
  let start: LoadedEntity<S> = {
    state: structuredClone(def.initial),
    seq: 0,
    sinceSnapshot: 0,
    ids: new Map(),
  };
  if (options.useSnapshot !== false) {
    // A snapshot that cannot be read only makes the replay longer.
    const snap = await readSnapshot<S>(stores.snapshots, def.type, id).catch(() => undefined);
    if (snap !== undefined && (until === undefined || snap.at <= until))
      start = { state: snap.state, seq: snap.seq, sinceSnapshot: 0, ids: new Map(snap.ids ?? []) };
  }
  const records = await stores.log.read(entityKey(def.type, id), { fromSeq: start.seq + 1 });
  return foldRecords(def, start, records, until);
}

/** Options of {@link projectEvents}. */
export interface ProjectionOptions<M, E> {
  /** The read model before any event. */
  initial: M;
  /** Folds one event of entity `id` into the read model. */
  fold: (model: M, event: E, meta: { id: string; seq: number; at: number }) => M;
  /** Continue a projection already folded up to `fromSeq - 1` (pass the `seq` it returned, plus one). */
  fromSeq?: number;
}

/**
 * Folds the events of every entity of a type, in log order, into a read model (a total, an index). Returns the
 * model and the last sequence folded, to catch up later from `seq + 1`.
 */
export async function projectEvents<S, C, E, M>(
  def: EventSourced<S, C, E>,
  log: AppendLog,
  options: ProjectionOptions<M, E>,
): Promise<{ model: M; seq: number }> {
  const prefix = entityKey(def.type, '');
  let model = options.initial;
  let seq = (options.fromSeq ?? 1) - 1;
  for (const r of await log.read('*', { fromSeq: options.fromSeq ?? 1 })) {
    seq = r.seq;
    if (!r.key.startsWith(prefix)) continue;
    const id = r.key.slice(prefix.length);
    for (const event of eventsOf<E>(r)) model = options.fold(model, event, { id, seq: r.seq, at: r.at });
  }
  return { model, seq };
}
