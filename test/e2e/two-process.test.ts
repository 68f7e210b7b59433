// Two OS processes on one real nats-server: tell and ask both ways, graceful exit, and a peer killed outright.

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type ActorSystem,
  createSystem,
  defineActor,
  ErrorCode,
  type Reply,
  TroupeError,
} from '../../runtime/index.js';
import { type ServerProcess, startNats } from '../../testing/index.js';
import { natsTransport } from '../../transport/index.js';
import { until } from '../helpers/fixtures.js';

type Remote = {
  rec: { n: number };
  list: Reply<number[]>;
  ping: Reply<string>;
  blast: { count: number } & Reply<number>;
};

const script = fileURLToPath(new URL('./fixtures/remote-node.mjs', import.meta.url));

let nats: ServerProcess;
beforeAll(async () => {
  nats = await startNats({ jetstream: false });
});
afterAll(() => nats.stop());

let child: ChildProcess | undefined;
let system: ActorSystem | undefined;
afterEach(async () => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  child = undefined;
  await system?.close();
  system = undefined;
});

async function startRemote(namespace: string): Promise<ChildProcess> {
  const proc = spawn(process.execPath, [script, nats.url, namespace, 'parent/inbox'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  await new Promise<void>((resolve, reject) => {
    proc.stdout?.on('data', (c: Buffer) => {
      if (c.toString().includes('ready')) resolve();
    });
    proc.once('exit', (code) => reject(new Error(`remote node exited early (${code}): ${stderr}`)));
  });
  return proc;
}

describe('two processes over NATS', () => {
  it('tells and asks in both directions, in order, and the remote drains on SIGTERM', async () => {
    const namespace = `e2e${randomBytes(3).toString('hex')}`;
    const seen: number[] = [];
    const senders = new Set<string>();
    system = await createSystem({
      nodeId: 'parent',
      transport: natsTransport({ servers: nats.url, namespace }),
    });
    system.spawn(
      defineActor<{ rec: { n: number } }, undefined>({
        handlers: {
          rec: (m, ctx) => {
            seen.push(m.n);
            if (ctx.sender) senders.add(ctx.sender.address);
          },
        },
      }),
      { name: 'inbox' },
    );
    child = await startRemote(namespace);
    const remote = system.ref<Remote>('remote/rec');

    expect(await remote.ask({ type: 'ping' })).toBe(`pong from ${child.pid}`);
    for (let n = 0; n < 1000; n++) remote.tell({ type: 'rec', n });
    expect(await remote.ask({ type: 'list' })).toEqual(Array.from({ length: 1000 }, (_, i) => i));

    expect(await remote.ask({ type: 'blast', count: 500 })).toBe(500);
    await until(() => seen.length === 500, 10_000, '500 messages from the remote process');
    expect(seen).toEqual(Array.from({ length: 500 }, (_, i) => i));
    expect([...senders]).toEqual(['remote/rec']);

    const exited = new Promise<number | null>((resolve) => child?.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('survives a peer killed with SIGKILL: asks fail with a clear error, the node keeps working', async () => {
    const namespace = `e2e${randomBytes(3).toString('hex')}`;
    system = await createSystem({
      nodeId: 'parent',
      transport: natsTransport({ servers: nats.url, namespace }),
    });
    const local = system.spawn(
      defineActor<{ ping: Reply<string> }, undefined>({ handlers: { ping: () => 'local pong' } }),
    );
    child = await startRemote(namespace);
    const remote = system.ref<Remote>('remote/rec');
    expect(await remote.ask({ type: 'ping' })).toMatch(/^pong/);
    const exited = new Promise<void>((resolve) => child?.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
    let err: unknown;
    for (let i = 0; i < 20 && !TroupeError.is(err, ErrorCode.NoResponders); i++) {
      err = await remote.ask({ type: 'ping' }, { timeout: 250 }).catch((e: unknown) => e);
    }
    expect(TroupeError.is(err, ErrorCode.NoResponders)).toBe(true);
    expect(await local.ask({ type: 'ping' })).toBe('local pong');
  });
});
