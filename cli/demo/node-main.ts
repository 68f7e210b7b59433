// One node of `troupe demo --nats` in its own process, forked by the demo process with its settings as the only
// argument (JSON): the worker (the executor, and the BullMQ worker of the heavy tool's task), node-a or node-b.
// It joins NATS, hosts its agents, and talks to the demo over the IPC channel; it exits on SIGTERM, or when the
// demo process is gone (the channel closes), so no node outlives its demo.

import { type ActorSystem, createLogger, silentLogger } from '../../runtime/index.js';
import { describeError } from '../args.js';
import { taskHooks } from './fleet.js';
import { AUTH_ENV, type DemoCommand, type NodeConfig, type NodeMessage } from './ipc.js';
import { cappedAgent, frontNode, workerNode } from './nodes.js';
import { type DemoEnv, demoEnv } from './setup.js';

const send = (msg: NodeMessage): void => {
  if (process.connected) process.send?.(msg);
};

/** Resolves with the next command of `type` from the demo process. */
const command = (type: DemoCommand['type']): Promise<DemoCommand> =>
  new Promise((resolve) => {
    const on = (msg: DemoCommand): void => {
      if (msg.type !== type) return;
      process.off('message', on);
      resolve(msg);
    };
    process.on('message', on);
  });

let env: DemoEnv | undefined;
let system: ActorSystem | undefined;
let closing = false;

async function shutdown(code: number): Promise<void> {
  if (closing) return;
  closing = true;
  // Bounded: a node that cannot close cleanly still goes.
  const force = setTimeout(() => process.exit(code), 3000);
  force.unref();
  await system?.close().catch(() => {});
  await env?.close().catch(() => {});
  process.exit(code);
}

async function start(config: NodeConfig): Promise<void> {
  const logger =
    config.log === undefined
      ? silentLogger
      : createLogger({ ...config.log, bindings: { demoNode: config.role } });
  const auth = process.env[AUTH_ENV];
  env = await demoEnv({
    nats: config.nats,
    ...(auth === undefined || auth === '' ? {} : { auth: JSON.parse(auth) as NodeConfig['auth'] }),
    redis: config.redis,
    openai: config.openai,
    logger,
    namespace: config.namespace,
    ...(config.modelUrl === undefined ? {} : { modelUrl: config.modelUrl }),
    worksTasks: config.role === 'worker',
  });
  if (config.role === 'worker') {
    // The demo tells the story of each task attempt (and crashes node-a during the first) before it goes on.
    taskHooks.onStart = async (runs) => {
      const go = command('continue');
      send({ type: 'task', runs });
      await go;
    };
    system = await workerNode(env, config.narrator);
  } else {
    const node = await frontNode(env, config.role, config.narrator);
    system = node.system;
    const e = env;
    const s = system;
    process.on('message', (msg: DemoCommand) => {
      if (msg.type === 'capped') {
        const agent = cappedAgent(e, s, config.narrator, (decision) => send({ type: 'decision', decision }));
        send({ type: 'capped', address: agent.address });
        void agent.stopped.then((stopped) => send({ type: 'stopped', stopped }));
      } else if (msg.type === 'flush') {
        void e.audit.flush().then(() => send({ type: 'flushed' }));
      }
    });
  }
  send({ type: 'ready' });
}

process.on('SIGTERM', () => void shutdown(0));
process.on('disconnect', () => void shutdown(0));
// The channel may have closed while this module was loading, before anyone listened.
if (!process.connected) await shutdown(0);
try {
  await start(JSON.parse(process.argv[2] ?? '') as NodeConfig);
} catch (err) {
  const { code, message } = describeError(err);
  send({ type: 'failed', code, message });
  await shutdown(1);
}
