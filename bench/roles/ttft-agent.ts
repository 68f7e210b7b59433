// Worker role of `gateway-ttft`: the agent node of the fleet set-up in a process of its own, as a fleet runs it
// (the gateway on one node, agents on others), so the NATS path is measured without the client, the gateway and
// the agent taking turns on one event loop. Its model is the parent's offline model server.

import { agentKit } from '../../agents/index.js';
import { modelRouter } from '../../models/index.js';
import { createSystem, silentLogger } from '../../runtime/index.js';
import { natsTransport } from '../../transport/index.js';
import type { RoleCommands } from '../scenario.js';

/** What the parent passes: its NATS server and namespace, and the model server the agent calls. */
export interface TtftAgentInit {
  natsUrl: string;
  namespace: string;
  modelUrl: string;
  model: string;
}

export async function ttftAgentRole(init: unknown): Promise<RoleCommands> {
  const { natsUrl, namespace, modelUrl, model } = init as TtftAgentInit;
  const router = modelRouter({
    groups: { [model]: { deployments: [{ id: model, baseURL: modelUrl, model }] } },
    logger: silentLogger,
  });
  const system = await createSystem({
    nodeId: 'ttft-apart',
    logger: silentLogger,
    transport: natsTransport({ servers: natsUrl, namespace }),
  });
  const kit = agentKit({ router, journal: false, logger: silentLogger });
  const agent = system.spawn(kit.defineAgent({ name: 'desk', model, instructions: 'Talk.' }), {
    name: 'desk',
  });
  return {
    address: () => agent.address,
    async close() {
      await system.close();
      await router.close();
    },
  };
}
