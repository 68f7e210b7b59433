// The HTTP gateway: a fleet's agents, graphs, actors and webhooks over authenticated, schema-checked routes.

export type { ApiKeyGrant, AuthOptions, JwtAuthOptions, Principal } from './auth.js';
export { Authenticator, allows, authFromEnv, parseApiKeys } from './auth.js';
export { errorAnswer, GatewayError, GatewayErrorCode, statusOf } from './errors.js';
export type {
  FleetActor,
  FleetAgent,
  FleetDeadLetter,
  FleetNode,
  FleetOptions,
  FleetSnapshot,
  TraceLinks,
} from './fleet/index.js';
export { FLEET_SCOPE, fleetPage, traceIdOf } from './fleet/index.js';
export type { Gateway, GatewayOptions } from './gateway.js';
export { gateway } from './gateway.js';
export { STOCK_NODES } from './graphs.js';
export type { RateLimitOptions } from './rate-limit.js';
export { AUDIT_KEY } from './route-guard.js';
export { STREAM_TYPE, streamKey } from './run-streams.js';
