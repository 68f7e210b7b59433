// The short versions of the durable chaos scenarios: nats-server restarted under a stream of acknowledged
// sends, and host processes SIGKILLed under one. Not one acknowledged message may be lost or reordered.

import { describe, expect, it } from 'vitest';
import type { ChaosScenario } from '../../chaos/scenario.js';
import { durableHostKill } from '../../chaos/scenarios/durable-host-kill.js';
import { durableNatsRestart } from '../../chaos/scenarios/durable-nats-restart.js';
import { durableNoHost } from '../../chaos/scenarios/durable-no-host.js';

const settings = { short: true, minutes: 1, log: () => undefined };

async function check(scenario: ChaosScenario): Promise<void> {
  const summary = await scenario.run(settings);
  expect(summary.handled, JSON.stringify(summary)).toBeGreaterThan(0);
  expect(summary.handled, JSON.stringify(summary)).toBe(summary.acknowledged);
  expect(summary).toMatchObject({ lost: 0, reordered: 0, nodeCrashes: 0, neverSettled: 0 });
}

describe('durable chaos, short versions', () => {
  it(
    'loses and reorders no acknowledged send across nats-server restarts',
    () => check(durableNatsRestart),
    60_000,
  );
  it('loses and reorders no acknowledged send across host SIGKILLs', () => check(durableHostKill), 60_000);
  it(
    'stores sends made while no host runs and hands every one over, in order',
    () => check(durableNoHost),
    60_000,
  );
});
