// `troupe demo --nats`: the worker, node-a and node-b each in a child process of this one (forked from
// node-main.js), on NATS (and BullMQ with --redis), while this process tells the story. node-a's crash is a real
// SIGKILL of its process. Children are always cleaned up: SIGTERM, then SIGKILL after a grace, by pid; and a
// child whose demo process is gone exits by itself (its IPC channel closes).

import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type ActorSystem, TroupeError } from '../../runtime/index.js';
import { AUTH_ENV, type DemoCommand, type NodeConfig, type NodeMessage, type NodeRole } from './ipc.js';
import type { AgentRef, CappedAgent, DemoNodes } from './nodes.js';

const ENTRY = fileURLToPath(new URL('./node-main.js', import.meta.url));
const START_TIMEOUT_MS = 20_000;
const GRACE_MS = 3000;

class NodeProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<NodeJS.Signals | number | null>;
  #listeners = new Set<(msg: NodeMessage) => void>();

  constructor(
    readonly role: NodeRole,
    config: NodeConfig,
  ) {
    // stdout stays the demo's (the story, or --json); the nodes' logs go to stderr. Credentials go by the
    // environment: a command line is visible to every user of the machine.
    const { auth, ...visible } = config;
    this.child = fork(ENTRY, [JSON.stringify(visible)], {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      env: { ...process.env, [AUTH_ENV]: auth === undefined ? '' : JSON.stringify(auth) },
    });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => resolve(signal ?? code));
    });
    this.child.on('message', (msg: NodeMessage) => {
      for (const l of [...this.#listeners]) l(msg);
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  on(listener: (msg: NodeMessage) => void): void {
    this.#listeners.add(listener);
  }

  /** The next message of `type`; rejects when the node fails, exits or takes longer than `timeoutMs`. */
  next<T extends NodeMessage['type']>(
    type: T,
    timeoutMs = START_TIMEOUT_MS,
  ): Promise<Extract<NodeMessage, { type: T }>> {
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#listeners.delete(listener);
      };
      // A child's own failure keeps its code (a UsageError's INVALID_OPTIONS, a model's MODEL_*).
      const fail = (message: string, code = 'DEMO_NODE_FAILED'): void => {
        done();
        reject(new TroupeError(code, `${this.role} (pid ${this.pid}): ${message}`));
      };
      const timer = setTimeout(() => fail(`no ${type} within ${timeoutMs} ms`), timeoutMs);
      const listener = (msg: NodeMessage): void => {
        if (msg.type === type) {
          done();
          resolve(msg as Extract<NodeMessage, { type: T }>);
        } else if (msg.type === 'failed') fail(msg.message, msg.code);
      };
      this.#listeners.add(listener);
      void this.exited.then((how) => {
        if (this.#listeners.has(listener)) fail(`exited (${String(how)}) before ${type}`);
      });
    });
  }

  tell(cmd: DemoCommand): void {
    if (this.child.connected) this.child.send(cmd);
  }

  kill(signal: NodeJS.Signals): void {
    if (this.alive) this.child.kill(signal);
  }

  /** SIGTERM, then SIGKILL if it is still there after the grace. */
  async stop(): Promise<void> {
    if (!this.alive) return;
    this.kill('SIGTERM');
    const timer = setTimeout(() => this.kill('SIGKILL'), GRACE_MS);
    await this.exited;
    clearTimeout(timer);
  }
}

export type ProcessSettings = Omit<NodeConfig, 'role' | 'narrator'>;

/** Forks the worker and node-a (node-b when the story needs it); their agents stream to `narrator`. */
export async function processNodes(
  settings: ProcessSettings,
  console: ActorSystem,
  narrator: string,
): Promise<DemoNodes> {
  const nodes: NodeProcess[] = [];
  // Whatever ends this process (an error, a signal's default exit), no child outlives it.
  const killAll = (): void => {
    for (const n of nodes) n.kill('SIGKILL');
  };
  process.once('exit', killAll);
  const startNode = async (role: NodeRole): Promise<NodeProcess> => {
    const node = new NodeProcess(role, { ...settings, role, narrator });
    nodes.push(node);
    await node.next('ready');
    return node;
  };
  const close = async (): Promise<void> => {
    await Promise.all(nodes.map((n) => n.stop()));
    process.off('exit', killAll);
  };
  try {
    const [worker, nodeA] = await Promise.all([startNode('worker'), startNode('node-a')]);
    let nodeB: NodeProcess | undefined;
    let runs = 0;
    let hook: ((runs: number) => Promise<void>) | undefined;
    worker.on((msg) => {
      if (msg.type !== 'task') return;
      runs = Math.max(runs, msg.runs);
      void Promise.resolve(hook?.(msg.runs)).finally(() => worker.tell({ type: 'continue' }));
    });
    return {
      get processes() {
        return nodes.map((n) => {
          const exit = n.child.signalCode ?? n.child.exitCode;
          return { role: n.role, pid: n.pid, ...(exit === null ? {} : { exit }) };
        });
      },
      crashNote: `SIGKILL to its process, pid ${nodeA.pid}`,
      coordinator: (node) => console.ref(`${node}/coordinator`) as never as AgentRef,
      onTaskStart(h) {
        hook = h;
      },
      taskRuns: () => runs,
      async crash() {
        nodeA.kill('SIGKILL');
        const how = await nodeA.exited;
        // Its ask gets no reply ever: nothing is left to send one (it times out, unless the narrator stops first).
        return `the ask to node-a/coordinator gets no reply: node-a's process (pid ${nodeA.pid}) is gone (${String(how)})`;
      },
      async startNodeB() {
        nodeB = await startNode('node-b');
      },
      async capped(): Promise<CappedAgent> {
        const node = nodeB;
        if (node === undefined) throw new Error('node-b has not started');
        let decision: string | undefined;
        node.on((msg) => {
          if (msg.type === 'decision') decision = msg.decision;
        });
        const capped = node.next('capped');
        const stopped = node.next('stopped', 10_000).then(
          (m) => m.stopped,
          () => false,
        );
        node.tell({ type: 'capped' });
        const { address } = await capped;
        return { address, decision: () => decision, stopped };
      },
      async flushAudit() {
        if (nodeB === undefined) return;
        const flushed = nodeB.next('flushed');
        nodeB.tell({ type: 'flush' });
        await flushed;
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
