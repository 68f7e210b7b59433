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
import { type EventStores, type LoadedEntity, replayEntity, writeSnapshot } from './replay.js';

/** The result of a command: the events it stored, the state after them and the last sequence. */
export interface CommandResult<S, E> {
  readonly events: E[];
  readonly state: S;
  readonly seq: number;
}

/** The protocol of an event-sourced actor: `command` decides and stores; `state` reads. */
export type EventSourcedProtocol<S, C, E> = {
  command: { command: C } & Reply<CommandResult<S, E>>;
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
 * code. Any failed append (an outage: `LOG_UNAVAILABLE`) drops the cached state, so the next command reloads it.
 * Needs a log with `appendIf` (memoryAppendLog, natsAppendLog).
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

  const decideAndStore = async (cell: Cell<S>, id: string, command: C): Promise<CommandResult<S, E>> => {
    for (let attempt = 0; ; attempt++) {
      const current = await load(cell, id);
      const events = def.decide(current.state, command);
      if (events.length === 0) return { events, state: current.state, seq: current.seq };
      let seq: number;
      try {
        seq = await appendIf(entityKey(def.type, id), JSON.stringify(events), current.seq);
      } catch (err) {
        // Whether it was stored is unknown (outage) or someone else wrote (race): the cache is stale.
        cell.loaded = undefined;
        if (isMismatch(err) && attempt === 0) continue;
        throw err;
      }
      let state = current.state;
      for (const event of events) state = def.apply(state, event);
      const loaded = { state, seq, sinceSnapshot: current.sinceSnapshot + events.length };
      cell.loaded = loaded;
      if (snapshots !== undefined && def.snapshotEvery > 0 && loaded.sinceSnapshot >= def.snapshotEvery) {
        // The log is the truth: a snapshot that failed only makes the next activation replay more.
        await writeSnapshot(snapshots, def.type, id, { seq, state, at: Date.now() }).then(
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
          return await decideAndStore(ctx.state, idOf(ctx.self.address), message.command as C);
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
