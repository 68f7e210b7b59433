// Durable reminders on a real nats-server (NATS KV, durable virtual actors): a reminder set by a node process
// that is then SIGKILLed fires on another node; an occurrence claimed by a node SIGKILLed before it delivered
// fires after the lease; two nodes fire each occurrence once; a repeating reminder keeps firing across a
// nats-server restart; cancel stops it.

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ActorSystem, createSystem, defineActor, type KeyValueStore } from '../../runtime/index.js';
import { type ServerProcess, startNats } from '../../testing/index.js';
import { natsKeyValue, natsTransport } from '../../transport/index.js';
import { type ReminderMessage, type Reminders, reminders } from '../../workflows/triggers/index.js';
import { until } from '../helpers/fixtures.js';

let nats: ServerProcess;
beforeAll(async () => {
  nats = await startNats();
});
afterAll(async () => {
  await nats?.stop();
});

const FIXTURE = fileURLToPath(new URL('./fixtures/reminder-node.mjs', import.meta.url));
const CLUSTER = { heartbeatMs: 100, failureTimeoutMs: 600, moveIntervalMs: 50, moveBatch: 4, shards: 4 };

interface NodeProcess {
  child: ChildProcess;
  out: string[];
}

const children: NodeProcess[] = [];
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  await Promise.all(children.splice(0).map((n) => kill(n)));
});

function startChild(env: Record<string, string>, ready = 'READY'): Promise<NodeProcess> {
  const child = spawn(process.execPath, [FIXTURE], {
    env: { ...process.env, NATS_URL: nats.url, TROUPE_LOG_LEVEL: 'error', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const out: string[] = [];
  child.stdout?.on('data', (d: Buffer) => out.push(...d.toString().split('\n').filter(Boolean)));
  const n = { child, out };
  children.push(n);
  return until(() => out.includes(ready), 15_000, `${env.NODE_ID} ${ready}`).then(() => n);
}

function kill(n: NodeProcess): Promise<void> {
  if (n.child.exitCode !== null || n.child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    n.child.once('exit', () => resolve());
    n.child.kill('SIGKILL');
  });
}

/** A node in this process: the durable `inbox` type, collecting what reaches it, and a reminder service. */
async function node(ns: string, nodeId: string, leaseMs = 2000) {
  const system: ActorSystem = await createSystem({
    nodeId,
    transport: natsTransport({ servers: nats.url, namespace: ns, cluster: CLUSTER }),
  });
  const got: ReminderMessage[] = [];
  system.register(
    'inbox',
    defineActor<{ ping: Record<string, unknown> }>({
      handlers: { ping: (m) => void got.push(m as unknown as ReminderMessage) },
    }),
    { durable: true },
  );
  const kv: KeyValueStore = await natsKeyValue({ transport: system.transport, namespace: ns });
  const service: Reminders = reminders({ system, kv, leaseMs });
  cleanups.push(async () => {
    await service.close();
    await system.close();
  });
  return { system, kv, service, got };
}

const occurrences = (got: ReminderMessage[]) => got.map((m) => m.reminder.occurrence);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('reminders on NATS', () => {
  it('a reminder fires after the node that set it was SIGKILLed', async () => {
    const ns = `rk${randomBytes(3).toString('hex')}`;
    const doomed = await startChild({ NS: ns, NODE_ID: 'doomed', SET: 'wake:2500' });
    expect(doomed.out).toContain('SET');
    await kill(doomed);
    expect(doomed.child.signalCode).toBe('SIGKILL');
    const survivor = await node(ns, 'survivor');
    await until(() => survivor.got.length === 1, 15_000, 'the reminder');
    expect(survivor.got[0]).toMatchObject({ type: 'ping', reminder: { name: 'wake' } });
    expect(doomed.out.filter((l) => l.startsWith('GOT'))).toEqual([]);
    await sleep(1500);
    expect(survivor.got).toHaveLength(1); // once
    expect(await survivor.service.list('$v/inbox/r1')).toEqual([]);
  }, 40_000);

  it('an occurrence claimed by a node SIGKILLed before delivering fires after the lease, once', async () => {
    const ns = `rc${randomBytes(3).toString('hex')}`;
    const doomed = await startChild({
      NS: ns,
      NODE_ID: 'claimer',
      SET: 'wake:300',
      HANG: '1',
      LEASE_MS: '2500',
    });
    await until(() => doomed.out.some((l) => l.startsWith('CLAIMED')), 10_000, 'the claim');
    const claimedAt = Date.now();
    await kill(doomed);
    const survivor = await node(ns, 'survivor');
    await until(() => survivor.got.length === 1, 15_000, 'the reminder');
    // Not before the claim's lease ended: the claim held while it was valid.
    expect(Date.now() - claimedAt).toBeGreaterThanOrEqual(2000);
    const claimed = doomed.out.find((l) => l.startsWith('CLAIMED'))?.slice('CLAIMED '.length);
    expect(occurrences(survivor.got)).toEqual([claimed]);
    await sleep(1000);
    expect(survivor.got).toHaveLength(1);
  }, 40_000);

  it('two nodes running the service fire each occurrence of a repeating reminder once', async () => {
    const ns = `r2${randomBytes(3).toString('hex')}`;
    const a = await node(ns, 'a');
    const b = await node(ns, 'b');
    await sleep(500); // both see each other, shards settled
    for (let i = 0; i < 3; i++)
      await a.service.set(`$v/inbox/t${i}`, `tick${i}`, { every: 300 }, { type: 'ping' });
    await sleep(3000);
    for (let i = 0; i < 3; i++) await b.service.cancel(`$v/inbox/t${i}`, `tick${i}`);
    await sleep(800);
    const all = occurrences([...a.got, ...b.got]);
    expect(all.length).toBeGreaterThanOrEqual(3 * 7);
    // Each occurrence reached its actor once, and the services fired no more than arrived (a second firing
    // would count here even if the durable store deduplicated the message).
    expect(new Set(all).size).toBe(all.length);
    expect(a.service.delivered + b.service.delivered).toBe(all.length);
    // Both nodes took part.
    expect(a.service.delivered).toBeGreaterThan(0);
    expect(b.service.delivered).toBeGreaterThan(0);
  }, 40_000);

  it('a repeating reminder keeps firing across a nats-server restart; cancel stops it', async () => {
    const ns = `rr${randomBytes(3).toString('hex')}`;
    const n = await node(ns, 'n');
    await n.service.set('$v/inbox/r', 'tick', { every: 250 }, { type: 'ping' });
    await until(() => n.got.length >= 3, 10_000, 'three firings');
    await nats.restart(500);
    const after = n.got.length;
    await until(() => new Set(occurrences(n.got)).size >= after + 4, 20_000, 'firings after the restart');
    // Occurrences stay on the grid, in order (at least once: a repeat is the same occurrence).
    const due = [...new Set(n.got.map((m) => m.reminder.dueAt))];
    expect(due).toEqual([...due].sort((x, y) => x - y));
    expect(await n.service.cancel('$v/inbox/r', 'tick')).toBe(true);
    await sleep(300);
    const stopped = n.got.length;
    await sleep(1000);
    expect(n.got.length).toBe(stopped);
    expect(await n.service.list('$v/inbox/r')).toEqual([]);
  }, 60_000);
});
