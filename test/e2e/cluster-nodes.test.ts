// Three `troupe node` processes on one nats-server, a fourth process (this one) using their virtual actors:
// SIGKILL under a steady durable stream, a node joining later, and a graceful SIGTERM drain.

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ActorSystem, createSystem, type Reply } from '../../runtime/index.js';
import { type ServerProcess, startNats } from '../../testing/index.js';
import { type NatsTransport, natsTransport } from '../../transport/index.js';
import { until } from '../helpers/fixtures.js';

type Ledger = { add: { n: number }; seen: Reply<number[]>; where: Reply<string> };

const bin = fileURLToPath(new URL('../../bin/troupe.js', import.meta.url));
const actors = fileURLToPath(new URL('./fixtures/ledger-actors.mjs', import.meta.url));

let nats: ServerProcess;
beforeAll(async () => {
  nats = await startNats();
});
afterAll(() => nats.stop());

const nodes = new Map<string, ChildProcess>();
let client: ActorSystem | undefined;
afterEach(async () => {
  for (const proc of nodes.values())
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  nodes.clear();
  await client?.close();
  client = undefined;
});

async function startNode(id: string, ns: string): Promise<ChildProcess> {
  const proc = spawn(
    process.execPath,
    [bin, 'node', '--nats', nats.url, '--namespace', ns, '--node-id', id, '--actors', actors],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TROUPE_TEST_NS: ns } },
  );
  let output = '';
  proc.stderr?.on('data', (c: Buffer) => {
    output += c.toString();
  });
  await new Promise<void>((resolve, reject) => {
    proc.stdout?.on('data', (c: Buffer) => {
      output += c.toString();
      if (output.includes(`actors on NATS as ${id}`)) resolve();
    });
    proc.once('exit', (code) => reject(new Error(`node ${id} exited (${code}): ${output}`)));
  });
  nodes.set(id, proc);
  return proc;
}

const firstOccurrences = (list: number[]): number[] => [...new Set(list)];

describe('a fleet of troupe node processes', () => {
  it('keeps every acknowledged message through a SIGKILL, spreads to a late node, and drains on SIGTERM', async () => {
    const ns = `e${randomBytes(3).toString('hex')}`;
    await Promise.all(['n1', 'n2', 'n3'].map((id) => startNode(id, ns)));
    const transport: NatsTransport = natsTransport({ servers: nats.url, namespace: ns });
    client = await createSystem({ nodeId: 'client', transport });
    const system = client;
    await until(
      () => transport.members().filter((m) => m.durable.includes('ledger')).length === 3,
      15_000,
      'three hosts',
    );
    const ledger = (id: string) => system.virtual<Ledger>('ledger', id);

    // A steady stream of durable messages to 12 actors; count what was acknowledged.
    const ids = Array.from({ length: 12 }, (_, i) => `acct${i}`);
    const acknowledged = new Map<string, number>(ids.map((id) => [id, 0]));
    let stop = false;
    const stream = (async () => {
      // About 1,200 messages a second, for as long as the test runs (bounded: at most 5,000 rounds).
      for (let n = 1; !stop && n <= 5000; n++) {
        await new Promise((r) => setTimeout(r, 10));
        await Promise.all(
          ids.map(async (id) => {
            // A send that fails (a timeout under load) is retried with the same id: the store keeps one copy.
            for (let attempt = 0; ; attempt++) {
              try {
                await ledger(id).send({ type: 'add', n }, { messageId: `${id}-${n}` });
                break;
              } catch (err) {
                if (attempt >= 5) throw err;
              }
            }
            acknowledged.set(id, n);
          }),
        );
      }
    })();
    await until(() => Math.min(...acknowledged.values()) >= 20, 20_000, 'stream under way');

    // SIGKILL the node hosting acct0, mid-stream.
    const victim = await ledger('acct0').ask({ type: 'where' }, { timeout: 10_000 });
    const killed = nodes.get(victim)!;
    const exited = new Promise<void>((resolve) => killed.once('exit', () => resolve()));
    killed.kill('SIGKILL');
    await exited;
    nodes.delete(victim);
    // acct0 comes back on a survivor (with its state: checked with the counts below).
    let where = victim;
    for (let i = 0; i < 60 && where === victim; i++) {
      where = await ledger('acct0')
        .ask({ type: 'where' }, { timeout: 2000 })
        .catch(() => victim);
      if (where === victim) await new Promise((r) => setTimeout(r, 250));
    }
    expect(['n1', 'n2', 'n3'].filter((n) => n !== victim)).toContain(where);
    const before = Math.min(...acknowledged.values());
    await until(() => Math.min(...acknowledged.values()) >= before + 20, 20_000, 'stream goes on');

    // A node that joins later takes a share of new activations.
    await startNode('n4', ns);
    await until(
      () => transport.members().some((m) => m.id === 'n4' && m.durable.includes('ledger')),
      10_000,
      'n4 joined',
    );
    // Shards move to it in bounded batches; then new ids land there too.
    let onN4 = 0;
    for (let round = 0; round < 20 && onN4 === 0; round++) {
      const fresh = Array.from({ length: 30 }, (_, i) => `new${round}x${i}`);
      const placed = await Promise.all(
        fresh.map((id) => ledger(id).ask({ type: 'where' }, { timeout: 10_000 })),
      );
      onN4 = placed.filter((w) => w === 'n4').length;
      if (onN4 === 0) await new Promise((r) => setTimeout(r, 250));
    }
    expect(onN4).toBeGreaterThan(0);

    // SIGTERM: the node hands its actors over and exits 0.
    const leaving = ['n1', 'n2', 'n3'].find((n) => n !== victim)!;
    const proc = nodes.get(leaving)!;
    const code = new Promise<number | null>((resolve) => proc.once('exit', (c) => resolve(c)));
    proc.kill('SIGTERM');
    expect(await code).toBe(0);
    nodes.delete(leaving);

    stop = true;
    await stream;
    // Every acknowledged message was processed, in order per actor (repeats are allowed: at least once).
    for (const id of ids) {
      const want = acknowledged.get(id)!;
      let seen: number[] = [];
      for (let i = 0; i < 80 && firstOccurrences(seen).length < want; i++) {
        seen = await ledger(id)
          .ask({ type: 'seen' }, { timeout: 2000 })
          .catch(() => seen);
        if (firstOccurrences(seen).length < want) await new Promise((r) => setTimeout(r, 250));
      }
      expect(firstOccurrences(seen).slice(0, want)).toEqual(Array.from({ length: want }, (_, i) => i + 1));
    }
  });
});
