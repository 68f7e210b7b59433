// Durable sends while nats-server restarts (SIGTERM, started again on the same port and store): not one
// acknowledged message may be lost or handled out of order.

import { sleep } from '../processes.js';
import type { ChaosScenario } from '../scenario.js';
import { runDurableScenario } from './durable-common.js';

export const durableNatsRestart: ChaosScenario = {
  name: 'durable-nats-restart',
  description:
    'a troupe node hosts a durable KV-persisted ledger; this process sends (with message ids), tells and asks ' +
    'while nats-server gets SIGTERM and comes back 1.1 s later on the same port and store, again and again',
  run: (settings) =>
    runDurableScenario({
      name: 'durable-nats-restart',
      settings,
      hosts: 1,
      async faults(world) {
        let restarts = 0;
        await sleep(settings.short ? 1000 : 3000);
        // At least 3 restarts; in a soak, one every few seconds for as long as it runs. Each waits until the
        // stream flows again after the previous one, so every restart hits sends, asks and handlers in flight.
        while (settings.short ? restarts < 3 : restarts < 3 || !world.done()) {
          world.log(
            `restart ${restarts + 1}: SIGTERM nats-server (${world.acknowledged()} acknowledged so far)`,
          );
          await world.nats.restart(1100);
          restarts++;
          await world.progress(settings.short ? 40 : 400, 20_000);
          if (!settings.short) await sleep(2000);
        }
        return `${restarts} nats-server restarts (SIGTERM, 1.1 s down, same port and store)`;
      },
    }),
};
