// The gateway's own routes: liveness, open to anyone, and the OpenAPI document of every route.

import * as S from '../schemas.js';
import type { Route } from './route.js';

/** GET /healthz and GET /openapi.json; `openapi` builds the document (fastify's `app.swagger()`). */
export function serviceRoutes(deps: { openapi: () => unknown }): Route[] {
  return [
    {
      method: 'GET',
      url: '/healthz',
      summary: 'Liveness (no credential needed)',
      scope: 'public',
      schema: { response: { 200: S.ok } },
      handler: async () => ({ ok: true }),
    },
    {
      method: 'GET',
      url: '/openapi.json',
      summary: 'This OpenAPI document',
      scope: 'any',
      schema: {},
      handler: async () => deps.openapi(),
    },
  ];
}
