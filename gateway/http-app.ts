// The gateway's fastify instance before any route: request validation, the OpenAPI document, and errors answered
// as `{ code, message }` with their status.

import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance } from 'fastify';
import { type Logger, TroupeError } from '../runtime/index.js';
import { errorAnswer, GatewayErrorCode } from './errors.js';

/** A fastify instance with @fastify/swagger registered and the gateway's error and not-found answers set. */
export async function httpApp(logger: Logger): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    bodyLimit: 1024 * 1024,
    // Refuse what a schema does not allow instead of dropping it, and coerce only scalars (query strings):
    // fastify's default 'array' coercion would turn a string input into a one-item array.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, useDefaults: true } },
  });
  await app.register(swagger, {
    openapi: {
      info: { title: 'troupe gateway', version: '1' },
      components: {
        securitySchemes: {
          apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' },
          bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
        },
      },
      security: [{ apiKey: [] }, { bearer: [] }],
    },
  });
  app.setErrorHandler(
    (err: Error & { validation?: unknown; statusCode?: number; code?: string }, req, reply) => {
      if (err.validation !== undefined)
        return reply.code(400).send({ code: GatewayErrorCode.BadRequest, message: err.message });
      if (err instanceof TroupeError) {
        const { status, body } = errorAnswer(err);
        if (status >= 500)
          logger.error('gateway: request failed', { route: req.routeOptions.url, code: err.code });
        return reply.code(status).send(body);
      }
      if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500)
        return reply.code(err.statusCode).send({ code: GatewayErrorCode.BadRequest, message: err.message });
      logger.error('gateway: request failed', { route: req.routeOptions.url, error: err.message });
      return reply.code(500).send({ code: GatewayErrorCode.Internal, message: 'internal error' });
    },
  );
  app.setNotFoundHandler((req, reply) =>
    reply
      .code(404)
      .send({ code: GatewayErrorCode.NotFound, message: `no route ${req.method} ${req.url.split('?')[0]}` }),
  );
  return app;
}
