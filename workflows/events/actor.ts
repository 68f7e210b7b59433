// An event-sourced entity as a virtual actor: a command is decided against the state, its events appended
// with the expected last sequence (optimistic concurrency), applied, and the result replied. The state is
// loaded on first use (snapshot + tail), so the entity survives passivation and moves to other nodes.

import {
  type ActorDefinition,
  AppendLogError,
  AppendLogErrorCode,
  defineActor,
  InvalidOptionsError,
  type Reply,
} from '../../runtime/index.js';
import { type EventSourced, entityKey } from './define.js';
import {
  type EventStores,
  foldRecords,
  type LoadedEntity,
  parseRecord,
  recordOf,
  rememberId,
  replayEntity,
  writeSnapshot,
} from './replay.js';

/** The result of a command: the events it stored, the state after them and the last sequence. */
export interface CommandResult<S, E> {
  readonly events: E[];
  readonly state: S;
  readonly seq: number;
  /** The command's `id` was stored before (a redelivery or a retry): `events` are the ones stored then. */
  readonly duplicate?: true;
}

/**
 * The protocol of an event-sourced actor: `command` decides and stores; `state` reads. A command with an `id`
 * is stored at most once per id (within the entity's `dedupeWindow`): give one when the command may be sent
 * again (durable mail is at-least-once; a client retries after a timeout or `LOG_UNAVAILABLE`).
 */
export type EventSourcedProtocol<S, C, E> = {
  command: { command: C; id?: string } & Reply<CommandResult<S, E>>;
  state: Reply<{ state: S; seq: number }>;
};

interface Cell<S> {
  loaded: LoadedEntity<S> | undefined;
}

const isMismatch = (err: unknown): boolean =>
  err instanceof AppendLogError && err.code === AppendLogErrorCode.SequenceMismatch;

/**
 * The actor definition of entity type `def`, to register as a virtual type:
 * `system.register(def.type, eventSourcedActor(def, { log, snapshots }))`. A command that loses a race to
 * another writer (`LOG_SEQUENCE_MISMATCH`) reloads and is decided again once; a second loss rejects with that
 * code. A command refused by `decide` against a cached state is decided again once if the log has records the
 * cache missed (another writer), so a refusal always holds against the latest state. Any failed append (an
 * outage: `LOG_UNAVAILABLE`) drops the cached state, so the next command reloads it. Needs a log with
 * `appendIf` (memoryAppendLog, natsAppendLog).
 */
export function eventSourcedActor<S, C, E>(
  def: EventSourced<S, C, E>,
  stores: EventStores,
): ActorDefinition<EventSourcedProtocol<S, C, E>, Cell<S>> {
  const { log, snapshots } = stores;
  if (typeof log?.appendIf !== 'function')
    throw new InvalidOptionsError('log', 'expected an AppendLog with appendIf (optimistic concurrency)');
  const appendIf = log.appendIf.bind(log);
  const idOf = (address: string): string => address.slice(address.lastIndexOf('/') + 1);

  const load = async (cell: Cell<S>, id: string): Promise<LoadedEntity<S>> => {
    if (cell.loaded === undefined) cell.loaded = await replayEntity(def, stores, id);
    return cell.loaded;
  };

  /** Folds in records written since the cached sequence; true if there were any. */
  const catchUp = async (cell: Cell<S>, id: string, current: LoadedEntity<S>): Promise<boolean> => {
    const records = await log.read(entityKey(def.type, id), { fromSeq: current.seq + 1 });
    if (records.length === 0) return false;
    cell.loaded = foldRecords(def, current, records);
    return true;
  };

  /** The answer to a command whose id is stored already: the events of its record, the state now. */
  const repeat = async (id: string, at: number, current: LoadedEntity<S>): Promise<CommandResult<S, E>> => {
    const [record] = await log.read(entityKey(def.type, id), { fromSeq: at, limit: 1 });
    const events = record?.seq === at ? parseRecord<E>(record).events : [];
    return { events, state: current.state, seq: at, duplicate: true };
  };

  const decideAndStore = async (
    cell: Cell<S>,
    id: string,
    command: C,
    commandId: string | undefined,
  ): Promise<CommandResult<S, E>> => {
    let checked = false;
    for (let attempt = 0; ; ) {
      const fresh = cell.loaded === undefined;
      const current = await load(cell, id);
      const stored = commandId === undefined ? undefined : current.ids.get(commandId);
      if (stored !== undefined) return repeat(id, stored, current);
      let events: E[];
      try {
        events = def.decide(current.state, command);
      } catch (refusal) {
        // A refusal only stands against the latest state: a cache can be stale when another node wrote.
        if (fresh || checked) throw refusal;
        checked = true;
        let moved: boolean;
        try {
          moved = await catchUp(cell, id, current);
        } catch (err) {
          cell.loaded = undefined;
          throw err; // the log is out of reach: whether the refusal holds is unknown
        }
        if (moved) continue;
        throw refusal;
      }
      if (events.length === 0) return { events, state: current.state, seq: current.seq };
      let seq: number;
      try {
        seq = await appendIf(entityKey(def.type, id), recordOf(commandId, events), current.seq);
      } catch (err) {
        // Whether it was stored is unknown (outage) or someone else wrote (race): the cache is stale.
        cell.loaded = undefined;
        if (isMismatch(err) && attempt++ === 0) continue;
        throw err;
      }
      let state = current.state;
      for (const event of events) state = def.apply(state, event);
      const ids = current.ids;
      if (commandId !== undefined) rememberId(ids, commandId, seq, def.dedupeWindow);
      const loaded = { state, seq, sinceSnapshot: current.sinceSnapshot + events.length, ids };
      cell.loaded = loaded;
      if (snapshots !== undefined && def.snapshotEvery > 0 && loaded.sinceSnapshot >= def.snapshotEvery) {
        // The log is the truth: a snapshot that failed only makes the next activation replay more.
        await writeSnapshot(snapshots, def.type, id, { seq, state, at: Date.now(), ids: [...ids] }).then(
          () => {
            loaded.sinceSnapshot = 0;
          },
          () => undefined,
        );
      }
      return { events, state, seq };
    }
  };

  return defineActor<EventSourcedProtocol<S, C, E>, Cell<S>>({
    type: def.type,
    init: () => ({ loaded: undefined }),
    handlers: {
      command: async (message, ctx) => {
        try {
          const commandId = (message as { id?: unknown }).id;
          if (commandId !== undefined && (typeof commandId !== 'string' || commandId === ''))
            throw new InvalidOptionsError('id', 'expected a non-empty string');
          return await decideAndStore(ctx.state, idOf(ctx.self.address), message.command as C, commandId);
        } catch (err) {
          ctx.fail(err);
        }
      },
      state: async (_message, ctx) => {
        try {
          const { state, seq } = await load(ctx.state, idOf(ctx.self.address));
          return { state, seq };
        } catch (err) {
          ctx.fail(err);
        }
      },
    },
  });
}
