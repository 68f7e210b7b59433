// The webhook route: a JSON body published as an event on topic `webhooks.<topic>`, its id the X-Event-Id header.

import type { Topics } from '../../workflows/index.js';
import { GatewayError, GatewayErrorCode } from '../errors.js';
import * as S from '../schemas.js';
import type { Route } from './route.js';

/** POST /webhooks/:topic; without `topics` it answers 404. */
export function webhookRoutes(deps: { topics: Topics | undefined }): Route[] {
  const { topics } = deps;
  return [
    {
      method: 'POST',
      url: '/webhooks/:topic',
      summary: 'Publishes the JSON body as an event on topic webhooks.<topic>',
      scope: (req) => `webhooks:${(req.params as { topic: string }).topic}`,
      schema: { params: S.topicParams, body: S.webhookBody, headers: S.webhookHeaders },
      handler: async (req, reply) => {
        const { topic } = req.params as { topic: string };
        if (topics === undefined)
          throw new GatewayError(GatewayErrorCode.NotFound, 'this gateway publishes no webhooks');
        const eventId = req.headers['x-event-id'];
        const published = await topics.publish(`webhooks.${topic}`, {
          type: `webhook.${topic}`,
          data: req.body,
          ...(typeof eventId === 'string' ? { id: eventId } : {}),
        });
        return reply.code(202).send({
          id: published.event.id,
          topic: published.event.topic,
          ...(published.seq === undefined ? {} : { seq: published.seq }),
          ...(published.duplicate === undefined ? {} : { duplicate: published.duplicate }),
        });
      },
    },
  ];
}
