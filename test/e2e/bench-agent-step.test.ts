// `troupe bench agent-step` wired end to end on a small count: every figure measured, none failed. No timing is
// asserted, only what does not depend on the machine: the journal grows by about the same bytes per step at 10,
// 50 and 100 steps (linear), far below a whole-conversation-per-step journal at 100.

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateReport } from '../../bench/report.js';
import { type ServerProcess, startNats } from '../../testing/index.js';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../../bin/troupe.js', import.meta.url));

let dir: string;
let nats: ServerProcess;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'troupe-bench-agent-'));
  nats = await startNats();
});
afterAll(async () => {
  await nats.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('troupe bench agent-step', () => {
  it('measures every figure: overhead with the journal off, in memory and on JetStream, growth, idle agents', async () => {
    const json = join(dir, 'agent-step.json');
    const args = ['bench', 'agent-step', '--quick', '--repeat', '1', '--count', '50', '--round-ms', '2000'];
    await run(process.execPath, [bin, ...args, '--nats', nats.url, '--json', json], { timeout: 120_000 });
    const report = validateReport(JSON.parse(readFileSync(json, 'utf8')));
    const scenario = report.scenarios[0]!;
    expect(scenario.name).toBe('agent-step');
    expect(scenario.error).toBeNull();
    const figure = (id: string) => scenario.metrics.find((m) => m.id === id)!;
    expect(scenario.metrics.map((m) => m.id)).toEqual([
      'p50',
      'p99',
      'added-p50',
      'added-p99',
      'added-p50-memory',
      'added-p99-memory',
      'added-p50-jetstream',
      'added-p99-jetstream',
      'journal-bytes-10',
      'journal-bytes-50',
      'journal-bytes-100',
      'idle-heap',
      'idle-rss',
    ]);
    for (const m of scenario.metrics) expect(m.troupe.samples, m.id).toHaveLength(1);
    expect(figure('p50').baseline?.median).toBeGreaterThan(0);
    const perStep = [10, 50, 100].map((n) => figure(`journal-bytes-${n}`).troupe.median);
    expect(Math.max(...perStep) / Math.min(...perStep)).toBeLessThan(1.2); // linear growth
    expect(figure('journal-bytes-100').ratio).toBeLessThan(0.2); // vs the whole conversation per step
    expect(figure('idle-heap').troupe.median).toBeGreaterThan(0);
  }, 150_000);
});
