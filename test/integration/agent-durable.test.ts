// Journaled agent runs on JetStream, through the real `openai` client against the offline model server: an
// approval pauses a streaming run and survives its node's restart; and a node process SIGKILLed mid-loop, the
// run resumed on another process from its journal: the same model calls as a run without the crash, the same
// answer, no tokens billed twice.

import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type AgentEventMessage, agentKit } from '../../agents/agent/index.js';
import { defineTool, ToolRegistry } from '../../agents/tools/index.js';
import { modelRouter } from '../../models/index.js';
import {
  type ActorSystem,
  type AppendLog,
  createSystem,
  defineActor,
  type KeyValueStore,
} from '../../runtime/index.js';
import { type LlmServer, type ServerProcess, startLlmServer, startNats } from '../../testing/index.js';
import { natsAppendLog, natsKeyValue, natsTransport } from '../../transport/index.js';
import { until } from '../helpers/fixtures.js';
import { on } from '../helpers/models.js';
import { type NodeProcess, startNodeProcess, stopNodeProcess } from '../helpers/node-process.js';

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

const chats = () => server.requests.filter((r) => r.endpoint === 'chat');

describe('approval', () => {
  it('pauses a streaming run, survives the node restarting while it waits, and finishes once approved', async () => {
    const ns = `ap${randomBytes(3).toString('hex')}`;
    const log: AppendLog = await natsAppendLog({ servers: nats.url, name: 'journal', namespace: ns });
    const blobs: KeyValueStore = await natsKeyValue({ servers: nats.url, bucket: `blobs-${ns}` });
    const transfers: unknown[] = [];
    const tools = new ToolRegistry().register(
      defineTool({
        name: 'transfer',
        description: 'Moves money',
        input: z.object({ amount: z.number() }),
        needsApproval: (input) => input.amount > 100,
        run: (input) => {
          transfers.push(input);
          return 'transferred';
        },
      }),
    );
    server.script('approver', [
      { text: 'Moving it now.', toolCalls: [{ id: 't1', name: 'transfer', arguments: { amount: 500 } }] },
      'Done: 500 moved.',
    ]);
    const router = modelRouter({ groups: { g: { deployments: [on(server, 'approver')] } } });
    const before = chats().length;

    /** A node: the agent spawned under a fixed name, and a collector of its events. */
    async function node(): Promise<{
      system: ActorSystem;
      events: AgentEventMessage[];
      agent: ReturnType<ActorSystem['spawn']>;
    }> {
      const system = await createSystem({ nodeId: 'desk-node' });
      const kit = agentKit({ router, tools, journal: { log, blobs } });
      const agent = system.spawn(
        kit.defineAgent({ name: 'cashier', model: 'g', instructions: 'Pay.', tools: ['transfer'] }),
        { name: 'cashier' },
      );
      const events: AgentEventMessage[] = [];
      const collector = system.spawn(
        defineActor<{ agentEvent: AgentEventMessage }>({
          handlers: { agentEvent: (e) => void events.push(e as unknown as AgentEventMessage) },
        }),
      );
      agent.tell({ type: 'subscribe', to: collector.address });
      return { system, events, agent: agent as never };
    }

    const first = await node();
    const pending = (first.agent as never as { ask: (m: unknown, o: unknown) => Promise<unknown> })
      .ask({ type: 'run', input: 'pay 500', runId: 'pay-1' }, { timeout: 10_000 })
      .catch((err: unknown) => err);
    await until(() => first.events.some((e) => e.kind === 'approval'), 5000, 'the approval request');
    const approval = first.events.find((e) => e.kind === 'approval');
    expect(approval).toMatchObject({ runId: 'pay-1', callId: 't1', name: 'transfer' });
    expect(first.events.filter((e) => e.kind === 'token').length).toBeGreaterThan(0); // it streamed
    expect(transfers).toEqual([]);
    await first.system.close(); // the node goes away while the run waits
    expect(await pending).toBeInstanceOf(Error);

    const second = await node();
    const agent = second.agent as never as { ask: (m: unknown, o?: unknown) => Promise<unknown> };
    const status = (await agent.ask({ type: 'status' })) as { runs: { runId: string; state: string }[] };
    expect(status.runs).toEqual([expect.objectContaining({ runId: 'pay-1', state: 'awaiting-approval' })]);
    expect(
      await agent.ask({ type: 'approve', runId: 'pay-1', callId: 't1', approved: true, by: 'alice' }),
    ).toEqual({
      runId: 'pay-1',
      callId: 't1',
      state: 'approved',
    });
    expect(await agent.ask({ type: 'run', input: 'pay 500', runId: 'pay-1' }, { timeout: 10_000 })).toBe(
      'Done: 500 moved.',
    );
    expect(transfers).toEqual([{ amount: 500 }]);
    const calls = chats().slice(before);
    expect(calls).toHaveLength(2); // one call before the approval, one after: none repeated by the restart
    expect(calls.every((c) => c.stream)).toBe(true);
    expect(
      second.events
        .filter((e) => e.kind === 'token')
        .map((e) => (e as { text: string }).text)
        .join(''),
    ).toBe('Done: 500 moved.');
    expect(second.events.at(-1)).toMatchObject({ kind: 'finished', reason: 'answer' });
    await second.system.close();
    await router.close();
    await blobs.close();
    await log.close();
  }, 30_000);
});

const FIXTURE = fileURLToPath(new URL('./fixtures/agent-node.mjs', import.meta.url));

function startNode(ns: string, nodeId: string, block: boolean): Promise<NodeProcess> {
  const env = {
    NATS_URL: nats.url,
    LLM_URL: server.url,
    NS: ns,
    NODE_ID: nodeId,
    AGENT_BLOCK: block ? '1' : '0',
  };
  return startNodeProcess(FIXTURE, env, `node ${nodeId}`);
}

const stopNode = stopNodeProcess;

/** Deterministic replies: the step is the number of tool results in the conversation so far. */
function scriptDesk(): void {
  server.script('m', (req) => {
    const results = req.messages.filter((m) => m.role === 'tool');
    if (results.length === 0) return { toolCalls: [{ id: 'c1', name: 'lookup', arguments: { key: 'abc' } }] };
    if (results.length === 1) return { toolCalls: [{ id: 'c2', name: 'slow', arguments: {} }] };
    return `answer: ${results.map((m) => String(m.content)).join(' + ')}`;
  });
}

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

const billedSince = (before: { calls: number; inputTokens: number; outputTokens: number }) => {
  const now = server.billed.total;
  return {
    calls: now.calls - before.calls,
    tokens: now.inputTokens + now.outputTokens - before.inputTokens - before.outputTokens,
  };
};

describe('a node SIGKILLed mid-loop', () => {
  it('resumes the run on another node process: exactly the calls of a crash-free run, the same answer', async () => {
    scriptDesk();
    const nodes: NodeProcess[] = [];
    const clients: ActorSystem[] = [];
    try {
      // A crash-free run, for reference.
      const nsA = `ok${randomBytes(3).toString('hex')}`;
      nodes.push(await startNode(nsA, 'base', false));
      const c0 = await client(nsA);
      clients.push(c0);
      const billed0 = server.billed.total;
      const calls0 = chats().length;
      const reference = await c0
        .virtual('desk', 'd1')
        .ask({ type: 'run', input: 'look up abc', runId: 'run-1' }, { timeout: 20_000 });
      const referenceCalls = chats().length - calls0;
      const referenceBilled = billedSince(billed0);
      expect(reference).toBe('answer: ABC + slow-done');
      expect(referenceCalls).toBe(3);

      // The same run on a node that dies inside the second step's tool call.
      const nsB = `kill${randomBytes(3).toString('hex')}`;
      const doomed = await startNode(nsB, 'doomed', true);
      nodes.push(doomed);
      const c1 = await client(nsB);
      clients.push(c1);
      const billed1 = server.billed.total;
      const calls1 = chats().length;
      const desk = c1.virtual('desk', 'd1');
      const lost = desk
        .ask({ type: 'run', input: 'look up abc', runId: 'run-1' }, { timeout: 30_000 })
        .catch((e: unknown) => e);
      await until(() => doomed.out.includes('BLOCKING'), 15_000, 'the slow tool');
      expect(chats().length - calls1).toBe(2); // two model calls made, both journaled
      await stopNode(doomed, 'SIGKILL');
      expect(doomed.child.signalCode).toBe('SIGKILL');

      const heir = await startNode(nsB, 'heir', false);
      nodes.push(heir);
      const answer = await desk.ask(
        { type: 'run', input: 'look up abc', runId: 'run-1' },
        { timeout: 30_000 },
      );
      expect(answer).toBe(reference);
      expect(chats().length - calls1).toBe(referenceCalls);
      expect(billedSince(billed1)).toEqual(referenceBilled); // 0 tokens spent twice
      // The tool call completed before the crash is not run again; the one cut short is.
      expect(doomed.out.filter((l) => l.startsWith('RAN'))).toEqual(['RAN lookup', 'RAN slow']);
      expect(heir.out.filter((l) => l.startsWith('RAN'))).toEqual(['RAN slow']);
      void lost;
    } finally {
      await Promise.all(clients.map((c) => c.close()));
      await Promise.all(nodes.map((n) => stopNode(n, 'SIGKILL')));
    }
  }, 60_000);
});
