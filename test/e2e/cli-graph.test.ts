// `troupe graph run def.json`: embedded, and on NATS where the run outlives the command: it stops at an input
// node (exit 3), and the same command with --run-id and --resume goes on from the checkpoint without calling
// the model again.

import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LlmServer, type ServerProcess, startLlmServer, startNats } from '../../testing/index.js';

const bin = fileURLToPath(new URL('../../bin/troupe.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'troupe-graph-'));

const def = {
  name: 'triage',
  state: { text: 'replace', label: 'replace', reply: 'replace', approval: 'replace' },
  nodes: [
    { name: 'classify', type: 'llm', config: { prompt: 'classify: {{text}}', field: 'label' } },
    { name: 'approve', type: 'input', config: { field: 'approval', question: 'page on-call for {{text}}?' } },
    {
      name: 'escalate',
      type: 'template',
      config: { field: 'reply', text: 'paging ({{approval}}): {{label}}' },
    },
    { name: 'queue', type: 'set', config: { reply: 'queued' } },
  ],
  edges: [
    { from: '__start__', to: 'classify' },
    { from: 'approve', to: 'escalate' },
  ],
  conditionalEdges: [
    {
      from: 'classify',
      branches: [{ when: "label == 'Echo: classify: db down'", to: 'approve' }],
      otherwise: 'queue',
    },
  ],
};
const file = join(dir, 'triage.json');
writeFileSync(file, JSON.stringify(def));

/** Runs the CLI without blocking this process (its model server answers from here). */
function troupe(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [bin, ...args], {
    env: { ...process.env, TROUPE_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve) =>
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    }),
  );
}

let nats: ServerProcess;
let llm: LlmServer;
beforeAll(async () => {
  [nats, llm] = await Promise.all([startNats(), startLlmServer()]);
});
afterAll(async () => {
  await llm.close();
  await nats.stop();
});

describe('troupe graph', () => {
  it('validates a definition, and refuses a bad one with its code', async () => {
    const ok = await troupe(['graph', 'validate', file, '--json']);
    expect(ok.status).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({
      ok: true,
      nodes: ['classify', 'approve', 'escalate', 'queue'],
    });
    const badFile = join(dir, 'bad.json');
    writeFileSync(badFile, JSON.stringify({ ...def, edges: [{ from: '__start__', to: 'nowhere' }] }));
    const bad = await troupe(['graph', 'validate', badFile]);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain('GRAPH_MISSING_TARGET');
  });

  it('runs embedded with the offline model server', async () => {
    const r = await troupe(['graph', 'run', file, '--input', '{"text":"printer jam"}', '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      status: 'done',
      steps: 2,
      state: { label: 'Echo: classify: printer jam', reply: 'queued' },
    });
  });

  it('on NATS: stops at an input node, then resumes from the checkpoint without a second model call', async () => {
    const common = [
      '--nats',
      nats.url,
      '--namespace',
      'cligraph',
      '--model-url',
      llm.url,
      '--run-id',
      'inc-1',
    ];
    const before = llm.requests.filter((r) => r.endpoint === 'chat').length;
    const first = await troupe(['graph', 'run', file, ...common, '--input', '{"text":"db down"}', '--json']);
    expect(first.status, first.stderr).toBe(3);
    expect(JSON.parse(first.stdout)).toMatchObject({
      status: 'interrupted',
      interrupts: [{ node: 'approve', payload: 'page on-call for db down?' }],
    });
    const second = await troupe(['graph', 'run', file, ...common, '--resume', '"yes"', '--json']);
    expect(second.status, second.stderr).toBe(0);
    expect(JSON.parse(second.stdout)).toMatchObject({
      status: 'done',
      steps: 3,
      state: { reply: 'paging (yes): Echo: classify: db down' },
    });
    expect(llm.requests.filter((r) => r.endpoint === 'chat').length - before).toBe(1);
  });
});
