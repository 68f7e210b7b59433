// Runs each example of examples/teams/ as a user would (`node examples/teams/<name>.mjs`, troupe imported by its
// package name, so `npm run build` first) and checks what it prints: every team pattern runs offline.

import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = join(root, 'examples', 'teams');

async function runExample(name: string): Promise<string[]> {
  const { stdout } = await promisify(execFile)(process.execPath, [join(dir, name)], {
    cwd: root,
    env: { ...process.env, TROUPE_LOG_LEVEL: 'silent' },
    timeout: 30_000,
  });
  return stdout.split('\n').filter(Boolean);
}

/** What each example must print (lines, in order, among others). */
const EXPECTED: Record<string, (string | RegExp)[]> = {
  'sequential.mjs': [
    /^researcher: Tides: the moon/,
    /^writer: Draft\. Tides/,
    /^editor: Tides: .* That is why there are two tides a day\.$/,
    /^result \(done\): Tides: .*two tides a day\.$/,
  ],
  'parallel.mjs': [
    'market: Demand is growing 8% a year.',
    'cost: Unit cost falls below price at 10k units.',
    'risk: Main risk: one supplier.',
    'workers ran at once: true',
    /^result \(done\): Summary\. market: .* cost: .* risk: Main risk: one supplier\.$/,
  ],
  'orchestrator.mjs': [
    /^\[round 1\] lead: .*"worker":"coder"/,
    /^\[round 1\] coder: /,
    /^\[round 1\] tester: NaN/,
    /^\[round 2\] coder: .*Number\.isFinite/,
    /^\[round 3\] lead: .*"tasks":\[\]/,
    'result (done, 3 rounds): Shipped: const add = (a, b) => (Number.isFinite(a + b) ? a + b : 0);',
  ],
  'debate.mjs': [
    '[round 1] optimist: Remote work widens hiring and saves commuting.',
    '[round 1] judge: Both have a point; go on.',
    '[round 2] sceptic: Tools do not replace hallway talk.',
    'verdict (verdict after 2 rounds): Hybrid: remote by default, mentoring in person. winner=optimist',
    /^team budget spent: [1-9]\d* tokens$/,
  ],
  'peer-review.mjs': [
    /^\[round 1\] methods: .*"approved":false/,
    /^\[round 2\] author: .*n=30/,
    /^\[round 2\] methods: .*"approved":true/,
    'result (approved in round 2): Abstract: on 3 workloads, caching halves p50 latency (n=30 runs each).',
  ],
  'hierarchical.mjs': [
    /^ceo \(dc-1:ceo:1\): .*"worker":"finance"/,
    'finance (dc-1:finance:1.1): total 1500 k$/year',
    '  capex (dc-1:finance:1.1:capex:1): 1200',
    /^engineering \(dc-1:engineering:1\.2\): Reviewed: The cloud is enough/,
    '  reviewer (dc-1:engineering:1.2:reviewer:1): Reviewed: The cloud is enough for 3 years at current growth.',
    'tree: company(ceo,finance(capex,opex),engineering(architect,reviewer))',
    'result (done): Decision: stay on the cloud.',
  ],
};

describe('examples/teams', () => {
  it('has an expectation for each example', () => {
    expect(
      readdirSync(dir)
        .filter((f) => f.endsWith('.mjs'))
        .sort(),
    ).toEqual(Object.keys(EXPECTED).sort());
  });

  for (const [name, expected] of Object.entries(EXPECTED))
    it(`${name} runs offline and prints its team's result`, async () => {
      const lines = await runExample(name);
      let at = 0;
      for (const want of expected) {
        const found = lines.findIndex(
          (l, i) => i >= at && (typeof want === 'string' ? l === want : want.test(l)),
        );
        expect(found, `${name}: ${String(want)} in\n${lines.join('\n')}`).toBeGreaterThanOrEqual(0);
        at = found + 1;
      }
    });
});
