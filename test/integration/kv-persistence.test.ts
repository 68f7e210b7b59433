// natsKvPersistence given a NATS URL or a transport, with no reaching into the transport for its connection.

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSystem, defineActor, type Reply } from '../../runtime/index.js';
import { type ServerProcess, startNats } from '../../testing/index.js';
import { localTransport, natsKvPersistence, natsTransport } from '../../transport/index.js';

type Tally = { add: { n: number }; total: Reply<number> };
const tally = {
  init: () => ({ total: 0 }),
  handlers: {
    add: (m: { n: number }, ctx: { state: { total: number } }) => {
      ctx.state.total += m.n;
    },
    total: (_m: unknown, ctx: { state: { total: number } }) => ctx.state.total,
  },
};

let nats: ServerProcess;
beforeAll(async () => {
  nats = await startNats();
});
afterAll(() => nats.stop());

const name = (prefix: string): string => `${prefix}${randomBytes(3).toString('hex')}`;

describe('natsKvPersistence', () => {
  it('keeps state on a connection of its own from a URL, and on a transport given before it was bound', async () => {
    const ns = name('kv');
    const bucket = name('b');
    const own = await natsKvPersistence<{ total: number }>({ servers: nats.url, bucket });
    const first = await createSystem({
      nodeId: 'one',
      transport: natsTransport({ servers: nats.url, namespace: ns }),
    });
    first.register('tally', defineActor<Tally, { total: number }>({ ...tally, persistence: own }), {
      passivateAfterMs: 0,
    });
    const a = first.virtual<Tally>('tally', 'a');
    a.tell({ type: 'add', n: 2 });
    a.tell({ type: 'add', n: 5 });
    expect(await a.ask({ type: 'total' })).toBe(7);
    await first.drain();
    await own.close();
    await own.close();

    // The common order in a program: the transport, then the persistence, then the system that binds it.
    const transport = natsTransport({ servers: nats.url, namespace: ns });
    const shared = await natsKvPersistence<{ total: number }>({ transport, bucket });
    await using second = await createSystem({ nodeId: 'two', transport });
    second.register('tally', defineActor<Tally, { total: number }>({ ...tally, persistence: shared }), {
      passivateAfterMs: 0,
    });
    expect(await second.virtual<Tally>('tally', 'a').ask({ type: 'total' })).toBe(7);
    expect(await second.virtual<Tally>('tally', 'b').ask({ type: 'total' })).toBe(0);

    // The bound transport's form, as an actors module's start(system) uses it; remove() clears an actor.
    const bound = await natsKvPersistence<{ total: number }>({ transport: second.transport, bucket });
    const ctx = { self: { address: '$v/tally/a' } };
    expect(await bound.load(ctx)).toEqual({ total: 7 });
    await bound.remove('$v/tally/a');
    expect(await bound.load(ctx)).toBeUndefined();
  });

  it('rejects with a code when it cannot tell where the state lives or cannot get there', async () => {
    const reject = (options: unknown): Promise<unknown> =>
      natsKvPersistence(options as never).then(
        () => 'resolved',
        (err: { code?: string; message: string }) => `${err.code}: ${err.message}`,
      );
    expect(await reject({})).toMatch(/^INVALID_OPTIONS: .*exactly one of transport/);
    expect(await reject({ servers: nats.url, transport: natsTransport() })).toMatch(/^INVALID_OPTIONS/);
    expect(await reject({ transport: undefined })).toMatch(/^INVALID_OPTIONS: .*without one/);
    expect(await reject({ transport: localTransport() })).toMatch(/^INVALID_OPTIONS: .*a local transport/);
    expect(await reject({ servers: [] })).toMatch(/^INVALID_OPTIONS: invalid option servers/);
    expect(await reject({ servers: nats.url, replicas: 0 })).toMatch(
      /^INVALID_OPTIONS: invalid option replicas/,
    );
    expect(await reject({ servers: 'nats://127.0.0.1:1' })).toMatch(
      /^TRANSPORT_CONNECT_FAILED: cannot connect to NATS at nats:\/\/127\.0\.0\.1:1/,
    );
    // A transport no system has bound yet: the state cannot load until one does.
    const unbound = await natsKvPersistence({ transport: natsTransport({ servers: nats.url }) });
    await expect(unbound.load({ self: { address: 'x/y' } })).rejects.toMatchObject({
      code: 'TRANSPORT_NOT_BOUND',
    });
  });
});
