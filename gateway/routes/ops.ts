// The operations routes (scope ops:read): the fleet's live nodes and the recent dead letters of every node.

import type { FastifyRequest } from 'fastify';
import type { ActorSystem } from '../../runtime/index.js';
import * as S from '../schemas.js';
import type { Route } from './route.js';

/** How long the nodes have to answer (`?waitMs`). */
const waitOf = (req: FastifyRequest): number => (req.query as { waitMs?: number }).waitMs ?? 500;

/** GET /dead-letters and GET /nodes; both leave out the gateway's own node. */
export function opsRoutes(deps: { system: ActorSystem }): Route[] {
  const { system } = deps;
  return [
    {
      method: 'GET',
      url: '/dead-letters',
      summary: 'The recent dead letters of every node',
      scope: () => 'ops:read',
      schema: { querystring: S.waitQuery },
      handler: async (req) => {
        const letters = await system.clusterDeadLetters({ timeoutMs: waitOf(req) });
        return { deadLetters: letters.filter((l) => l.node !== system.nodeId).sort((a, b) => a.at - b.at) };
      },
    },
    {
      method: 'GET',
      url: '/nodes',
      summary: 'The live nodes of the fleet',
      scope: () => 'ops:read',
      schema: { querystring: S.waitQuery },
      handler: async (req) => {
        const nodes = (await system.transport?.nodes?.(waitOf(req))) ?? [system.nodeId];
        return { nodes: nodes.filter((n) => n !== system.nodeId).sort(), self: system.nodeId };
      },
    },
  ];
}
