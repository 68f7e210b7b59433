// examples/topics/support-desk.mjs runs as a user's code does (importing `troupe`, `troupe/runtime`,
// `troupe/transport`, `troupe/workflows`), embedded and on a real nats-server: every ticket triaged by its
// customer's desk in order, both urgent ones escalated, the broadcast seen.

import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ServerProcess, startNats } from '../../testing/index.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);

let nats: ServerProcess;
beforeAll(async () => {
  nats = await startNats();
});
afterAll(async () => {
  await nats?.stop();
});

function check(stdout: string): void {
  const lines = stdout.trim().split('\n');
  expect(lines.filter((l) => l.startsWith('desk ada '))).toEqual([
    'desk ada #1: I was charged twice -> billing',
    'desk ada #2: Still no refund, this is urgent -> urgent',
  ]);
  expect(lines.filter((l) => l.startsWith('desk bob '))).toEqual([
    'desk bob #1: The app crashes on start -> general',
    'desk bob #2: Crash again, urgent please -> urgent',
  ]);
  expect(lines).toContain('desk cy #1: How do I export my data? -> general');
  expect(lines.filter((l) => l.startsWith('escalate ')).sort()).toEqual([
    'escalate ada: Still no refund, this is urgent',
    'escalate bob: Crash again, urgent please',
  ]);
  expect(lines).toContain('escalations got the broadcast: maintenance tonight at 22:00');
  expect(lines.at(-1)).toBe('done');
}

describe('examples/topics', () => {
  it('support-desk.mjs runs embedded', async () => {
    const { stdout } = await run(process.execPath, ['examples/topics/support-desk.mjs'], {
      cwd: root,
      timeout: 30_000,
    });
    check(stdout);
  }, 40_000);

  it('support-desk.mjs runs on NATS', async () => {
    const { stdout } = await run(process.execPath, ['examples/topics/support-desk.mjs', '--nats', nats.url], {
      cwd: root,
      timeout: 30_000,
    });
    check(stdout);
  }, 40_000);
});
