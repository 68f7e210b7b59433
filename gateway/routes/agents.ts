// The agent routes: the registry's cards, and an agent's status, pause, resume and configuration.

import type { FastifyRequest } from 'fastify';
import type { AgentProtocol, AgentRegistry } from '../../agents/index.js';
import type { ActorSystem } from '../../runtime/index.js';
import { GatewayError, GatewayErrorCode } from '../errors.js';
import * as S from '../schemas.js';
import type { Route } from './route.js';

export interface AgentRoutesDeps {
  system: ActorSystem;
  /** Agent cards for GET /agents; without it that route answers 501. */
  registry: AgentRegistry | undefined;
  askTimeoutMs: number;
}

/** The `:id` of an agent route. */
export const agentIdOf = (req: FastifyRequest): string => (req.params as { id: string }).id;

/** The agent an `/agents/:id` request names. */
export const agentOf = (system: ActorSystem, req: FastifyRequest) =>
  system.ref<AgentProtocol>(agentIdOf(req));

/** GET /agents, GET /agents/:id, POST /agents/:id/pause and /resume, PUT /agents/:id/config. */
export function agentRoutes(deps: AgentRoutesDeps): Route[] {
  const { system, registry, askTimeoutMs } = deps;
  const routes: Route[] = [
    {
      method: 'GET',
      url: '/agents',
      summary: 'The agent cards of the registry',
      scope: () => 'agents:read',
      schema: {},
      handler: async () => {
        if (registry === undefined)
          throw new GatewayError(GatewayErrorCode.NotConfigured, 'this gateway has no agent registry');
        return { agents: await registry.list() };
      },
    },
    {
      method: 'GET',
      url: '/agents/:id',
      summary: "An agent's status (its configuration and runs)",
      scope: () => 'agents:read',
      schema: { params: S.agentParams },
      handler: async (req) => agentOf(system, req).ask({ type: 'status' }, { timeout: askTimeoutMs }),
    },
  ];
  for (const verb of ['pause', 'resume'] as const)
    routes.push({
      method: 'POST',
      url: `/agents/:id/${verb}`,
      summary: `${verb === 'pause' ? 'Pauses' : 'Resumes'} an agent`,
      scope: () => 'agents:write',
      schema: { params: S.agentParams },
      handler: async (req) => {
        await system[verb](agentOf(system, req));
        return { ok: true };
      },
    });
  routes.push({
    method: 'PUT',
    url: '/agents/:id/config',
    summary: "Changes an agent's model, temperature or instructions (from its runs' next step)",
    scope: () => 'agents:write',
    schema: { params: S.agentParams, body: S.agentConfig },
    handler: async (req) =>
      agentOf(system, req).ask({ type: 'configure', ...(req.body as object) }, { timeout: askTimeoutMs }),
  });
  return routes;
}
