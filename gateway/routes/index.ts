// The gateway's routes as data, one file per route family; gateway.ts mounts them behind the route guard.

export { actorRoutes } from './actors.js';
export type { AgentRunRoutesDeps } from './agent-runs.js';
export { agentRunRoutes } from './agent-runs.js';
export type { AgentRoutesDeps } from './agents.js';
export { agentRoutes } from './agents.js';
export type { GraphRunRoutesDeps } from './graph-runs.js';
export { graphRunRoutes } from './graph-runs.js';
export { opsRoutes } from './ops.js';
export type { Route, Scope } from './route.js';
export { serviceRoutes } from './service.js';
export { webhookRoutes } from './webhooks.js';
