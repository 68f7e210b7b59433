// A table of bad inputs to every public factory and method: each must throw or reject at once (within its own
// bound), always with a string `code`. Nothing may be accepted silently, hang, or fail with a bare TypeError.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { definePool, resolvePoolOptions } from '../../actors/index.js';
import {
  type ActorRef,
  type ActorSystem,
  type AnyActorRef,
  createSystem,
  defineActor,
  defineTask,
  type Reply,
  rolePlacement,
  systemClock,
  type TaskRunner,
  type Timers,
  taskPool,
} from '../../runtime/index.js';
import {
  assertValidName,
  executeTask,
  resolveRunOptions,
  resolveSystemOptions,
  resolveTaskOptions,
  resolveVirtualActorOptions,
} from '../../runtime/internal.js';
import {
  Backoff,
  decider,
  defineDynamicSupervisor,
  defineSupervisor,
  RestartIntensity,
  resolveBackoffOptions,
  resolveChildSpec,
  resolveIntensityOptions,
  restartPolicy,
  strategyOf,
} from '../../supervisor/index.js';
import { bullmqTaskRunner } from '../../tasks-bullmq/index.js';
import { type ServerProcess, startNats, startRedis } from '../../testing/index.js';
import {
  createCodec,
  createLocalHub,
  listNatsNodes,
  localTransport,
  natsKvPersistence,
  natsMembership,
  natsTransport,
} from '../../transport/index.js';

/** Slack on top of each row's own bound, for a loaded machine. */
const SLACK_MS = 750;
/** Bound of a row that names none: bad input fails at once. */
const AT_ONCE_MS = 250;

type Echo = { echo: { value?: unknown } & Reply<unknown>; note: { value?: unknown } };

const echo = defineActor<Echo>({
  handlers: {
    echo: (msg) => msg.value ?? null,
    note: () => {},
  },
});

const noop = defineTask<unknown, unknown>('bad-input-noop', (input) => input);

/** A dead NATS / Redis: port 1 on loopback refuses connections. */
const DEAD_NATS = 'nats://127.0.0.1:1';
const DEAD_REDIS = 'redis://127.0.0.1:1';

interface Env {
  nats: ServerProcess;
  redis: ServerProcess;
  /** No transport. */
  plain: ActorSystem;
  /** Two systems on one local hub: sends between them are encoded. */
  left: ActorSystem;
  right: ActorSystem;
  /** Two systems on the real NATS. */
  natsA: ActorSystem;
  natsB: ActorSystem;
  /** Echo on `right`, asked from `left`. */
  hubEcho: ActorRef<Echo>;
  /** Echo on `natsB`, asked from `natsA`. */
  natsEcho: ActorRef<Echo>;
  localEcho: ActorRef<Echo>;
  pool: TaskRunner;
  bullmq: TaskRunner;
}

interface Row {
  name: string;
  call: (env: Env) => unknown;
  /** How long the call may take to fail, before the slack. @defaultValue {@link AT_ONCE_MS} */
  within?: number;
  /** The code expected, when one is certain. */
  code?: string;
}

const bogusRef = { address: 'nope/none' } as unknown as AnyActorRef;
const later = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const rows: Row[] = [
  // ---- createSystem and its options ----
  { name: 'createSystem(null)', call: () => createSystem(null as never), code: 'INVALID_OPTIONS' },
  { name: 'createSystem nodeId with a space', call: () => createSystem({ nodeId: 'a b' }) },
  { name: 'createSystem nodeId with a dot', call: () => createSystem({ nodeId: 'a.b' }) },
  { name: 'createSystem nodeId not a string', call: () => createSystem({ nodeId: 42 as never }) },
  { name: 'createSystem askTimeoutMs -1', call: () => createSystem({ askTimeoutMs: -1 }) },
  { name: 'createSystem askTimeoutMs NaN', call: () => createSystem({ askTimeoutMs: Number.NaN }) },
  { name: 'createSystem throughput 0', call: () => createSystem({ throughput: 0 }) },
  { name: 'createSystem drainTimeoutMs "x"', call: () => createSystem({ drainTimeoutMs: 'x' as never }) },
  { name: 'createSystem transport {}', call: () => createSystem({ transport: {} as never }) },
  { name: 'createSystem tasks {}', call: () => createSystem({ tasks: {} as never }) },
  { name: 'createSystem clock {}', call: () => createSystem({ clock: {} as never }) },
  { name: 'resolveSystemOptions("x")', call: () => resolveSystemOptions('x' as never) },
  {
    name: 'createSystem on an unreachable NATS',
    call: () =>
      createSystem({
        transport: natsTransport({ servers: DEAD_NATS, connectOptions: { timeout: 1000, reconnect: false } }),
      }),
    within: 3000,
  },

  // ---- spawn ----
  { name: 'spawn(null)', call: (e) => e.plain.spawn(null as never) },
  { name: 'spawn({})', call: (e) => e.plain.spawn({} as never) },
  { name: 'spawn name with a space', call: (e) => e.plain.spawn(echo, { name: 'a b' }) },
  { name: 'spawn name with a slash', call: (e) => e.plain.spawn(echo, { name: 'a/b' }) },
  { name: 'spawn name empty', call: (e) => e.plain.spawn(echo, { name: '' }) },
  { name: 'spawn name not a string', call: (e) => e.plain.spawn(echo, { name: 7 as never }) },
  {
    name: 'spawn name taken',
    call: (e) => {
      e.plain.spawn(echo, { name: 'taken' });
      e.plain.spawn(echo, { name: 'taken' });
    },
    code: 'NAME_TAKEN',
  },
  {
    name: 'spawn mailbox capacity 0',
    call: (e) => e.plain.spawn(echo, { mailbox: { capacity: 0 } }),
  },
  { name: 'spawn handlerTimeoutMs -5', call: (e) => e.plain.spawn(echo, { handlerTimeoutMs: -5 }) },

  // ---- register / virtual / spawnOn ----
  { name: 'register type with a dot', call: (e) => e.plain.register('a.b', echo) },
  { name: 'register definition null', call: (e) => e.plain.register('ok', null as never) },
  {
    name: 'register passivateAfterMs -1',
    call: (e) => e.plain.register('ok2', echo, { passivateAfterMs: -1 }),
  },
  { name: 'resolveVirtualActorOptions(null)', call: () => resolveVirtualActorOptions(null as never) },
  { name: 'virtual type with a space', call: (e) => e.plain.virtual('a b', 'x') },
  { name: 'virtual id not a string', call: (e) => e.plain.virtual('t', 5 as never) },
  { name: 'virtual id empty', call: (e) => e.plain.virtual('t', '') },
  { name: 'spawnOn unknown node', call: (e) => e.natsA.spawnOn('nobody', 'echo'), within: 2000 },
  { name: 'spawnOn bad node name', call: (e) => e.natsA.spawnOn('a b', 'echo') },
  { name: 'spawnOn bad placement', call: (e) => e.natsA.spawnOn({} as never, 'echo') },
  { name: 'spawnOn unregistered type', call: (e) => e.natsA.spawnOn(e.natsB.nodeId, 'nope'), within: 2000 },

  // ---- ref / lookup ----
  { name: 'ref("srv/e x")', call: (e) => e.plain.ref('srv/e x') },
  { name: 'ref("")', call: (e) => e.plain.ref('') },
  { name: 'ref("a.b/c")', call: (e) => e.plain.ref('a.b/c') },
  { name: 'ref("a/b*")', call: (e) => e.plain.ref('a/b*') },
  { name: 'ref("a/>")', call: (e) => e.plain.ref('a/>') },
  { name: 'ref(42)', call: (e) => e.plain.ref(42 as never) },
  { name: 'nats ref("srv/e x") then ask', call: (e) => e.natsA.ref('srv/e x').ask({ type: 'x' }) },
  { name: 'lookup(42)', call: (e) => e.plain.lookup(42 as never) },

  // ---- tell / ask / send: bad messages ----
  { name: 'tell(null)', call: (e) => e.localEcho.tell(null as never), code: 'INVALID_MESSAGE' },
  { name: 'tell("x")', call: (e) => e.localEcho.tell('x' as never), code: 'INVALID_MESSAGE' },
  { name: 'tell({})', call: (e) => e.localEcho.tell({} as never), code: 'INVALID_MESSAGE' },
  { name: 'tell type 5', call: (e) => e.localEcho.tell({ type: 5 } as never), code: 'INVALID_MESSAGE' },
  { name: 'ask(undefined)', call: (e) => e.localEcho.ask(undefined as never), code: 'INVALID_MESSAGE' },
  { name: 'send(null)', call: (e) => e.localEcho.send(null as never), code: 'INVALID_MESSAGE' },
  { name: 'nats ask([])', call: (e) => e.natsEcho.ask([] as never), code: 'INVALID_MESSAGE' },
  // Prototype-named types: no handler of that name exists, so the ask fails with UNHANDLED at once.
  ...['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf'].flatMap((type): Row[] => [
    { name: `local ask type ${type}`, call: (e) => e.localEcho.ask({ type } as never), within: 500 },
    { name: `hub ask type ${type}`, call: (e) => e.hubEcho.ask({ type } as never), within: 500 },
    { name: `nats ask type ${type}`, call: (e) => e.natsEcho.ask({ type } as never), within: 500 },
  ]),
  {
    name: 'virtual ask type constructor',
    call: (e) => e.plain.virtual<Echo>('echo', 'v1').ask({ type: 'constructor' } as never),
    within: 500,
  },
  { name: 'local ask unknown type', call: (e) => e.localEcho.ask({ type: 'nope' } as never), within: 500 },

  // ---- functions and other values that cannot cross the wire ----
  {
    name: 'hub ask with a function in the payload',
    call: (e) => e.hubEcho.ask({ type: 'echo', value: { f: () => 1 } }),
    code: 'INVALID_MESSAGE',
  },
  {
    name: 'hub tell with a function in the payload',
    call: (e) => e.hubEcho.tell({ type: 'note', value: [1, () => 1] }),
    code: 'INVALID_MESSAGE',
  },
  {
    name: 'nats ask with a function in the payload',
    call: (e) => e.natsEcho.ask({ type: 'echo', value: () => 1 }),
    code: 'INVALID_MESSAGE',
  },
  {
    name: 'nats tell with a function in the payload',
    call: (e) => e.natsEcho.tell({ type: 'note', value: { deep: { f: () => 1 } } }),
    code: 'INVALID_MESSAGE',
  },
  {
    name: 'nats send with a function in the payload',
    call: (e) => e.natsEcho.send({ type: 'note', value: () => 1 }),
    code: 'INVALID_MESSAGE',
  },
  {
    name: 'nats ask with a symbol in the payload',
    call: (e) => e.natsEcho.ask({ type: 'echo', value: Symbol('s') }),
    code: 'INVALID_MESSAGE',
  },
  {
    name: 'nats ask whose reply holds a function',
    call: async (e) => {
      const fnReply = defineActor<{ get: Reply<unknown> }>({ handlers: { get: () => ({ f: () => 1 }) } });
      const ref = e.natsB.spawn(fnReply);
      await e.natsA.ref<{ get: Reply<unknown> }>(ref.address).ask({ type: 'get' }, { timeout: 3000 });
    },
    within: 500,
    code: 'INVALID_MESSAGE',
  },

  // ---- payloads too large ----
  {
    name: 'hub ask over maxFrameBytes',
    call: (e) => e.hubEcho.ask({ type: 'echo', value: 'x'.repeat(70_000) }),
    code: 'PAYLOAD_TOO_LARGE',
  },
  {
    name: 'nats ask over 1 MiB',
    call: (e) => e.natsEcho.ask({ type: 'echo', value: 'x'.repeat(1_100_000) }),
    code: 'PAYLOAD_TOO_LARGE',
  },
  {
    name: 'nats tell over 1 MiB',
    call: (e) => e.natsEcho.tell({ type: 'note', value: 'x'.repeat(1_100_000) }),
    code: 'PAYLOAD_TOO_LARGE',
  },
  {
    name: 'nats reply over 1 MiB',
    call: async (e) => {
      const big = defineActor<{ get: Reply<string> }>({ handlers: { get: () => 'x'.repeat(1_100_000) } });
      const ref = e.natsB.spawn(big);
      await e.natsA.ref<{ get: Reply<string> }>(ref.address).ask({ type: 'get' }, { timeout: 3000 });
    },
    within: 500,
    code: 'PAYLOAD_TOO_LARGE',
  },

  // ---- headers ----
  {
    name: 'hub ask with a number header',
    call: (e) => e.hubEcho.ask({ type: 'echo' }, { headers: { n: 1 as never }, timeout: 3000 }),
  },
  {
    name: 'nats ask with a number header',
    call: (e) => e.natsEcho.ask({ type: 'echo' }, { headers: { n: 1 as never }, timeout: 3000 }),
  },
  {
    name: 'nats ask with an object header',
    call: (e) => e.natsEcho.ask({ type: 'echo' }, { headers: { o: {} as never }, timeout: 3000 }),
  },
  {
    name: 'nats ask with headers an array',
    call: (e) => e.natsEcho.ask({ type: 'echo' }, { headers: ['a'] as never, timeout: 3000 }),
  },
  {
    name: 'nats tell with a function header',
    call: (e) => e.natsEcho.tell({ type: 'note' }, { headers: { f: (() => 1) as never } }),
  },
  {
    name: 'nats send with a null header value',
    call: (e) => e.natsEcho.send({ type: 'note' }, { headers: { n: null as never } }),
  },
  {
    name: 'nats ask with 10,000 headers',
    call: (e) =>
      e.natsEcho.ask(
        { type: 'echo' },
        {
          headers: Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`h${i}`, 'v'])),
          timeout: 3000,
        },
      ),
  },
  {
    name: 'local ask with a number header',
    call: (e) => e.localEcho.ask({ type: 'echo' }, { headers: { n: 1 as never } }),
  },

  // ---- ask options: timeouts and signals ----
  { name: 'ask timeout 0', call: (e) => e.localEcho.ask({ type: 'echo' }, { timeout: 0 }) },
  { name: 'ask timeout -1', call: (e) => e.localEcho.ask({ type: 'echo' }, { timeout: -1 }) },
  { name: 'ask timeout NaN', call: (e) => e.localEcho.ask({ type: 'echo' }, { timeout: Number.NaN }) },
  { name: 'ask timeout Infinity', call: (e) => e.localEcho.ask({ type: 'echo' }, { timeout: Infinity }) },
  { name: 'ask timeout "100"', call: (e) => e.localEcho.ask({ type: 'echo' }, { timeout: '100' as never }) },
  {
    name: 'ask timeout beyond 2^31 ms',
    call: (e) => e.localEcho.ask({ type: 'echo' }, { timeout: 2 ** 32 }),
  },
  {
    name: 'ask with an aborted signal',
    call: (e) => e.localEcho.ask({ type: 'echo' }, { signal: AbortSignal.abort() }),
    code: 'ASK_ABORTED',
  },
  {
    name: 'ask with a signal that is not one',
    call: (e) => e.natsEcho.ask({ type: 'echo' }, { signal: {} as never }),
  },
  { name: 'ask options "x"', call: (e) => e.natsEcho.ask({ type: 'echo' }, 'x' as never) },
  { name: 'tell sender not a ref', call: (e) => e.natsEcho.tell({ type: 'note' }, { sender: {} as never }) },
  {
    name: 'ask to a node nobody holds (NATS)',
    call: (e) => e.natsA.ref('ghost/actor').ask({ type: 'x' }, { timeout: 3000 }),
    within: 500,
    code: 'NO_RESPONDERS',
  },
  {
    name: 'ask to an actor that does not exist (NATS)',
    call: (e) => e.natsA.ref(`${e.natsB.nodeId}/ghost`).ask({ type: 'x' }, { timeout: 3000 }),
    within: 500,
    code: 'ACTOR_NOT_FOUND',
  },
  {
    name: 'ask that times out',
    call: (e) =>
      e.plain
        .spawn(defineActor<{ slow: Reply<unknown> }>({ handlers: { slow: () => later(5000) } }))
        .ask({ type: 'slow' }, { timeout: 200 }),
    within: 200,
    code: 'ASK_TIMEOUT',
  },

  // ---- stop / terminate / pause / resume with bogus refs ----
  { name: 'stop(null)', call: (e) => e.plain.stop(null as never) },
  { name: 'stop({})', call: (e) => e.plain.stop({} as never) },
  { name: 'stop bogus ref', call: (e) => e.plain.stop(bogusRef), within: 1000 },
  { name: 'terminate("x")', call: (e) => e.plain.terminate('x' as never) },
  { name: 'pause(undefined)', call: (e) => e.plain.pause(undefined as never) },
  { name: 'resume(42)', call: (e) => e.plain.resume(42 as never) },
  { name: 'pause bogus ref over NATS', call: (e) => e.natsA.pause(bogusRef), within: 1000 },
  { name: 'ps timeoutMs -1', call: (e) => e.natsA.ps({ timeoutMs: -1 }) },
  { name: 'onLifecycle("x")', call: (e) => e.plain.onLifecycle('x' as never) },

  // ---- ctx.timers: the handler passes what the call threw on to the asker ----
  ...(
    [
      ['startSingle delay NaN', (t) => t.startSingle('k', { type: 'tick' }, Number.NaN)],
      ['startSingle delay -1', (t) => t.startSingle('k', { type: 'tick' }, -1)],
      ['startSingle delay 2^31', (t) => t.startSingle('k', { type: 'tick' }, 2 ** 31)],
      ['startSingle message null', (t) => t.startSingle('k', null as never, 10)],
      ['startPeriodic interval 0', (t) => t.startPeriodic('k', { type: 'tick' }, 0)],
      ['startPeriodic key 5', (t) => t.startPeriodic(5 as never, { type: 'tick' }, 10)],
    ] as [string, (timers: Timers<{ tick: { n?: number } }>) => void][]
  ).map(
    ([name, use]): Row => ({
      name: `ctx.timers.${name}`,
      call: (e) =>
        e.plain
          .spawn(
            defineActor<{ go: Reply<unknown>; tick: { n?: number } }>({
              handlers: {
                go: (_m, ctx) => {
                  try {
                    use(ctx.timers as never);
                  } catch (err) {
                    ctx.fail(err);
                    return undefined;
                  }
                  return 'accepted';
                },
                tick: () => {},
              },
            }),
          )
          .ask({ type: 'go' }),
    }),
  ),

  // ---- defineActor ----
  { name: 'defineActor(null)', call: () => defineActor(null as never), code: 'INVALID_OPTIONS' },
  { name: 'defineActor({})', call: () => defineActor({} as never), code: 'INVALID_OPTIONS' },
  {
    name: 'defineActor handler not a function',
    call: () => defineActor({ handlers: { a: 1 as never } }),
    code: 'INVALID_OPTIONS',
  },
  {
    name: 'defineActor throughput 0',
    call: () => defineActor({ handlers: {}, throughput: 0 }),
    code: 'INVALID_OPTIONS',
  },
  {
    name: 'defineActor mailbox capacity -1',
    call: () => defineActor({ handlers: {}, mailbox: { capacity: -1 } }),
    code: 'INVALID_OPTIONS',
  },
  {
    name: 'defineActor overflow "explode"',
    call: () => defineActor({ handlers: {}, mailbox: { capacity: 1, overflow: 'explode' as never } }),
    code: 'INVALID_OPTIONS',
  },
  {
    name: 'defineActor handlerTimeoutMs NaN',
    call: () => defineActor({ handlers: {}, handlerTimeoutMs: Number.NaN }),
    code: 'INVALID_OPTIONS',
  },
  { name: 'defineActor type 5', call: () => defineActor({ handlers: {}, type: 5 as never }) },
  { name: 'defineActor init "x"', call: () => defineActor({ handlers: {}, init: 'x' as never }) },
  { name: 'defineActor onStop 1', call: () => defineActor({ handlers: {}, onStop: 1 as never }) },
  { name: 'defineActor stashCapacity -1', call: () => defineActor({ handlers: {}, stashCapacity: -1 }) },
  {
    name: 'defineActor supervision maxAttempts 0',
    call: () => defineActor({ handlers: {}, supervision: { maxAttempts: 0 } }),
  },
  {
    name: 'defineActor supervision decider "x"',
    call: () => defineActor({ handlers: {}, supervision: { decider: 'x' as never } }),
  },
  {
    name: 'defineActor supervision restart {}',
    call: () => defineActor({ handlers: {}, supervision: { restart: {} as never } }),
  },
  { name: 'defineActor persistence {}', call: () => defineActor({ handlers: {}, persistence: {} as never }) },

  // ---- supervisor/ ----
  { name: 'defineSupervisor(null)', call: () => defineSupervisor(null as never) },
  { name: 'defineSupervisor children "x"', call: () => defineSupervisor({ children: 'x' as never }) },
  {
    name: 'defineSupervisor child name with a space',
    call: () => defineSupervisor({ children: [{ name: 'a b', actor: echo }] }),
  },
  {
    name: 'defineSupervisor child actor null',
    call: () => defineSupervisor({ children: [{ name: 'a', actor: null as never }] }),
  },
  {
    name: 'defineSupervisor duplicate child',
    call: () =>
      defineSupervisor({
        children: [
          { name: 'a', actor: echo },
          { name: 'a', actor: echo },
        ],
      }),
  },
  {
    name: 'defineSupervisor strategy "none"',
    call: () => defineSupervisor({ children: [], strategy: 'none' as never }),
  },
  {
    name: 'defineSupervisor intensity maxRestarts -1',
    call: () => defineSupervisor({ children: [], intensity: { maxRestarts: -1 } }),
  },
  {
    name: 'defineSupervisor backoff factor 0.5',
    call: () => defineSupervisor({ children: [], backoff: { factor: 0.5 } }),
  },
  { name: 'defineSupervisor type 1', call: () => defineSupervisor({ children: [], type: 1 as never }) },
  {
    name: 'defineSupervisor child restart "sometimes"',
    call: () => defineSupervisor({ children: [{ name: 'a', actor: echo, restart: 'sometimes' as never }] }),
  },
  {
    name: 'defineSupervisor child shutdownTimeoutMs -1',
    call: () => defineSupervisor({ children: [{ name: 'a', actor: echo, shutdownTimeoutMs: -1 }] }),
  },
  { name: 'defineDynamicSupervisor({})', call: () => defineDynamicSupervisor({} as never) },
  {
    name: 'defineDynamicSupervisor maxChildren 0',
    call: () => defineDynamicSupervisor({ child: () => ({ actor: echo }), maxChildren: 0 }),
  },
  {
    name: 'defineDynamicSupervisor maxChildren "3"',
    call: () => defineDynamicSupervisor({ child: () => ({ actor: echo }), maxChildren: '3' as never }),
  },
  { name: 'resolveChildSpec(null)', call: () => resolveChildSpec(null as never) },
  { name: 'restartPolicy(null)', call: () => restartPolicy(null as never) },
  { name: 'restartPolicy withinMs 0', call: () => restartPolicy({ withinMs: 0 }) },
  { name: 'restartPolicy maxRestarts 1.5', call: () => restartPolicy({ maxRestarts: 1.5 }) },
  { name: 'restartPolicy backoff minMs -1', call: () => restartPolicy({ backoff: { minMs: -1 } }) },
  { name: 'restartPolicy backoff "x"', call: () => restartPolicy({ backoff: 'x' as never }) },
  { name: 'resolveIntensityOptions(null)', call: () => resolveIntensityOptions(null as never) },
  { name: 'new RestartIntensity({ withinMs: -1 })', call: () => new RestartIntensity({ withinMs: -1 }) },
  { name: 'resolveBackoffOptions(null)', call: () => resolveBackoffOptions(null as never) },
  { name: 'new Backoff({ jitter: 2 })', call: () => new Backoff({ jitter: 2 }) },
  { name: 'strategyOf("x")', call: () => strategyOf('x' as never) },
  { name: 'decider(null)', call: () => decider(null as never) },
  { name: 'decider rule not a pair', call: () => decider(['x'] as never) },
  { name: 'decider directive "explode"', call: () => decider([['X', 'explode' as never]]) },
  { name: 'decider matcher 5', call: () => decider([[5 as never, 'stop']]) },
  { name: 'decider fallback "x"', call: () => decider([], 'x' as never) },

  // ---- actors/ ----
  { name: 'definePool(null worker)', call: () => definePool(null as never, { size: 2 }) },
  { name: 'definePool options null', call: () => definePool(echo, null as never) },
  { name: 'definePool size 0', call: () => definePool(echo, { size: 0 }) },
  { name: 'definePool size 1.5', call: () => definePool(echo, { size: 1.5 }) },
  { name: 'definePool strategy "x"', call: () => definePool(echo, { size: 2, strategy: 'x' as never }) },
  { name: 'definePool random "x"', call: () => definePool(echo, { size: 2, random: 'x' as never }) },
  { name: 'resolvePoolOptions(undefined)', call: () => resolvePoolOptions(undefined as never) },

  // ---- tasks ----
  { name: 'defineTask name with a colon', call: () => defineTask('a:b', () => 1) },
  { name: 'defineTask name 5', call: () => defineTask(5 as never, () => 1) },
  { name: 'defineTask handler null', call: () => defineTask('t', null as never) },
  { name: 'defineTask relative module', call: () => defineTask('t', { module: './x.js' }) },
  { name: 'defineTask attempts 0', call: () => defineTask('t', () => 1, { attempts: 0 }) },
  { name: 'defineTask priority too high', call: () => defineTask('t', () => 1, { priority: 3_000_000 }) },
  { name: 'defineTask sandbox inline', call: () => defineTask('t', () => 1, { sandbox: true }) },
  { name: 'defineTask rateLimit {}', call: () => defineTask('t', () => 1, { rateLimit: {} as never }) },
  { name: 'defineTask options "x"', call: () => defineTask('t', () => 1, 'x' as never) },
  { name: 'resolveTaskOptions(null)', call: () => resolveTaskOptions(null as never) },
  { name: 'resolveRunOptions timeoutMs -1', call: () => resolveRunOptions(noop, { timeoutMs: -1 }) },
  {
    name: 'executeTask handler not a function',
    call: () =>
      executeTask(null as never, 1, {
        task: 't',
        id: '1',
        attempt: 1,
        attempts: 1,
        timeoutMs: 0,
        clock: systemClock,
      }),
  },
  { name: 'taskPool(null)', call: () => taskPool(null as never) },
  { name: 'taskPool threads 0', call: () => taskPool({ threads: 0 }) },
  { name: 'taskPool clock {}', call: () => taskPool({ clock: {} as never }) },
  { name: 'pool run(null)', call: (e) => e.pool.run(null as never, 1) },
  { name: 'pool run attempts 0', call: (e) => e.pool.run(noop, 1, { attempts: 0 }) },
  {
    name: 'pool run with a function as input',
    call: (e) => e.pool.run(noop, () => 1),
    code: 'INVALID_TASK_INPUT',
  },
  {
    name: 'pool run with a Map in the input',
    call: (e) => e.pool.run(noop, { m: new Map([[1, 2]]) }),
    code: 'INVALID_TASK_INPUT',
  },
  {
    name: 'pool run whose output holds a function',
    call: (e) =>
      e.pool.run(
        defineTask('bad-input-fn-out', () => ({ f: () => 1 })),
        1,
      ),
    code: 'TASK_FAILED',
  },
  { name: 'pool counts(5)', call: (e) => e.pool.counts(5 as never) },
  { name: 'bullmqTaskRunner(null)', call: () => bullmqTaskRunner(null as never) },
  { name: 'bullmqTaskRunner workerName 5', call: () => bullmqTaskRunner({ workerName: 5 as never }) },
  { name: 'bullmqTaskRunner redis "localhost"', call: () => bullmqTaskRunner({ redis: 'localhost' }) },
  { name: 'bullmqTaskRunner prefix "a b"', call: () => bullmqTaskRunner({ prefix: 'a b' }) },
  { name: 'bullmqTaskRunner threads 0', call: () => bullmqTaskRunner({ threads: 0 }) },
  { name: 'bullmqTaskRunner work [null]', call: () => bullmqTaskRunner({ work: [null as never] }) },
  { name: 'bullmqTaskRunner work "x"', call: () => bullmqTaskRunner({ work: 'x' as never }) },
  {
    name: 'bullmqTaskRunner connectTimeoutMs 0',
    call: () => bullmqTaskRunner({ redis: DEAD_REDIS, connectTimeoutMs: 0 }),
  },
  {
    name: 'bullmqTaskRunner clock {}',
    call: () => bullmqTaskRunner({ redis: DEAD_REDIS, clock: {} as never }),
  },
  {
    name: 'bullmq run with a function as input',
    call: (e) => e.bullmq.run(noop, { f: () => 1 }),
    code: 'INVALID_TASK_INPUT',
  },
  { name: 'bullmq run(null)', call: (e) => e.bullmq.run(null as never, 1) },
  { name: 'bullmq run priority -1', call: (e) => e.bullmq.run(noop, 1, { priority: -1 }) },
  { name: 'bullmq counts({})', call: (e) => e.bullmq.counts({} as never) },
  {
    name: 'bullmq run on an unreachable Redis',
    call: () => withRunner({ redis: DEAD_REDIS, connectTimeoutMs: 1000 }, (r) => r.run(noop, 1)),
    within: 1000,
    code: 'TRANSPORT_CONNECT_FAILED',
  },
  {
    name: 'bullmq counts on an unreachable Redis',
    call: () => withRunner({ redis: DEAD_REDIS, connectTimeoutMs: 1000 }, (r) => r.counts()),
    within: 1000,
    code: 'TRANSPORT_CONNECT_FAILED',
  },
  {
    name: 'bullmq ready on an unreachable Redis (worker node)',
    call: () => withRunner({ redis: DEAD_REDIS, connectTimeoutMs: 1000, work: [noop] }, (r) => r.ready()),
    within: 1000,
    code: 'TRANSPORT_CONNECT_FAILED',
  },
  {
    name: 'bullmq drain of a worker node on an unreachable Redis, a run pending',
    call: async () => {
      const r = bullmqTaskRunner({ redis: DEAD_REDIS, connectTimeoutMs: 1000, work: [noop] });
      const run = r.run(noop, 1);
      run.catch(() => {});
      await r.drain();
      await run;
    },
    within: 1000,
    code: 'TRANSPORT_CONNECT_FAILED',
  },
  {
    name: 'ctx.runTask on an unreachable Redis',
    call: () =>
      withRunner({ redis: DEAD_REDIS, connectTimeoutMs: 1000 }, async (tasks) => {
        await using system = await createSystem({ tasks });
        const runner = system.spawn(
          defineActor<{ go: Reply<unknown> }>({ handlers: { go: (_m, ctx) => ctx.runTask(noop, 1) } }),
        );
        await runner.ask({ type: 'go' }, { timeout: 5000 });
      }),
    within: 1000,
  },

  // ---- transports ----
  { name: 'natsTransport namespace "a.b"', call: () => natsTransport({ namespace: 'a.b' }) },
  { name: 'natsTransport namespace 5', call: () => natsTransport({ namespace: 5 as never }) },
  { name: 'natsTransport maxFrameBytes 1', call: () => natsTransport({ maxFrameBytes: 1 }) },
  { name: 'natsTransport servers 5', call: () => natsTransport({ servers: 5 as never }) },
  { name: 'natsTransport cluster shards 0', call: () => natsTransport({ cluster: { shards: 0 } }) },
  {
    name: 'natsTransport cluster heartbeatMs -1',
    call: () => natsTransport({ cluster: { heartbeatMs: -1 } }),
  },
  {
    name: 'natsTransport cluster roles "x"',
    call: () => natsTransport({ cluster: { roles: 'x' as never } }),
  },
  { name: 'natsMembership(null)', call: () => natsMembership(null as never) },
  { name: 'listNatsNodes(null)', call: () => listNatsNodes(null as never) },
  { name: 'natsKvPersistence({})', call: () => natsKvPersistence({} as never) },
  {
    name: 'natsKvPersistence bucket "a b"',
    call: (e) =>
      natsKvPersistence({
        connection: (e.natsA.transport as never as { connection: never }).connection,
        bucket: 'a b',
      }),
  },
  { name: 'localTransport hub {}', call: () => localTransport({ hub: {} as never }) },
  { name: 'localTransport maxFrameBytes 0', call: () => localTransport({ maxFrameBytes: 0 }) },
  { name: 'createCodec maxFrameBytes 10', call: () => createCodec({ maxFrameBytes: 10 }) },
  {
    name: 'codec encode with a function payload',
    call: () => createCodec().encode({ kind: 1, target: 'a/b', payload: { f: () => 1 } } as never),
    code: 'INVALID_MESSAGE',
  },
  {
    name: 'codec encode with a number header',
    call: () => createCodec().encode({ kind: 1, target: 'a/b', headers: { h: 1 }, payload: {} } as never),
  },
  { name: 'codec decode garbage', call: () => createCodec().decode(new Uint8Array([1, 2, 3])) },
  { name: 'assertValidName("a b")', call: () => assertValidName('a b') },
  { name: 'rolePlacement(5)', call: () => rolePlacement(5 as never) },
];

/** Runs `fn` with a runner that is closed afterwards (bounded too: close must settle). */
async function withRunner<T>(
  options: Parameters<typeof bullmqTaskRunner>[0],
  fn: (r: ReturnType<typeof bullmqTaskRunner>) => Promise<T>,
): Promise<T> {
  const r = bullmqTaskRunner(options);
  try {
    return await fn(r);
  } finally {
    await Promise.race([r.close(), later(2000).then(() => Promise.reject(new Error('close hung')))]);
  }
}

let env: Env;

beforeAll(async () => {
  const [nats, redis] = await Promise.all([startNats(), startRedis()]);
  const hub = createLocalHub();
  const plain = await createSystem();
  const left = await createSystem({ transport: localTransport({ hub, maxFrameBytes: 64 * 1024 }) });
  const right = await createSystem({ transport: localTransport({ hub, maxFrameBytes: 64 * 1024 }) });
  const natsA = await createSystem({ transport: natsTransport({ servers: nats.url }) });
  const natsB = await createSystem({ transport: natsTransport({ servers: nats.url }) });
  plain.register('echo', echo);
  natsB.register('echo', echo);
  const pool = taskPool();
  const bullmq = bullmqTaskRunner({ redis: redis.url, prefix: 'bad-input', work: [noop] });
  await bullmq.ready();
  env = {
    nats,
    redis,
    plain,
    left,
    right,
    natsA,
    natsB,
    localEcho: plain.spawn(echo, { name: 'echo' }),
    hubEcho: left.ref<Echo>(right.spawn(echo, { name: 'echo' }).address),
    natsEcho: natsA.ref<Echo>(natsB.spawn(echo, { name: 'echo' }).address),
    pool,
    bullmq,
  };
}, 30_000);

afterAll(async () => {
  if (env === undefined) return;
  for (const s of [env.plain, env.left, env.right, env.natsA, env.natsB]) await s.close();
  await env.pool.close();
  await env.bullmq.close();
  await env.nats.stop();
  await env.redis.stop();
});

/** What a call did, and how long it took to do it. */
async function settle(
  call: () => unknown,
  boundMs: number,
): Promise<{ error?: unknown; ms: number; hung?: boolean }> {
  const start = performance.now();
  let result: unknown;
  try {
    result = call();
  } catch (error) {
    return { error, ms: performance.now() - start };
  }
  const thenable =
    result !== null &&
    typeof result === 'object' &&
    typeof (result as { then?: unknown }).then === 'function';
  if (!thenable) return { ms: performance.now() - start };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const outcome = await Promise.race([
    (result as Promise<unknown>).then(
      () => ({ error: undefined as unknown }),
      (error: unknown) => ({ error }),
    ),
    new Promise<'hung'>((resolve) => {
      timer = setTimeout(() => resolve('hung'), boundMs);
    }),
  ]);
  clearTimeout(timer);
  const ms = performance.now() - start;
  if (outcome === 'hung') return { ms, hung: true };
  return outcome.error === undefined ? { ms } : { error: outcome.error, ms };
}

describe('bad input fails at once, with a code', () => {
  it.each(rows.map((row) => [row.name, row] as const))('%s', async (_name, row) => {
    const bound = (row.within ?? AT_ONCE_MS) + SLACK_MS;
    const { error, ms, hung } = await settle(() => row.call(env), bound);
    expect(hung, `still pending after ${Math.round(ms)} ms`).not.toBe(true);
    expect(error, `accepted (settled in ${Math.round(ms)} ms without an error)`).toBeDefined();
    const code = (error as { code?: unknown }).code;
    expect(typeof code, `no code: ${String(error)}`).toBe('string');
    if (row.code !== undefined) expect(code).toBe(row.code);
    expect(ms, `took ${Math.round(ms)} ms`).toBeLessThanOrEqual(bound);
  });
});
