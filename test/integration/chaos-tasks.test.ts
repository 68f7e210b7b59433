// The tasks-faults scenario's short run: tasks on two worker processes while a worker is SIGKILLed and Redis
// restarts twice: no acknowledged job lost, no worker crash, every run() settles, every rejection has a code.

import { describe, expect, it } from 'vitest';
import { runTasksFaults } from '../../chaos/scenarios/tasks-faults.js';

describe('chaos: tasks-faults', () => {
  it('a worker SIGKILL and two Redis restarts lose no acknowledged job, and every run settles with a code', async () => {
    const lines: string[] = [];
    const result = await runTasksFaults({ short: true, minutes: 0, log: (line) => lines.push(line) });
    const context = JSON.stringify(
      { summary: result.summary, rejections: result.rejections, log: lines },
      null,
      1,
    );
    expect(result.workerKills, context).toBeGreaterThanOrEqual(1);
    expect(result.redisRestarts, context).toBeGreaterThanOrEqual(2);
    expect(result.summary.sent, context).toBeGreaterThan(500);
    expect(result.summary.acknowledged, context).toBeGreaterThan(result.summary.sent / 2);
    expect(result.summary.lost, context).toBe(0);
    expect(result.summary.neverSettled, context).toBe(0);
    expect(result.summary.nodeCrashes, context).toBe(0);
    expect(result.uncoded, context).toBe(0);
    expect(result.mismatched, context).toBe(0);
    // A run that rejected was not queued, with one exception: an add that reached Redis just before the
    // connection broke (its reply lost) may still run. That is rare (1 in 1,294 rejections over a 1-minute
    // run; up to 2 in a short run under load); an add held and resent later, the bug this guards against,
    // ran up to 18 in a short run.
    const rejected = Object.values(result.rejections).reduce((a, b) => a + b, 0);
    expect(result.rejectedButRan, context).toBeLessThanOrEqual(Math.max(2, Math.ceil(rejected / 50)));
  }, 90_000);
});
