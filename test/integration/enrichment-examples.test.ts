// The graph seed examples (examples/graphs/) and the enrichment example (examples/enrichment/) run as a user runs
// them, importing troupe by its package name (dist/: build first), and print what this test checks.

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ServerProcess, startNats } from '../../testing/index.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);

/** Runs an example and parses the JSON line it ends with. */
async function example(file: string, env: Record<string, string> = {}): Promise<Record<string, unknown>> {
  const { stdout } = await run(process.execPath, [join(root, 'examples', file)], {
    cwd: root,
    env: { ...process.env, TROUPE_LOG_LEVEL: 'error', ...env },
    timeout: 30_000,
  });
  const last = stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(last) as Record<string, unknown>;
}

let nats: ServerProcess;
beforeAll(async () => {
  nats = await startNats();
});
afterAll(() => nats.stop());

describe('graph examples', () => {
  it('graphs/decision.mjs: approves the low-risk application and refers the other', async () => {
    const out = await example('graphs/decision.mjs');
    expect(out.results).toEqual([
      expect.objectContaining({ amount: 20_000, decision: 'approved', reason: 'risk 0.08 is within policy' }),
      expect.objectContaining({ amount: 150_000, decision: 'referred', reason: 'risk 0.75 needs a human' }),
    ]);
  });

  it('graphs/parallel-evaluation.mjs: three judges on the offline model server, joined into a verdict', async () => {
    const out = await example('graphs/parallel-evaluation.mjs');
    expect(out).toEqual({
      example: 'parallel-evaluation',
      scores: { clarity: 8, accuracy: 9, tone: 6 },
      verdict: { mean: 7.67, pass: true },
      calls: 3,
    });
  });

  it('graphs/branching.mjs: one branch, two at once, and a bounded loop', async () => {
    const out = await example('graphs/branching.mjs');
    const results = out.results as { labels: string[]; replies: string[]; drafts: number }[];
    expect(results.map((r) => r.labels)).toEqual([['billing'], ['billing', 'technical'], ['general']]);
    expect(results[1]?.replies).toEqual([
      'billing: a refund request was opened',
      'technical: draft 1',
      'technical: draft 2',
    ]);
    expect(results.map((r) => r.drafts)).toEqual([0, 2, 0]);
  });
});

describe('enrichment example', () => {
  it('enrichment/leads.mjs: fetches through tools once per domain; a second process hits the NATS KV cache', async () => {
    const env = { NATS_URL: nats.url, BUCKET: `leads-${randomBytes(3).toString('hex')}` };
    const first = await example('enrichment/leads.mjs', env);
    const results = [
      { domain: 'acme.io', score: 4.55, tier: 'B' },
      { domain: 'globex-corporation.com', score: 14.3, tier: 'A' },
      { domain: 'acme.io', score: 4.55, tier: 'B' },
    ];
    expect(first).toMatchObject({
      results,
      calls: { company: 2, traffic: 2 },
      cache: { hits: 2, misses: 4, errors: 0 },
    });
    // Another process on the same bucket: every data point is fresh in the fleet's cache.
    const second = await example('enrichment/leads.mjs', env);
    expect(second).toMatchObject({
      results,
      calls: { company: 0, traffic: 0 },
      cache: { hits: 6, misses: 0 },
    });
  });
});
