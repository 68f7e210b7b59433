// Every fault-injection scenario, in the order `npm run chaos` runs them.

import type { ChaosScenario } from '../scenario.js';
import { durableHostKill } from './durable-host-kill.js';
import { durableNatsRestart } from './durable-nats-restart.js';
import { durableNoHost } from './durable-no-host.js';
import { fuzzScenario } from './fuzz.js';
import { tasksFaults } from './tasks-faults.js';

export const scenarios: ChaosScenario[] = [
  durableNatsRestart,
  durableHostKill,
  durableNoHost,
  fuzzScenario,
  tasksFaults,
];
