// Event-sourced entities on a JetStream stream: replay equals live state, snapshots shorten replay without
// changing it, racing writers are caught by the expected last sequence, and entities survive moves and outages.

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ActorSystem,
  type AppendLog,
  createSystem,
  type KeyValueStore,
  memoryAppendLog,
  memoryKeyValue,
  TroupeError,
} from '../../runtime/index.js';
import { type ServerProcess, startNats } from '../../testing/index.js';
import { localTransport, natsAppendLog, natsKeyValue, natsTransport } from '../../transport/index.js';
import {
  defineEventSourced,
  type EventSourcedProtocol,
  entityKey,
  eventSourcedActor,
  projectEvents,
  readEvents,
  readSnapshot,
  replayEntity,
} from '../../workflows/events/index.js';

type Account = { balance: number; ops: number };
type Command = { kind: 'deposit'; amount: number } | { kind: 'withdraw'; amount: number };
type Event = { kind: 'deposited'; amount: number } | { kind: 'withdrew'; amount: number };
type Proto = EventSourcedProtocol<Account, Command, Event>;

const account = (snapshotEvery = 0) =>
  defineEventSourced<Account, Command, Event>({
    type: 'account',
    initial: { balance: 0, ops: 0 },
    decide: (state, c) => {
      if (c.kind === 'withdraw' && c.amount > state.balance)
        throw new TroupeError('INSUFFICIENT_FUNDS', 'insufficient funds');
      return [
        c.kind === 'deposit'
          ? { kind: 'deposited', amount: c.amount }
          : { kind: 'withdrew', amount: c.amount },
      ];
    },
    apply: (state, e) => ({
      balance: state.balance + (e.kind === 'deposited' ? e.amount : -e.amount),
      ops: state.ops + 1,
    }),
    snapshotEvery,
  });

const rand = (prefix: string): string => `${prefix}${randomBytes(3).toString('hex')}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let nats: ServerProcess;
beforeAll(async () => {
  nats = await startNats();
});
afterAll(() => nats.stop());

async function node(ns: string, def: ReturnType<typeof account>, logName: string, kv?: KeyValueStore) {
  const transport = natsTransport({ servers: nats.url, namespace: ns });
  const log = await natsAppendLog({ transport, name: logName });
  const system = await createSystem({ nodeId: rand('n'), transport });
  system.register(def.type, eventSourcedActor(def, { log, snapshots: kv }), { passivateAfterMs: 0 });
  return { system, log };
}

const cmd = (system: ActorSystem, id: string, command: Command) =>
  system.virtual<Proto>('account', id).ask({ type: 'command', command });

describe('event sourcing', () => {
  it('replays an entity from its stream to its live state, and to its state at a moment', async () => {
    const def = account();
    const { system, log } = await node(rand('ns'), def, rand('log'));
    try {
      for (const amount of [5, 7, 11]) await cmd(system, 'a', { kind: 'deposit', amount });
      await sleep(20);
      const middle = Date.now();
      await sleep(20);
      await cmd(system, 'a', { kind: 'withdraw', amount: 4 });
      await cmd(system, 'b', { kind: 'deposit', amount: 100 });
      await expect(cmd(system, 'a', { kind: 'withdraw', amount: 1000 })).rejects.toMatchObject({
        code: 'INSUFFICIENT_FUNDS',
      });
      const live = await system.virtual<Proto>('account', 'a').ask({ type: 'state' });
      expect(live.state).toEqual({ balance: 19, ops: 4 });
      const replayed = await replayEntity(def, { log }, 'a');
      expect(replayed.state).toEqual(live.state);
      expect(replayed.seq).toBe(live.seq);
      expect((await replayEntity(def, { log }, 'a', { until: middle })).state).toEqual({
        balance: 23,
        ops: 3,
      });
      expect((await readEvents(def, log, 'a', { since: middle })).map((e) => e.event)).toEqual([
        { kind: 'withdrew', amount: 4 },
      ]);
      const totals = await projectEvents(def, log, {
        initial: {} as Record<string, number>,
        fold: (m, e, { id }) => ({
          ...m,
          [id]: (m[id] ?? 0) + (e.kind === 'deposited' ? e.amount : -e.amount),
        }),
      });
      expect(totals.model).toEqual({ a: 19, b: 100 });
      await cmd(system, 'b', { kind: 'deposit', amount: 1 });
      const more = await projectEvents(def, log, { initial: 0, fold: (m) => m + 1, fromSeq: totals.seq + 1 });
      expect(more.model).toBe(1);
    } finally {
      await system.drain();
    }
  });

  it('snapshot plus tail equals a full replay; a moved entity keeps its state', async () => {
    const def = account(3);
    const ns = rand('ns');
    const logName = rand('log');
    const kv = await natsKeyValue({ servers: nats.url, bucket: rand('snap') });
    try {
      const first = await node(ns, def, logName, kv);
      for (let i = 1; i <= 8; i++) await cmd(first.system, 'c', { kind: 'deposit', amount: i });
      const snap = await readSnapshot<Account>(kv, 'account', 'c');
      expect(snap?.state).toEqual({ balance: 21, ops: 6 });
      const full = await replayEntity(def, { log: first.log }, 'c', { useSnapshot: false });
      const fromSnap = await replayEntity(def, { log: first.log, snapshots: kv }, 'c');
      expect(fromSnap).toEqual({ state: full.state, seq: full.seq, sinceSnapshot: 2, ids: new Map() });
      expect(full.state).toEqual({ balance: 36, ops: 8 });
      await first.system.drain();

      // Another node, same fleet: the entity activates there from the snapshot and the tail.
      const second = await node(ns, def, logName, kv);
      try {
        const r = await cmd(second.system, 'c', { kind: 'withdraw', amount: 6 });
        expect(r.state).toEqual({ balance: 30, ops: 9 });
      } finally {
        await second.system.drain();
      }
    } finally {
      await kv.close();
    }
  });

  it('catches a concurrent writer by the expected sequence: reloads and retries once, or fails with the code', async () => {
    const def = account();
    const logName = rand('log');
    // Two fleets (namespaces) on one stream: each hosts its own instance of entity d.
    const one = await node(rand('ns'), def, logName);
    const two = await node(rand('ns'), def, logName);
    try {
      await cmd(one.system, 'd', { kind: 'deposit', amount: 10 });
      await cmd(two.system, 'd', { kind: 'deposit', amount: 20 });
      // one's cached state is stale (seq of its own write); the append is refused, it reloads and decides again.
      const r = await cmd(one.system, 'd', { kind: 'deposit', amount: 5 });
      expect(r.state).toEqual({ balance: 35, ops: 3 });
      expect((await replayEntity(def, { log: one.log }, 'd')).state).toEqual(r.state);

      const key = entityKey('account', 'd');
      await expect(one.log.appendIf?.(key, '[]', r.seq - 1)).rejects.toMatchObject({
        code: 'LOG_SEQUENCE_MISMATCH',
      });
      await expect(one.log.appendIf?.(entityKey('account', 'new'), '[]', 0)).resolves.toBeGreaterThan(r.seq);
    } finally {
      await one.system.drain();
      await two.system.drain();
    }
  });

  it('rejects with LOG_SEQUENCE_MISMATCH when it loses the race twice (memory log)', async () => {
    const def = account();
    const memory = memoryAppendLog();
    const key = entityKey('account', 'f');
    expect(await memory.appendIf?.(key, '[]', 0)).toBe(1);
    await expect(memory.appendIf?.(key, '[]', 0)).rejects.toMatchObject({ code: 'LOG_SEQUENCE_MISMATCH' });
    // Another writer appends right before each of this node's writes: the retry loses too.
    const racing: AppendLog = {
      append: (k, d) => memory.append(k, d),
      appendIf: async (k, d, seq) => {
        await memory.append(k, JSON.stringify([{ kind: 'deposited', amount: 1 }]));
        return (memory.appendIf as NonNullable<AppendLog['appendIf']>)(k, d, seq);
      },
      read: (k, o) => memory.read(k, o),
      purge: (k, b) => memory.purge(k, b),
      close: () => memory.close(),
    };
    const system = await createSystem({ transport: localTransport() });
    system.register(def.type, eventSourcedActor(def, { log: racing }), { passivateAfterMs: 0 });
    try {
      await expect(cmd(system, 'g', { kind: 'deposit', amount: 9 })).rejects.toMatchObject({
        code: 'LOG_SEQUENCE_MISMATCH',
      });
      expect((await replayEntity(def, { log: memory }, 'g')).state).toEqual({ balance: 2, ops: 2 });
      expect(() => eventSourcedActor(def, { log: { ...racing, appendIf: undefined } as never })).toThrow(
        /appendIf/,
      );
    } finally {
      await system.drain();
    }
  });

  it('fails with LOG_UNAVAILABLE while NATS is down and recovers after it restarts', async () => {
    const def = account();
    const server = await startNats();
    const log = await natsAppendLog({ servers: server.url, name: rand('log'), opTimeoutMs: 500 });
    const system = await createSystem({ transport: localTransport() });
    system.register(def.type, eventSourcedActor(def, { log }), { passivateAfterMs: 0 });
    try {
      await cmd(system, 'e', { kind: 'deposit', amount: 3 });
      const restarting = server.restart(2500);
      await sleep(800);
      await expect(cmd(system, 'e', { kind: 'deposit', amount: 1000 })).rejects.toMatchObject({
        code: 'LOG_UNAVAILABLE',
      });
      await restarting;
      let result: { state: Account } | undefined;
      for (let i = 0; i < 40 && result === undefined; i++) {
        result = await cmd(system, 'e', { kind: 'deposit', amount: 4 }).catch(() => undefined);
        if (result === undefined) await sleep(250);
      }
      expect(result?.state).toEqual({ balance: 7, ops: 2 });
    } finally {
      await system.drain();
      await log.close();
      await server.stop();
    }
  }, 30_000);

  it('decides a refused command again against the log when its cached state was stale (another writer)', async () => {
    const def = account();
    const logName = rand('log');
    let refusals = 0;
    const counted = defineEventSourced<Account, Command, Event>({
      ...def,
      decide: (state, c) => {
        try {
          return def.decide(state, c);
        } catch (err) {
          refusals++;
          throw err;
        }
      },
    });
    const one = await node(rand('ns'), counted, logName);
    const two = await node(rand('ns'), counted, logName);
    try {
      await cmd(one.system, 'h', { kind: 'deposit', amount: 10 }); // one caches balance 10
      await cmd(two.system, 'h', { kind: 'deposit', amount: 20 }); // the log now says 30
      // Against one's cache (10) this is refused; against the log (30) it is valid.
      const r = await cmd(one.system, 'h', { kind: 'withdraw', amount: 25 });
      expect(r.state).toEqual({ balance: 5, ops: 3 });
      expect(refusals).toBe(1);
      // A refusal that holds against the latest state is final: one catch-up read, no loop.
      await expect(cmd(one.system, 'h', { kind: 'withdraw', amount: 6 })).rejects.toMatchObject({
        code: 'INSUFFICIENT_FUNDS',
      });
      expect(refusals).toBe(2);
      const live = await one.system.virtual<Proto>('account', 'h').ask({ type: 'state' });
      expect((await replayEntity(def, { log: one.log }, 'h')).state).toEqual(live.state);
    } finally {
      await one.system.drain();
      await two.system.drain();
    }
  });

  it('stores a command with an id once: a repeat is answered from its record, also after a move', async () => {
    const def = defineEventSourced<Account, Command, Event>({ ...account(2), dedupeWindow: 3 });
    const log = memoryAppendLog();
    const kv = memoryKeyValue();
    const host = async () => {
      const system = await createSystem({ transport: localTransport() });
      system.register(def.type, eventSourcedActor(def, { log, snapshots: kv }), { passivateAfterMs: 0 });
      return system;
    };
    const send = (system: ActorSystem, id: string, amount: number) =>
      system
        .virtual<Proto>('account', 'k')
        .ask({ type: 'command', command: { kind: 'deposit', amount }, id });
    const first = await host();
    const a = await send(first, 'cmd-1', 5);
    expect(a.duplicate).toBeUndefined();
    const again = await send(first, 'cmd-1', 5);
    expect(again).toEqual({ events: a.events, state: a.state, seq: a.seq, duplicate: true });
    for (const [id, amount] of [
      ['cmd-2', 1],
      ['cmd-3', 2],
    ] as const)
      await send(first, id, amount);
    await first.drain();
    // A new activation (snapshot after 2 events + the tail) still knows the ids.
    const second = await host();
    try {
      const b = await send(second, 'cmd-2', 1);
      expect(b).toMatchObject({
        duplicate: true,
        events: [{ kind: 'deposited', amount: 1 }],
        state: { balance: 8 },
      });
      await send(second, 'cmd-4', 4); // pushes cmd-1 out of the window of 3
      expect((await send(second, 'cmd-1', 5)).duplicate).toBeUndefined();
      const records = await log.read(entityKey('account', 'k'));
      expect(records.map((r) => JSON.parse(r.data).id)).toEqual([
        'cmd-1',
        'cmd-2',
        'cmd-3',
        'cmd-4',
        'cmd-1',
      ]);
      expect((await readEvents(def, log, 'k')).map((e) => e.event.amount)).toEqual([5, 1, 2, 4, 5]);
      expect((await replayEntity(def, { log }, 'k', { useSnapshot: false })).state).toEqual({
        balance: 17,
        ops: 5,
      });
      await expect(
        second
          .virtual<Proto>('account', 'k')
          .ask({ type: 'command', command: { kind: 'deposit', amount: 1 }, id: '' }),
      ).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
      expect(() => defineEventSourced({ ...def, dedupeWindow: 0 })).toThrow(/dedupeWindow/);
    } finally {
      await second.drain();
    }
  });
});
