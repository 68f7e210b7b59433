// A team whose node process is SIGKILLed mid-run: the run asked again (same runId) on another node process
// re-asks the same member runs, which answer from their JetStream journals, so only the member whose model call
// was cut short calls its model again, and the answer is the one a crash-free run gives.

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ActorSystem, createSystem } from '../../runtime/index.js';
import { type LlmServer, type ServerProcess, startLlmServer, startNats } from '../../testing/index.js';
import { natsTransport } from '../../transport/index.js';
import type { TeamProtocol, TeamResult } from '../../workflows/teams/index.js';
import { until } from '../helpers/fixtures.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/team-node.mjs', import.meta.url));

let nats: ServerProcess;
let server: LlmServer;
beforeAll(async () => {
  nats = await startNats();
  server = await startLlmServer();
});
afterAll(async () => {
  await server.close();
  await nats.stop();
});

interface NodeProcess {
  child: ChildProcess;
  out: string[];
}

function startNode(ns: string, nodeId: string): Promise<NodeProcess> {
  const child = spawn(process.execPath, [FIXTURE], {
    env: {
      ...process.env,
      NATS_URL: nats.url,
      LLM_URL: server.url,
      NS: ns,
      NODE_ID: nodeId,
      TROUPE_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const out: string[] = [];
  child.stdout?.on('data', (d: Buffer) => out.push(...d.toString().split('\n').filter(Boolean)));
  return until(() => out.includes('READY'), 15_000, `node ${nodeId} ready`).then(() => ({ child, out }));
}

function stopNode(n: NodeProcess, signal: NodeJS.Signals): Promise<void> {
  if (n.child.exitCode !== null || n.child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    n.child.once('exit', () => resolve());
    n.child.kill(signal);
  });
}

const chatsOf = (model: string) => server.requests.filter((r) => r.endpoint === 'chat' && r.model === model);

describe('a team node SIGKILLed mid-run', () => {
  it('resumes the run on another node: finished members answer from their journals, no call paid twice', async () => {
    server.script('researcher', (req) => `notes on ${req.lastUserText}`);
    server.script('writer', () => 'a draft');
    server.script('editor', () => 'the final text');
    server.fault('editor', 'hang', { times: 1 }); // the doomed node's editor call never answers
    const ns = `team${randomBytes(3).toString('hex')}`;
    const nodes: NodeProcess[] = [];
    let client: ActorSystem | undefined;
    try {
      const doomed = await startNode(ns, 'doomed');
      nodes.push(doomed);
      client = await createSystem({
        nodeId: `client-${randomBytes(2).toString('hex')}`,
        transport: natsTransport({ servers: nats.url, namespace: ns }),
      });
      const lost = client
        .ref<TeamProtocol>('doomed/crew')
        .ask({ type: 'run', input: 'tides', runId: 'crash-1' }, { timeout: 30_000 })
        .catch((e: unknown) => e);
      await until(() => chatsOf('editor').length === 1, 15_000, "the editor's model call");
      expect([chatsOf('researcher').length, chatsOf('writer').length]).toEqual([1, 1]);
      await stopNode(doomed, 'SIGKILL');
      expect(doomed.child.signalCode).toBe('SIGKILL');

      const heir = await startNode(ns, 'heir');
      nodes.push(heir);
      const result = (await client
        .ref<TeamProtocol>('heir/crew')
        .ask({ type: 'run', input: 'tides', runId: 'crash-1' }, { timeout: 30_000 })) as TeamResult;
      expect(result.output).toBe('the final text');
      expect(result.transcript.map((t) => [t.member, t.runId, t.output])).toEqual([
        ['researcher', 'crash-1:researcher:1', 'notes on tides'],
        ['writer', 'crash-1:writer:1', 'a draft'],
        ['editor', 'crash-1:editor:1', 'the final text'],
      ]);
      // Only the call cut short by the crash was made again.
      expect([chatsOf('researcher').length, chatsOf('writer').length, chatsOf('editor').length]).toEqual([
        1, 1, 2,
      ]);
      const [first, second] = chatsOf('editor').map((r) => JSON.stringify(r.body));
      expect(second).toBe(first); // the same request: the writer's draft came from its journal
      void lost;
    } finally {
      await client?.close();
      await Promise.all(nodes.map((n) => stopNode(n, 'SIGKILL')));
    }
  }, 60_000);
});
