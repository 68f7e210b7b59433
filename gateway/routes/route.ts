// A gateway route as data: what fastify needs to serve it, plus the scope a credential must hold to reach it.

import type { FastifyReply, FastifyRequest } from 'fastify';

/** Who may call a route: anyone, any valid credential, or a credential holding the scope named for the request. */
export type Scope = 'public' | 'any' | ((req: FastifyRequest) => string);

export interface Route {
  method: 'GET' | 'POST' | 'PUT';
  url: string;
  summary: string;
  scope: Scope;
  /** Also accept the API key as `?key=` (browser pages and EventSource cannot set headers). */
  queryKey?: boolean;
  schema: Record<string, unknown>;
  handler: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
}
