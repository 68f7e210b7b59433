// The actor routes: ask or tell any actor of the fleet by its address.

import type { ActorSystem } from '../../runtime/index.js';
import * as S from '../schemas.js';
import type { Route } from './route.js';

/** POST /actors/ask and POST /actors/tell. */
export function actorRoutes(deps: { system: ActorSystem; askTimeoutMs: number }): Route[] {
  const { system, askTimeoutMs } = deps;
  return [
    {
      method: 'POST',
      url: '/actors/ask',
      summary: 'Asks any actor and answers its reply',
      scope: () => 'actors:ask',
      schema: { body: S.actorMessage },
      handler: async (req) => {
        const { to, message, timeoutMs } = req.body as {
          to: string;
          message: { type: string };
          timeoutMs?: number;
        };
        return { reply: await system.ref(to).ask(message as never, { timeout: timeoutMs ?? askTimeoutMs }) };
      },
    },
    {
      method: 'POST',
      url: '/actors/tell',
      summary: 'Tells any actor a message (at most once)',
      scope: () => 'actors:tell',
      schema: { body: S.actorMessage },
      handler: async (req, reply) => {
        const { to, message } = req.body as { to: string; message: { type: string } };
        system.ref(to).tell(message as never);
        return reply.code(202).send({ ok: true });
      },
    },
  ];
}
