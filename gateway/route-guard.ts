// The guard in front of every route but the public ones: the credential checked, the route's scope required, and
// each denial answered 401 or 403 and written to the audit log (never the secret); then the credential's rate
// limit, if any (429, not audited: a flood would flood the audit log too).

import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import type { AppendLog, Clock, Logger } from '../runtime/index.js';
import { type Authenticator, allows, type Principal } from './auth.js';
import { GatewayError, GatewayErrorCode } from './errors.js';
import type { RateLimiter } from './rate-limit.js';
import type { Route } from './routes/index.js';

/** The log key of the audit records of denied requests. */
export const AUDIT_KEY = 'gateway.denials';

export interface RouteGuardOptions {
  auth: Authenticator;
  /** Where denials are recorded, one record each under {@link AUDIT_KEY}. */
  audit: AppendLog;
  logger: Logger;
  clock: Clock;
  /** Requests per credential, when limited. */
  limiter?: RateLimiter | undefined;
}

/** Admits or denies a request to a route by its credential and the route's {@link Route.scope}. */
export class RouteGuard {
  readonly #auth: Authenticator;
  readonly #audit: AppendLog;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #limiter: RateLimiter | undefined;

  constructor(options: RouteGuardOptions) {
    this.#auth = options.auth;
    this.#audit = options.audit;
    this.#logger = options.logger;
    this.#clock = options.clock;
    this.#limiter = options.limiter;
  }

  /**
   * The onRequest hook of `route`. A callback hook, not an async one: an API key is checked in the same turn,
   * with no promise per request.
   */
  hook(route: Route): (req: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void {
    return (req, reply, done) => {
      const scope = route.scope;
      if (scope === 'public') return done();
      const refuse = (err: unknown): void => {
        if (err instanceof GatewayError) void this.#deny(req, reply, err, {});
        else done(err as Error);
      };
      const admit = (principal: Principal) => {
        const required = scope === 'any' ? undefined : scope(req);
        if (required === undefined || allows(principal.scopes, required)) {
          const waitMs = this.#limiter?.take(principal.subject) ?? 0;
          if (waitMs === 0) return done();
          // The body alone, no error object: this is the path a flood takes, once per refused request.
          return void reply
            .code(429)
            .header('retry-after', String(Math.ceil(waitMs / 1000)))
            .send({
              code: GatewayErrorCode.RateLimited,
              message: `too many requests from this credential: retry in ${waitMs} ms`,
            });
        }
        return void this.#deny(
          req,
          reply,
          new GatewayError(GatewayErrorCode.Forbidden, `this credential lacks scope ${required}`),
          { subject: principal.subject, scope: required },
        );
      };
      let principal: Principal | Promise<Principal>;
      try {
        const key = route.queryKey === true ? (req.query as { key?: unknown } | undefined)?.key : undefined;
        principal = this.#auth.check(req.headers, typeof key === 'string' ? key : undefined);
      } catch (err) {
        return refuse(err);
      }
      if (principal instanceof Promise) principal.then(admit, refuse);
      else admit(principal);
    };
  }

  async #deny(req: FastifyRequest, reply: FastifyReply, err: GatewayError, extra: Record<string, unknown>) {
    const status = err.code === GatewayErrorCode.Forbidden ? 403 : 401;
    const record = {
      at: this.#clock.now(),
      status,
      code: err.code,
      method: req.method,
      route: req.routeOptions.url ?? req.url,
      path: req.url.split('?')[0],
      ip: req.ip,
      ...extra,
    };
    this.#logger.warn('gateway: request denied', record);
    try {
      await this.#audit.append(AUDIT_KEY, JSON.stringify(record));
    } catch (e) {
      this.#logger.error('gateway: could not record a denial', {
        code: (e as { code?: string }).code ?? 'ERROR',
      });
    }
    return reply.code(status).send({ code: err.code, message: err.message });
  }
}
