// One conformance suite, run against every transport: local and NATS must behave the same.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type ActorSystem,
  defineActor,
  ErrorCode,
  leastLoadedPlacement,
  type Replier,
  type Reply,
  TroupeError,
} from '../../runtime/index.js';
import { createCodec, type NatsTransport } from '../../transport/index.js';
import { makeWorld, type NatsServerRef, startSharedNats, until, type World } from '../helpers/fixtures.js';

type Recorder = {
  rec: { n: number; from?: string };
  list: Reply<number[]>;
  bySender: Reply<Record<string, number[]>>;
  echo: { value: unknown } & Reply<unknown>;
  hang: Reply<string>;
  release: Reply<number>;
  big: { size: number } & Reply<string>;
  boom: Reply<number>;
};

const recorder = defineActor<
  Recorder,
  { seen: number[]; bySender: Record<string, number[]>; parked: Replier<string>[] }
>({
  type: 'recorder',
  init: () => ({ seen: [], bySender: {}, parked: [] }),
  handlers: {
    rec: (msg, ctx) => {
      ctx.state.seen.push(msg.n);
      if (msg.from !== undefined) {
        const list = ctx.state.bySender[msg.from] ?? [];
        list.push(msg.n);
        ctx.state.bySender[msg.from] = list;
      }
    },
    list: (_msg, ctx) => ctx.state.seen,
    bySender: (_msg, ctx) => ctx.state.bySender,
    echo: (msg) => msg.value,
    hang: (_msg, ctx) => {
      const replier = ctx.deferReply();
      if (replier) ctx.state.parked.push(replier);
    },
    release: (_msg, ctx) => {
      for (const r of ctx.state.parked) r.reply('late');
      const n = ctx.state.parked.length;
      ctx.state.parked = [];
      return n;
    },
    big: (msg) => 'x'.repeat(msg.size),
    boom: () => {
      throw new Error('kaboom');
    },
  },
});

const nats: NatsServerRef = { server: undefined };
beforeAll(() => startSharedNats(nats));
afterAll(() => nats.server?.stop());

describe.each(['local', 'nats'] as const)('conformance over %s', (kind) => {
  let world: World;
  let a: ActorSystem;
  let b: ActorSystem;

  afterEach(async () => {
    await world.dispose();
  });

  async function twoNodes(options: { aMax?: number; bMax?: number } = {}): Promise<void> {
    world = makeWorld(kind, nats);
    a = await world.node('a', options.aMax === undefined ? {} : { maxFrameBytes: options.aMax });
    b = await world.node('b', options.bMax === undefined ? {} : { maxFrameBytes: options.bMax });
  }

  it('delivers tells from one node to an actor on another in the order sent', async () => {
    await twoNodes();
    const local = b.spawn(recorder, { name: 'rec' });
    const remote = a.ref<Recorder>(local.address);
    for (let n = 0; n < 2000; n++) remote.tell({ type: 'rec', n });
    await until(
      () => b.inspect().find((i) => i.address === 'b/rec')?.processed === 2000,
      10_000,
      '2000 messages',
    );
    const seen = await remote.ask({ type: 'list' });
    expect(seen).toEqual(Array.from({ length: 2000 }, (_, i) => i));
  });

  it('keeps per-sender order when several senders interleave', async () => {
    await twoNodes();
    b.spawn(recorder, { name: 'rec' });
    const c = await world.node('c');
    const fromA = a.ref<Recorder>('b/rec');
    const fromC = c.ref<Recorder>('b/rec');
    const fromB = b.ref<Recorder>('b/rec');
    for (let n = 0; n < 500; n++) {
      fromA.tell({ type: 'rec', n, from: 'a' });
      fromC.tell({ type: 'rec', n, from: 'c' });
      fromB.tell({ type: 'rec', n, from: 'b' });
    }
    // Senders on other connections arrive in their own time: wait for all 1500 before judging the order.
    await until(
      () => (b.inspect().find((i) => i.address === 'b/rec')?.processed ?? 0) >= 1500,
      10_000,
      '1500 messages',
    );
    const all = await fromA.ask({ type: 'list' }, { timeout: 10_000 });
    expect(all).toHaveLength(1500);
    const expected = Array.from({ length: 500 }, (_, i) => i);
    expect(await fromA.ask({ type: 'bySender' })).toEqual({ a: expected, b: expected, c: expected });
  });

  it('answers asks across nodes with the value the handler returned, payload intact', async () => {
    await twoNodes();
    b.spawn(recorder, { name: 'rec' });
    const value = {
      text: 'héllo ✓',
      n: 42.5,
      big: 2 ** 40,
      list: [1, 'two', null, true],
      nested: { deep: { deeper: [{ x: 1 }] } },
      bytes: new Uint8Array([1, 2, 3]),
    };
    const reply = (await a.ref<Recorder>('b/rec').ask({ type: 'echo', value })) as typeof value;
    const { bytes, ...rest } = reply;
    const { bytes: sentBytes, ...sentRest } = value;
    expect(rest).toEqual(sentRest);
    expect(bytes).toBeInstanceOf(Uint8Array);
    expect([...bytes]).toEqual([...sentBytes]);
  });

  it('rejects an unanswered ask with ASK_TIMEOUT and dead-letters the late reply', async () => {
    await twoNodes();
    b.spawn(recorder, { name: 'rec' });
    const ref = a.ref<Recorder>('b/rec');
    const err = await ref.ask({ type: 'hang' }, { timeout: 150 }).catch((e: unknown) => e);
    expect(TroupeError.is(err, ErrorCode.AskTimeout)).toBe(true);
    expect(await ref.ask({ type: 'release' })).toBe(1);
    await until(() => a.deadLetters.byReason()[ErrorCode.LateReply] === 1, 5000, 'late reply dead letter');
  });

  it('cancels an ask through its AbortSignal, before and after sending', async () => {
    await twoNodes();
    b.spawn(recorder, { name: 'rec' });
    const ref = a.ref<Recorder>('b/rec');
    const controller = new AbortController();
    const pending = ref.ask({ type: 'hang' }, { signal: controller.signal, timeout: 10_000 });
    controller.abort();
    const err = await pending.catch((e: unknown) => e);
    expect(TroupeError.is(err, ErrorCode.AskAborted)).toBe(true);
    const pre = await ref.ask({ type: 'list' }, { signal: AbortSignal.abort() }).catch((e: unknown) => e);
    expect(TroupeError.is(pre, ErrorCode.AskAborted)).toBe(true);
  });

  it('dead-letters messages to unknown actors and unhandled types, and fails their asks fast', async () => {
    await twoNodes();
    b.spawn(recorder, { name: 'rec' });
    a.ref('b/nobody').tell({ type: 'rec', n: 1 });
    const notFound = await a
      .ref('b/nobody')
      .ask({ type: 'list' })
      .catch((e: unknown) => e);
    expect(TroupeError.is(notFound, ErrorCode.ActorNotFound)).toBe(true);
    a.ref('b/rec').tell({ type: 'no-such-type' });
    const unhandled = await a
      .ref('b/rec')
      .ask({ type: 'no-such-type' })
      .catch((e: unknown) => e);
    expect(TroupeError.is(unhandled, ErrorCode.Unhandled)).toBe(true);
    await until(() => (b.deadLetters.byReason()[ErrorCode.Unhandled] ?? 0) === 2, 5000, 'unhandled letters');
    expect(b.deadLetters.byReason()[ErrorCode.ActorNotFound]).toBe(2);
    const letter = b.deadLetters.recent().find((l) => l.reason === ErrorCode.ActorNotFound);
    expect(letter?.address).toBe('b/nobody');
    expect(letter?.message).toEqual({ type: 'rec', n: 1 });
  });

  it('turns a malformed frame into a dead letter and keeps the node working', async () => {
    await twoNodes();
    b.spawn(recorder, { name: 'rec' });
    // A truncated msgpack array, and a valid msgpack value that is no envelope.
    await world.injectFrame('b/rec', new Uint8Array([0xdc, 0xff]));
    await world.injectFrame('b/rec', createCodecFrame({ not: 'an envelope' }));
    await until(() => b.deadLetters.byReason()[ErrorCode.MalformedFrame] === 2, 5000, 'malformed letters');
    expect(b.deadLetters.recent()[0]?.address).toBe('b/rec');
    a.ref<Recorder>('b/rec').tell({ type: 'rec', n: 7 });
    expect(await a.ref<Recorder>('b/rec').ask({ type: 'list' })).toEqual([7]);
  });

  it('fails an ask whose error reply is malformed, without hanging or stopping the node', async () => {
    await twoNodes();
    b.spawn(recorder, { name: 'rec' });
    const ref = a.ref<Recorder>('b/rec');
    // The first ask of a fresh node has correlation id "0": forge its error reply with no error in it.
    const pending = ref.ask({ type: 'hang' }, { timeout: 10_000 }).catch((e: unknown) => e);
    await world.injectFrame(
      'a/$r/0',
      createCodec().encode({
        kind: 2,
        target: 'a/$r/0',
        sender: undefined,
        correlationId: '0',
        replyTo: undefined,
        deadline: undefined,
        headers: { 'troupe-error': '1' },
        payload: null,
      }),
    );
    expect(TroupeError.is(await pending, ErrorCode.MalformedFrame)).toBe(true);
    expect(await ref.ask({ type: 'echo', value: 'still here' })).toBe('still here');
  });

  it('does not hand a frame addressed to another node to a local actor with the same path', async () => {
    await twoNodes();
    b.spawn(recorder, { name: 'rec' });
    const forged = createCodec().encode({
      kind: 0,
      target: 'zz/rec',
      sender: undefined,
      correlationId: undefined,
      replyTo: undefined,
      deadline: undefined,
      headers: undefined,
      payload: { type: 'rec', n: 99 },
    });
    await world.injectFrame('b/rec', forged);
    await until(() => b.deadLetters.byReason()[ErrorCode.ActorNotFound] === 1, 5000, 'misrouted letter');
    expect(await a.ref<Recorder>('b/rec').ask({ type: 'list' })).toEqual([]);
  });

  it('refuses oversized payloads on send and on receipt with PAYLOAD_TOO_LARGE', async () => {
    await twoNodes({ aMax: 4096, bMax: 2048 });
    b.spawn(recorder, { name: 'rec' });
    const ref = a.ref<Recorder>('b/rec');
    expect(() => ref.tell({ type: 'echo', value: 'x'.repeat(10_000) })).toThrowError(
      expect.objectContaining({ code: ErrorCode.PayloadTooLarge }),
    );
    const askErr = await ref.ask({ type: 'echo', value: 'x'.repeat(10_000) }).catch((e: unknown) => e);
    expect(TroupeError.is(askErr, ErrorCode.PayloadTooLarge)).toBe(true);
    expect(a.deadLetters.byReason()[ErrorCode.PayloadTooLarge]).toBe(2);
    // Fits a's limit but not b's: b refuses it on arrival.
    ref.tell({ type: 'echo', value: 'y'.repeat(3000) });
    await until(
      () => b.deadLetters.byReason()[ErrorCode.PayloadTooLarge] === 1,
      5000,
      'inbound oversized letter',
    );
    // A reply too large for b to send fails the ask instead of letting it time out.
    const replyErr = await ref.ask({ type: 'big', size: 3000 }, { timeout: 5000 }).catch((e: unknown) => e);
    expect(TroupeError.is(replyErr, ErrorCode.PayloadTooLarge)).toBe(true);
  });

  it('fails asks to a vanished peer fast with NO_RESPONDERS and dead-letters tells to it', async () => {
    await twoNodes();
    b.spawn(recorder, { name: 'rec' });
    const ref = a.ref<Recorder>('b/rec');
    expect(await ref.ask({ type: 'echo', value: 1 })).toBe(1);
    await b.close();
    // The broker learns of the closed connection a moment later; asks in that window may time out instead.
    let err: unknown;
    for (let i = 0; i < 20 && !TroupeError.is(err, ErrorCode.NoResponders); i++) {
      err = await ref.ask({ type: 'list' }, { timeout: 250 }).catch((e: unknown) => e);
    }
    expect(TroupeError.is(err, ErrorCode.NoResponders)).toBe(true);
    const before = a.deadLetters.byReason()[ErrorCode.NoResponders] ?? 0;
    // Several tells in one turn travel as one NATS batch: each still becomes its own dead letter.
    for (let n = 0; n < 5; n++) ref.tell({ type: 'rec', n });
    await until(
      () => a.deadLetters.byReason()[ErrorCode.NoResponders] === before + 5,
      5000,
      'no-responders letter',
    );
    expect(a.deadLetters.recent().at(-1)?.address).toBe('b/rec');
  });

  it('reports a crashing handler to the asker and as a lifecycle event, and the node lives on', async () => {
    await twoNodes();
    const events: string[] = [];
    b.onLifecycle((e) => events.push(`${e.type}:${e.address}`));
    b.spawn(recorder, { name: 'rec' });
    const err = await a
      .ref<Recorder>('b/rec')
      .ask({ type: 'boom' })
      .catch((e: unknown) => e);
    expect(TroupeError.is(err, ErrorCode.ActorCrashed)).toBe(true);
    expect((err as Error).message).toContain('kaboom');
    await until(() => events.includes('stopped:b/rec'), 5000, 'stopped event');
    expect(events).toContain('failed:b/rec');
    expect(b.deadLetters.byReason()[ErrorCode.ActorCrashed]).toBe(1);
    b.spawn(recorder, { name: 'rec2' });
    expect(await a.ref<Recorder>('b/rec2').ask({ type: 'echo', value: 'alive' })).toBe('alive');
  });

  it('stops a remote actor on request and runs its cleanup', async () => {
    await twoNodes();
    let cleaned = 0;
    const withCleanup = defineActor<{ ping: Reply<string> }, undefined>({
      handlers: { ping: () => 'pong' },
      onStop: () => {
        cleaned++;
      },
    });
    b.spawn(withCleanup, { name: 'svc' });
    await a.stop(a.ref('b/svc'));
    expect(cleaned).toBe(1);
    expect(b.lookup('svc')).toBeUndefined();
    const err = await a
      .ref<{ ping: Reply<string> }>('b/svc')
      .ask({ type: 'ping' })
      .catch((e: unknown) => e);
    expect(TroupeError.is(err, ErrorCode.ActorNotFound)).toBe(true);
  });

  it('reaches virtual actors by type and id from a node that does not host them', async () => {
    await twoNodes();
    const c = await world.node('c');
    b.register('rec', recorder, { passivateAfterMs: 0 });
    c.register('rec', recorder, { passivateAfterMs: 0 });
    // Over NATS the hosts first agree on who holds which shard.
    await until(
      () =>
        kind === 'local' ||
        (b.transport as NatsTransport).ownedShards().length +
          (c.transport as NatsTransport).ownedShards().length ===
          64,
      10_000,
      'shards settle',
    );
    const ids = Array.from({ length: 40 }, (_, i) => `r${i}`);
    for (const id of ids) a.virtual<Recorder>('rec', id).tell({ type: 'rec', n: 1 });
    const lists = await Promise.all(ids.map((id) => a.virtual<Recorder>('rec', id).ask({ type: 'list' })));
    expect(lists.every((l) => l.length === 1 && l[0] === 1)).toBe(true);
    const hosted = [b, c].map((s) => s.inspect().filter((i) => i.address.startsWith('$v/rec/')).length);
    expect(hosted[0]! + hosted[1]!).toBe(40);
    expect(hosted.every((n) => n > 0)).toBe(true);
    expect(a.inspect()).toEqual([]);
  });

  it('spawns actors of a registered type on a named node or by placement, from another node', async () => {
    await twoNodes();
    const c = await world.node('c');
    b.register('rec', recorder);
    c.register('rec', recorder);
    for (let i = 0; i < 5; i++) c.spawn(recorder);
    await until(
      () => (a.transport?.members?.() ?? []).filter((m) => m.types.includes('rec')).length === 2,
      10_000,
      'hosts known',
    );
    const named = await a.spawnOn<Recorder>('b', 'rec', { name: 'made' });
    expect(named.address).toBe('b/made');
    expect(await named.ask({ type: 'echo', value: 'hi' })).toBe('hi');
    // c carries five more actors, so the least loaded host is b (load travels with heartbeats over NATS).
    await until(
      () => (a.transport?.members?.() ?? []).find((m) => m.id === 'c')?.load.actors === 5,
      10_000,
      'load figures',
    );
    const placed = await a.spawnOn<Recorder>(leastLoadedPlacement(), 'rec');
    expect(placed.address.startsWith('b/')).toBe(true);
    const missing = await a.spawnOn('b', 'nope').catch((e: unknown) => e);
    expect(TroupeError.is(missing, ErrorCode.ActorNotFound)).toBe(true);
    const taken = await a.spawnOn('b', 'rec', { name: 'made' }).catch((e: unknown) => e);
    expect(TroupeError.is(taken, ErrorCode.NameTaken)).toBe(true);
  });

  it('refuses a second node with the same id', async () => {
    await twoNodes();
    const err = await world.node('b').catch((e: unknown) => e);
    expect(TroupeError.is(err, ErrorCode.NameInUse)).toBe(true);
  });

  it('closes and drains systems and transports safely twice, and refuses work after', async () => {
    await twoNodes();
    b.spawn(recorder, { name: 'rec' });
    const ref = a.ref<Recorder>('b/rec');
    for (let n = 0; n < 100; n++) ref.tell({ type: 'rec', n });
    await a.drain();
    await a.drain();
    await a.close();
    expect(await a.closed()).toBeUndefined();
    await a.transport?.close();
    await a.transport?.drain();
    const err = await ref.ask({ type: 'list' }).catch((e: unknown) => e);
    expect(TroupeError.is(err, ErrorCode.SystemClosed)).toBe(true);
    ref.tell({ type: 'rec', n: 1 });
    expect(a.deadLetters.byReason()[ErrorCode.SystemClosed]).toBe(1);
    expect(() => a.spawn(recorder)).toThrowError(expect.objectContaining({ code: ErrorCode.SystemClosed }));
    // What a sent before draining reached b: all 100, in order.
    expect(await b.lookup<Recorder>('rec')?.ask({ type: 'list' })).toEqual(
      Array.from({ length: 100 }, (_, i) => i),
    );
    await b[Symbol.asyncDispose]();
    await b[Symbol.asyncDispose]();
  });
});

function createCodecFrame(value: unknown): Uint8Array {
  // A valid msgpack frame that is not an envelope: the codec must refuse it.
  const codec = createCodec();
  const frame = codec.encode({
    kind: 0,
    target: 'x/y',
    sender: undefined,
    correlationId: undefined,
    replyTo: undefined,
    deadline: undefined,
    headers: undefined,
    payload: value,
  });
  // Flip the version tag (second byte: first array element) to an unsupported one.
  const copy = frame.slice();
  copy[1] = 0x7f;
  return copy;
}
