// Every example under examples/ runs here or in walkthrough.test.ts, against real servers, importing `troupe`
// as a user's code does (the package resolves its own name through its "exports").

import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSystem, type Reply } from '../../runtime/index.js';
import { type ServerProcess, startNats, startRedis } from '../../testing/index.js';
import { natsTransport } from '../../transport/index.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const examples = join(root, 'examples');
const bin = join(root, 'bin', 'troupe.js');

/** Where each example runs; a new example without an entry fails the first test. */
const RUN_BY: Record<string, string> = {
  'fleet.mjs': 'this file',
  'load/http-api.mjs': 'load-cli.test.ts',
  'walkthrough/tasks.mjs': 'walkthrough.test.ts',
  'walkthrough/actors.mjs': 'walkthrough.test.ts',
  'walkthrough/client.mjs': 'walkthrough.test.ts',
  'topics/support-desk.mjs': 'integration/topics-example.test.ts',
  'triggers/reminders.mjs': 'integration/triggers-example.test.ts',
  'enrichment/leads.mjs': 'integration/enrichment-examples.test.ts',
  'graphs/decision.mjs': 'integration/enrichment-examples.test.ts',
  'graphs/parallel-evaluation.mjs': 'integration/enrichment-examples.test.ts',
  'graphs/branching.mjs': 'integration/enrichment-examples.test.ts',
  'teams/sequential.mjs': 'integration/teams-examples.test.ts',
  'teams/parallel.mjs': 'integration/teams-examples.test.ts',
  'teams/orchestrator.mjs': 'integration/teams-examples.test.ts',
  'teams/debate.mjs': 'integration/teams-examples.test.ts',
  'teams/peer-review.mjs': 'integration/teams-examples.test.ts',
  'teams/hierarchical.mjs': 'integration/teams-examples.test.ts',
};

function exampleFiles(dir = examples): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? exampleFiles(join(dir, entry.name))
      : /\.(mjs|js|ts)$/.test(entry.name)
        ? [relative(examples, join(dir, entry.name))]
        : [],
  );
}

let nats: ServerProcess;
let redis: ServerProcess;
const nodes: ChildProcess[] = [];
beforeAll(async () => {
  [nats, redis] = await Promise.all([startNats(), startRedis()]);
});
afterAll(async () => {
  for (const node of nodes) if (node.exitCode === null && node.signalCode === null) node.kill('SIGKILL');
  await Promise.all([nats?.stop(), redis?.stop()]);
});

describe('examples', () => {
  it('each runs in a test, and imports troupe by its package name only', () => {
    const files = exampleFiles().sort();
    expect(files).toEqual(Object.keys(RUN_BY).sort());
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    for (const file of files) {
      const source = readFileSync(join(examples, file), 'utf8');
      const specifiers = [...source.matchAll(/\bfrom\s+'([^']+)'|\bimport\(\s*'([^']+)'\s*\)/g)].map(
        (m) => m[1] ?? m[2],
      );
      expect(
        specifiers.filter((s) => s === 'troupe' || s?.startsWith('troupe/')).length,
        file,
      ).toBeGreaterThan(0);
      // Relative imports stay among the examples: never into dist/ or the sources.
      expect(
        specifiers.filter((s) => s?.startsWith('.') && !/^\.\/[\w-]+\.mjs$/.test(s)),
        file,
      ).toEqual([]);
      if (RUN_BY[file] === 'walkthrough.test.ts') expect(readme, file).toContain(`examples/${file}`);
    }
  });

  it('fleet.mjs: one module as tasks and actors for troupe node, as the compose file runs it', async () => {
    const fleet = join('examples', 'fleet.mjs');
    const node = spawn(
      process.execPath,
      [bin, 'node', '--nats', nats.url, '--redis', redis.url, '--tasks', fleet, '--actors', fleet],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    nodes.push(node);
    let output = '';
    node.stdout?.on('data', (c: Buffer) => {
      output += c.toString();
    });
    node.stderr?.on('data', (c: Buffer) => {
      output += c.toString();
    });

    await using client = await createSystem({ transport: natsTransport({ servers: nats.url }) });
    type Note = { append: { text: string }; read: Reply<string>; count: Reply<{ words: number }> };
    const note = client.virtual<Note>('note', 'example');
    // The node hosts `note` once it is up: until then the ask finds no responders.
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (node.exitCode !== null) throw new Error(`troupe node exited ${node.exitCode}:\n${output}`);
      try {
        await note.ask({ type: 'read' }, { timeout: 1000 });
        break;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`${(err as Error).message}\n${output}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    note.tell({ type: 'append', text: 'three little words' });
    expect(await note.ask({ type: 'read' })).toBe('three little words');
    expect(await note.ask({ type: 'count' }, { timeout: 15_000 })).toEqual({ words: 3 });

    const exited = new Promise<number | null>((resolve) => node.once('exit', resolve));
    node.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 60_000);
});
