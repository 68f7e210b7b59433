// Event-sourced entities under faults: the node process hosting a durable entity SIGKILLs itself right after an
// append was stored (before the answer and the durable ack) while commands flow, and the entity is re-activated
// on another node: no answered command's events are lost or stored twice, and the state replayed from the stream
// equals the live state. Then a nats-server restart while commands flow: every command settles, ok or coded.

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ActorSystem,
  createSystem,
  defineVirtual,
  memoryAppendLog,
  TroupeError,
} from '../../runtime/index.js';
import { type ServerProcess, startNats } from '../../testing/index.js';
import { natsAppendLog, natsKeyValue, natsTransport } from '../../transport/index.js';
import {
  type CommandResult,
  defineEventSourced,
  type EventSourcedProtocol,
  entityKey,
  eventSourcedActor,
  replayEntity,
} from '../../workflows/events/index.js';
import { until } from '../helpers/fixtures.js';

type Account = { balance: number; ops: number };
type Command = { kind: 'deposit'; amount: number } | { kind: 'withdraw'; amount: number };
type Event = { kind: 'deposited'; amount: number } | { kind: 'withdrew'; amount: number };
type Proto = EventSourcedProtocol<Account, Command, Event>;

// The same entity as the fixture's (test/integration/fixtures/es-node.mjs), to replay its stream here.
const account = defineEventSourced<Account, Command, Event>({
  type: 'account',
  initial: { balance: 0, ops: 0 },
  decide: (state, c) => {
    if (c.kind === 'withdraw' && c.amount > state.balance)
      throw new TroupeError('INSUFFICIENT_FUNDS', 'insufficient funds');
    return [
      c.kind === 'deposit' ? { kind: 'deposited', amount: c.amount } : { kind: 'withdrew', amount: c.amount },
    ];
  },
  apply: (state, e) => ({
    balance: state.balance + (e.kind === 'deposited' ? e.amount : -e.amount),
    ops: state.ops + 1,
  }),
  snapshotEvery: 5,
});

const CLUSTER = { heartbeatMs: 100, failureTimeoutMs: 600, moveIntervalMs: 50, moveBatch: 4, shards: 4 };
const FIXTURE = fileURLToPath(new URL('./fixtures/es-node.mjs', import.meta.url));
const rand = (prefix: string): string => `${prefix}${randomBytes(3).toString('hex')}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sumTo = (n: number) => (n * (n + 1)) / 2;

let nats: ServerProcess;
beforeAll(async () => {
  nats = await startNats();
});
afterAll(() => nats.stop());

interface NodeProcess {
  child: ChildProcess;
  out: string[];
}

function startNode(env: Record<string, string>): Promise<NodeProcess> {
  const child = spawn(process.execPath, [FIXTURE], {
    env: { ...process.env, NATS_URL: nats.url, TROUPE_LOG_LEVEL: 'error', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const out: string[] = [];
  child.stdout?.on('data', (d: Buffer) => out.push(...d.toString().split('\n').filter(Boolean)));
  return until(() => out.includes('READY'), 20_000, `node ${env.NODE_ID} ready`).then(() => ({ child, out }));
}

function stopNode(n: NodeProcess): Promise<void> {
  if (n.child.exitCode !== null || n.child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    n.child.once('exit', () => resolve());
    n.child.kill('SIGKILL');
  });
}

const idOf = (data: string): string => (JSON.parse(data) as { id: string }).id;

describe('an event-sourced entity whose node is SIGKILLed', () => {
  it('is re-activated on another node: no answered command lost or doubled, replay equals live state', async () => {
    const ns = rand('es');
    const env = { NS: ns, LOG: 'events', BUCKET: `snap-${ns}` };
    const nodes: NodeProcess[] = [];
    let client: ActorSystem | undefined;
    const log = await natsAppendLog({ servers: nats.url, name: 'events', namespace: ns });
    const kv = await natsKeyValue({ servers: nats.url, bucket: `snap-${ns}` });
    try {
      const doomed = await startNode({ ...env, NODE_ID: 'doomed', DIE_AFTER_APPENDS: '25' });
      nodes.push(doomed);
      client = await createSystem({
        nodeId: rand('client'),
        transport: natsTransport({ servers: nats.url, namespace: ns, cluster: CLUSTER }),
      });
      // The sender declares the type durable: its mail is stored in JetStream even while no node hosts it.
      const type = defineVirtual('account', eventSourcedActor(account, { log: memoryAppendLog() }), {
        durable: true,
      });
      const c = client;
      const N = 20;
      const entities = ['e0', 'e1', 'e2'];
      const answers = new Map<string, CommandResult<Account, Event>>();
      const failures: string[] = [];
      // Each entity gets N deposits in order; a command that got no answer is sent again with the same id.
      const flow = async (entity: string) => {
        for (let i = 1; i <= N; i++) {
          const id = `${entity}-${i}`;
          const deadline = Date.now() + 30_000;
          for (;;) {
            try {
              const r = await c
                .virtual<Proto>(type, entity)
                .ask({ type: 'command', command: { kind: 'deposit', amount: i }, id }, { timeout: 6000 });
              answers.set(id, r);
              break;
            } catch (err) {
              failures.push(TroupeError.is(err) ? err.code : String(err));
              if (Date.now() > deadline) throw err;
              await sleep(100);
            }
          }
        }
      };
      const flows = Promise.all(entities.map(flow));
      await until(() => doomed.child.signalCode === 'SIGKILL', 30_000, 'the node to kill itself');
      const dying = doomed.out.find((l) => l.startsWith('DYING after '))?.slice('DYING after '.length);
      expect(dying).toMatch(/^e\d-\d+$/);
      const heir = await startNode({ ...env, NODE_ID: 'heir' });
      nodes.push(heir);
      await flows;

      expect(answers.size).toBe(entities.length * N);
      // The command whose events were stored just before the crash was handled again (durable redelivery or
      // the client's retry) and answered from its record, not stored twice.
      expect(answers.get(dying as string)).toMatchObject({ duplicate: true });
      expect(doomed.out.filter((l) => l === 'DECIDE').length).toBeGreaterThanOrEqual(25);
      expect(heir.out.filter((l) => l === 'DECIDE').length).toBeGreaterThan(0);
      for (const entity of entities) {
        const records = await log.read(entityKey('account', entity));
        // Every answered command once, in order: none lost, none doubled.
        expect(records.map((r) => idOf(r.data))).toEqual(
          Array.from({ length: N }, (_, i) => `${entity}-${i + 1}`),
        );
        const full = await replayEntity(account, { log }, entity, { useSnapshot: false });
        expect(full.state).toEqual({ balance: sumTo(N), ops: N });
        const live = await c.virtual<Proto>(type, entity).ask({ type: 'state' }, { timeout: 6000 });
        expect(live).toEqual({ state: full.state, seq: full.seq });
        const fromSnapshot = await replayEntity(account, { log, snapshots: kv }, entity);
        expect(fromSnapshot.state).toEqual(full.state);
        expect([...fromSnapshot.ids.keys()]).toEqual([...full.ids.keys()]);
      }
      for (const code of failures) expect(code).toMatch(/^[A-Z][A-Z_]+$/);
    } finally {
      await client?.close();
      await Promise.all(nodes.map(stopNode));
      await kv.close();
      await log.close();
    }
  }, 60_000);
});

describe('an event-sourced entity across a nats-server restart', () => {
  it('settles every command (ok or a coded error) and replays to its live state', async () => {
    const server = await startNats();
    const ns = rand('rs');
    const transport = () =>
      natsTransport({ servers: server.url, namespace: ns, cluster: { ...CLUSTER, failureTimeoutMs: 5000 } });
    const host = await createSystem({ nodeId: rand('host'), transport: transport() });
    const log = await natsAppendLog({ servers: server.url, name: 'events', namespace: ns, opTimeoutMs: 500 });
    const kv = await natsKeyValue({ servers: server.url, bucket: `snap-${ns}` });
    host.register('account', eventSourcedActor(account, { log, snapshots: kv }), { passivateAfterMs: 0 });
    const client = await createSystem({ nodeId: rand('client'), transport: transport() });
    try {
      const entities = ['r0', 'r1', 'r2'];
      const ok = new Map<string, string[]>(entities.map((e) => [e, []]));
      const codes: string[] = [];
      let settled = 0;
      let sent = 0;
      let phase: 'before' | 'during' | 'after' = 'before';
      const okAfter = new Map<string, number>(entities.map((e) => [e, 0]));
      const flow = async (entity: string) => {
        for (let i = 1; phase !== 'after' || (okAfter.get(entity) ?? 0) < 5; i++) {
          const id = `${entity}-${i}`;
          sent++;
          try {
            await client
              .virtual<Proto>('account', entity)
              .ask({ type: 'command', command: { kind: 'deposit', amount: 1 }, id }, { timeout: 2000 });
            ok.get(entity)?.push(id);
            if (phase === 'after') okAfter.set(entity, (okAfter.get(entity) ?? 0) + 1);
          } catch (err) {
            codes.push(TroupeError.is(err) ? err.code : `UNCODED ${String(err)}`);
            await sleep(100);
          }
          settled++;
          if (i > 400) throw new Error(`entity ${entity} made no progress after the restart`);
        }
      };
      const flows = Promise.all(entities.map(flow));
      await until(() => [...ok.values()].every((ids) => ids.length >= 3), 10_000, 'commands flowing');
      phase = 'during';
      await server.restart(1500);
      phase = 'after';
      await flows;

      expect(settled).toBe(sent);
      expect(codes.length).toBeGreaterThan(0); // the outage was felt
      for (const code of codes) expect(code).toMatch(/^[A-Z][A-Z_]+$/);
      for (const entity of entities) {
        const records = await log.read(entityKey('account', entity));
        const stored = records.map((r) => idOf(r.data));
        expect(new Set(stored).size).toBe(stored.length); // no command stored twice
        for (const id of ok.get(entity) ?? []) expect(stored).toContain(id); // no answered command lost
        const full = await replayEntity(account, { log }, entity, { useSnapshot: false });
        expect(full.state).toEqual({ balance: stored.length, ops: stored.length });
        const live = await client.virtual<Proto>('account', entity).ask({ type: 'state' }, { timeout: 5000 });
        expect(live).toEqual({ state: full.state, seq: full.seq });
        expect((await replayEntity(account, { log, snapshots: kv }, entity)).state).toEqual(full.state);
      }
    } finally {
      await client.close();
      await host.close();
      await kv.close();
      await log.close();
      await server.stop();
    }
  }, 60_000);
});
