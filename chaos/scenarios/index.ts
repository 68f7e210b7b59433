// Every fault-injection scenario, in the order `npm run chaos` runs them.

import type { ChaosScenario } from '../scenario.js';

export const scenarios: ChaosScenario[] = [];
