// examples/triggers/reminders.mjs runs as a user's code does (importing `troupe`, `troupe/workflows`), embedded
// and on a real nats-server: three chases then a cancel, one audit for the one large payment.

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
  expect(lines.filter((l) => l.startsWith('chase '))).toHaveLength(3);
  expect(lines).toContain('paid: reminder cancelled');
  expect(lines.filter((l) => l.startsWith('audit '))).toEqual(['audit payment p2 of 5000']);
  expect(lines).toContain('nightly run after 2026-12-01T12:00Z: 2026-12-02T02:00:00.000Z');
  expect(lines.at(-1)).toBe('done');
}

describe('examples/triggers', () => {
  it('reminders.mjs runs embedded', async () => {
    const { stdout } = await run(process.execPath, ['examples/triggers/reminders.mjs'], {
      cwd: root,
      timeout: 30_000,
    });
    check(stdout);
  }, 40_000);

  it('reminders.mjs runs on NATS', async () => {
    const { stdout } = await run(process.execPath, ['examples/triggers/reminders.mjs', '--nats', nats.url], {
      cwd: root,
      timeout: 30_000,
    });
    check(stdout);
  }, 40_000);
});
