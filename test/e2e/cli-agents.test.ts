// `troupe agents` and `troupe approve` as a user runs them (bin/troupe.js, a child process) against a real
// nats-server: cards a test process publishes in the default KV bucket are listed, stale ones marked, ranked for
// a capability; and approve asks a fixture agent actor with the approve message and prints its answer.

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentCardInput, type AgentRegistry, agentRegistry, cardKey } from '../../agents/index.js';
import {
  type ActorSystem,
  createSystem,
  defineActor,
  type KeyValueStore,
  type Reply,
  TroupeError,
} from '../../runtime/index.js';
import { type ServerProcess, startNats } from '../../testing/index.js';
import { natsKeyValue, natsTransport } from '../../transport/index.js';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../../bin/troupe.js', import.meta.url));

let nats: ServerProcess;
let store: KeyValueStore;
let registry: AgentRegistry;
const ns = `ag${randomBytes(3).toString('hex')}`;

async function troupe(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], {
      timeout: 30_000,
      env: { ...process.env, NATS_URL: nats.url, TROUPE_NAMESPACE: ns, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

const card = (name: string, address: string, extra: Partial<AgentCardInput> = {}): AgentCardInput => ({
  name,
  address,
  description: `${name} agent`,
  capabilities: ['plan'],
  model: 'main',
  costPer1kTokens: { input: 0.001, output: 0.002 },
  ...extra,
});

beforeAll(async () => {
  nats = await startNats();
  // The agents' default: the shared bucket, no key namespace.
  store = await natsKeyValue({ servers: nats.url });
  registry = agentRegistry({ store });
});
afterAll(async () => {
  await registry?.close();
  await store?.close();
  await nats?.stop();
});

describe('troupe agents', () => {
  it('lists the cards the fleet published, marks stale ones, and ranks for a capability', async () => {
    await registry.publish(card('planner', 'n1/planner', { p50LatencyMs: 900, load: 2 }));
    await registry.publish(
      card('cheap-planner', 'n2/planner', { costPer1kTokens: { input: 0.0001, output: 0.0002 } }),
    );
    await registry.publish(card('coder', 'n2/coder', { capabilities: ['code'], model: 'code-model' }));
    // A card its agent stopped refreshing a minute ago.
    const old = { ...card('ghost', 'n3/ghost'), node: 'n3', p50LatencyMs: 0, successRate: 1, load: 0 };
    await store.put(cardKey('ghost', 'n3/ghost'), JSON.stringify({ ...old, updatedAt: Date.now() - 60_000 }));

    const listed = await troupe(['agents', '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    const cards = JSON.parse(listed.stdout) as {
      name: string;
      address: string;
      stale: boolean;
      load: number;
    }[];
    expect(cards.map((c) => [c.name, c.address, c.stale])).toEqual([
      ['cheap-planner', 'n2/planner', false],
      ['coder', 'n2/coder', false],
      ['ghost', 'n3/ghost', true],
      ['planner', 'n1/planner', false],
    ]);
    expect(cards.find((c) => c.name === 'planner')?.load).toBe(2);

    const ranked = await troupe(['agents', '--capability', 'plan', '--json']);
    expect(ranked.code, ranked.stderr).toBe(0);
    const order = JSON.parse(ranked.stdout) as { name: string; score: number }[];
    expect(order.map((c) => c.name)).toEqual(['cheap-planner', 'planner']);
    expect(order[0]!.score).toBeLessThan(order[1]!.score);

    const limited = await troupe(['agents', '--capability', 'plan', '--max-cost', '0.001', '--json']);
    expect((JSON.parse(limited.stdout) as { name: string }[]).map((c) => c.name)).toEqual(['cheap-planner']);

    const text = await troupe(['agents']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^NAME\s+ADDRESS\s+NODE\s+MODEL\s+CAPABILITIES/);
    expect(text.stdout).toMatch(/ghost\s+n3\/ghost\s+n3\s+main\s+plan\s.*\(stale\)/);
    expect(text.stdout).toMatch(/coder\s+n2\/coder\s+n2\s+code-model\s+code\s/);
    const table = await troupe(['agents', '--capability', 'plan']);
    expect(table.stdout.split('\n')[0]).toMatch(/^SCORE\s+NAME/);
    expect(table.stdout.split('\n')[1]).toContain('cheap-planner');

    // Another bucket has none of them.
    const other = await troupe(['agents', '--bucket', 'elsewhere', '--json']);
    expect(other.code, other.stderr).toBe(0);
    expect(JSON.parse(other.stdout)).toEqual([]);
    const bad = await troupe(['agents', '--limit', '2']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--capability');
  });
});

describe('troupe approve', () => {
  let system: ActorSystem;
  const got: unknown[] = [];

  beforeAll(async () => {
    system = await createSystem({
      nodeId: 'fx',
      transport: natsTransport({ servers: nats.url, namespace: ns }),
    });
    // A stand-in agent: records each approve and answers like the agent actor does.
    type Approve = { runId: string; callId: string; approved: boolean; by?: string; reason?: string };
    const reviewer = defineActor<{ approve: Approve & Reply<unknown> }>({
      type: 'fixture-agent',
      handlers: {
        approve: (msg, ctx) => {
          got.push(msg);
          // Like the agent: a wrong approve fails the ask, not the actor.
          if (msg.runId !== 'run-1')
            return ctx.fail(new TroupeError('AGENT_UNKNOWN_RUN', `no run ${msg.runId}`));
          return { runId: msg.runId, callId: msg.callId, state: msg.approved ? 'approved' : 'rejected' };
        },
      },
    });
    system.spawn(reviewer, { name: 'reviewer' });
  });
  afterAll(() => system?.close());

  it('asks the agent with the approve message and prints its acknowledgement', async () => {
    const ok = await troupe([
      'approve',
      'fx/reviewer',
      'run-1',
      'call-7',
      '--by',
      'alice',
      '--reason',
      'fine',
      '--json',
    ]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toEqual({
      ok: true,
      address: 'fx/reviewer',
      reply: { runId: 'run-1', callId: 'call-7', state: 'approved' },
    });
    expect(got.at(-1)).toEqual({
      type: 'approve',
      runId: 'run-1',
      callId: 'call-7',
      approved: true,
      by: 'alice',
      reason: 'fine',
    });

    const rejected = await troupe(['approve', 'reviewer', 'run-1', 'call-8', '--reject'], { USER: 'bob' });
    expect(rejected.code, rejected.stderr).toBe(0);
    expect(rejected.stdout).toContain('rejected call call-8 of run run-1 on fx/reviewer');
    expect(got.at(-1)).toEqual({
      type: 'approve',
      runId: 'run-1',
      callId: 'call-8',
      approved: false,
      by: 'bob',
    });

    const unknown = await troupe(['approve', 'fx/reviewer', 'run-9', 'call-1']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('AGENT_UNKNOWN_RUN');
    expect(got).toHaveLength(3);

    const usage = await troupe(['approve', 'fx/reviewer', 'run-1']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('expected <agent> <runId> <callId>');
    const help = await troupe(['approve', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--reject');
  });
});
