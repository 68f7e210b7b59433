// Durable sends made while no node hosts the type: stored by the sender, handled in order once hosts come.

import { sleep } from '../processes.js';
import type { ChaosScenario } from '../scenario.js';
import { runDurableScenario } from './durable-common.js';

export const durableNoHost: ChaosScenario = {
  name: 'durable-no-host',
  description:
    'this process sends, tells and asks to a durable ledger declared with defineVirtual while no host runs; ' +
    'a troupe node process starts later, is SIGKILLed, and another one takes over',
  run: (settings) =>
    runDurableScenario({
      name: 'durable-no-host',
      settings,
      hosts: 0,
      async faults(world) {
        const idle = settings.short ? 1500 : 10_000;
        await sleep(idle);
        const stored = world.acknowledged();
        world.log(`${stored} sends stored with no host running; starting one`);
        const first = await world.startHost();
        await world.progress(settings.short ? 60 : 600, 20_000);
        world.log(`SIGKILL host ${first.id}, none left until the next starts`);
        await world.killHost(first);
        await sleep(settings.short ? 500 : 3000);
        await world.startHost();
        return `${stored} sends acknowledged before any host ran; then the only host SIGKILLed and replaced`;
      },
    }),
};
