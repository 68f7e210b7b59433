// Durable sends while a hosting node is SIGKILLed again and again, a fresh host process joining each time.

import { sleep } from '../processes.js';
import type { ChaosScenario } from '../scenario.js';
import { runDurableScenario } from './durable-common.js';

export const durableHostKill: ChaosScenario = {
  name: 'durable-host-kill',
  description:
    'two troupe node processes host a durable KV-persisted ledger; this process sends, tells and asks while a ' +
    'host gets SIGKILL mid-stream and a new host process starts, again and again',
  run: (settings) =>
    runDurableScenario({
      name: 'durable-host-kill',
      settings,
      hosts: 2,
      async faults(world) {
        let kills = 0;
        await sleep(settings.short ? 1000 : 3000);
        while (settings.short ? kills < 2 : kills < 2 || !world.done()) {
          // The oldest host still running: it holds shards, and by now the newer one holds some too.
          const victim = world.hosts.find((h) => !h.ended);
          if (!victim) break;
          world.log(
            `kill ${kills + 1}: SIGKILL host ${victim.id} (${world.acknowledged()} acknowledged so far)`,
          );
          await world.killHost(victim);
          kills++;
          const fresh = await world.startHost();
          world.log(`host ${fresh.id} joined`);
          await world.progress(settings.short ? 60 : 600, 20_000);
          if (!settings.short) await sleep(3000);
        }
        return `${kills} host SIGKILLs, a new host process after each`;
      },
    }),
};
