// A durable graph run whose node process is SIGKILLed mid-step resumes on another node process by itself (its
// step message was never acknowledged), from its last checkpoint: every node that finished before the crash,
// the agent's model call included, is not run again; only the node cut short runs twice. The final state equals
// a crash-free run's.

import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ActorSystem, createSystem } from '../../runtime/index.js';
import { type LlmServer, type ServerProcess, startLlmServer, startNats } from '../../testing/index.js';
import { natsAppendLog, natsTransport } from '../../transport/index.js';
import { graphRuns, runKey } from '../../workflows/index.js';
import { until } from '../helpers/fixtures.js';
import { recordedNodes } from '../helpers/graph-runs.js';
import { type NodeProcess, startNodeProcess, stopNodeProcess } from '../helpers/node-process.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/graph-node.mjs', import.meta.url));

let nats: ServerProcess;
let server: LlmServer;
beforeAll(async () => {
  nats = await startNats();
  server = await startLlmServer();
  server.script(
    'm',
    (req) => `an essay on ${String(req.messages.at(-1)?.content).replace('write about ', '')}`,
  );
});
afterAll(async () => {
  await server.close();
  await nats.stop();
});

function startNode(ns: string, nodeId: string, block: boolean): Promise<NodeProcess> {
  const env = {
    NATS_URL: nats.url,
    LLM_URL: server.url,
    NS: ns,
    NODE_ID: nodeId,
    GRAPH_BLOCK: block ? '1' : '0',
  };
  return startNodeProcess(FIXTURE, env, `node ${nodeId}`);
}

const stopNode = stopNodeProcess;

async function client(ns: string): Promise<ActorSystem> {
  return createSystem({
    nodeId: `client-${randomBytes(2).toString('hex')}`,
    transport: natsTransport({
      servers: nats.url,
      namespace: ns,
      cluster: { heartbeatMs: 100, failureTimeoutMs: 600, moveIntervalMs: 50, moveBatch: 4, shards: 4 },
    }),
  });
}

const chats = () => server.requests.filter((r) => r.endpoint === 'chat').length;
const ran = (n: NodeProcess) => n.out.filter((l) => l.startsWith('RAN ')).map((l) => l.slice(4));

describe('a graph run whose node is SIGKILLed mid-step', () => {
  it('resumes on another node process from its checkpoint; completed steps and model calls are not repeated', async () => {
    const nodes: NodeProcess[] = [];
    const clients: ActorSystem[] = [];
    try {
      // A crash-free run, for reference.
      const nsA = `gok${randomBytes(3).toString('hex')}`;
      const base = await startNode(nsA, 'base', false);
      nodes.push(base);
      const c0 = await client(nsA);
      clients.push(c0);
      const calls0 = chats();
      const reference = await graphRuns(c0, 'pipeline').run('run-1', {}, { timeout: 20_000 });
      expect(reference).toMatchObject({ status: 'done' });
      expect(chats() - calls0).toBe(1);
      expect(ran(base).sort()).toEqual(['a', 'b', 'c', 'e', 'slow']);

      // The same run on a node that dies inside `slow`, after a, b, c and the agent finished.
      const nsB = `gkill${randomBytes(3).toString('hex')}`;
      const doomed = await startNode(nsB, 'doomed', true);
      nodes.push(doomed);
      const c1 = await client(nsB);
      clients.push(c1);
      const runs = graphRuns(c1, 'pipeline');
      const calls1 = chats();
      expect((await runs.start('run-1', {}, { timeout: 20_000 })).status).toBe('running');
      await until(() => doomed.out.includes('BLOCKING'), 15_000, 'the slow node');
      await stopNode(doomed, 'SIGKILL');
      expect(doomed.child.signalCode).toBe('SIGKILL');
      expect(ran(doomed).sort()).toEqual(['a', 'b', 'c', 'slow']);
      expect(chats() - calls1).toBe(1);

      // Nobody asks the run to go on: its unacknowledged step message brings it back on the heir.
      const heir = await startNode(nsB, 'heir', false);
      nodes.push(heir);
      await until(() => heir.out.includes('RAN e'), 20_000, 'the run to finish on the heir');
      const outcome = await runs.result('run-1', { timeout: 20_000 });
      expect(outcome).toEqual(reference);
      expect(ran(heir)).toEqual(['slow', 'e']);
      expect(chats() - calls1).toBe(1); // the agent's model call was not made again

      // The log: one record per node that finished, the cut-short node once (only its finished run).
      const log = await natsAppendLog({ servers: nats.url, name: 'graph-runs', namespace: nsB });
      try {
        const records = (await log.read(runKey('pipeline', 'run-1'))).map((r) => JSON.parse(r.data));
        expect(recordedNodes(records).sort()).toEqual(['a', 'b', 'c', 'e', 'slow', 'writer']);
        expect(records.filter((r) => r.k === 'end')).toHaveLength(1);
      } finally {
        await log.close();
      }
    } finally {
      await Promise.all(clients.map((c) => c.close()));
      await Promise.all(nodes.map((n) => stopNode(n, 'SIGKILL')));
    }
  }, 90_000);

  it('a durable subgraph cut short resumes where it was, not from its beginning', async () => {
    const nodes: NodeProcess[] = [];
    const clients: ActorSystem[] = [];
    try {
      const ns = `gsub${randomBytes(3).toString('hex')}`;
      const doomed = await startNode(ns, 'doomed', true);
      nodes.push(doomed);
      const c = await client(ns);
      clients.push(c);
      const runs = graphRuns(c, 'outer');
      const calls = chats();
      await runs.start('o1', {}, { timeout: 20_000 });
      await until(() => doomed.out.includes('BLOCKING'), 15_000, 'the slow node of the child run');
      await stopNode(doomed, 'SIGKILL');
      expect(ran(doomed).sort()).toEqual(['a', 'b', 'before', 'c', 'slow']);
      const heir = await startNode(ns, 'heir', false);
      nodes.push(heir);
      const outcome = await runs.result('o1', { timeout: 30_000 });
      expect(outcome).toMatchObject({ status: 'done' });
      const state = (outcome as { state: { log: string[]; text: string } }).state;
      expect(state.log).toEqual([
        'before',
        'a',
        'b',
        'c',
        'slow',
        expect.stringMatching(/^e after /),
        'after',
      ]);
      // The child went on from its checkpoint: only the node cut short ran again, then the rest.
      expect(ran(heir).sort()).toEqual(['after', 'e', 'slow']);
      expect(chats() - calls).toBe(1);
    } finally {
      await Promise.all(clients.map((x) => x.close()));
      await Promise.all(nodes.map((n) => stopNode(n, 'SIGKILL')));
    }
  }, 90_000);
});
