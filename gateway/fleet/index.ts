// The live fleet page of the gateway: its routes, the shared snapshot monitor, the snapshot's shape.

export type { FleetUpdate } from './monitor.js';
export { FleetMonitor } from './monitor.js';
export { fleetPage } from './page.js';
export type { FleetOptions, FleetRoute } from './routes.js';
export { FLEET_SCOPE, fleetRoutes } from './routes.js';
export type {
  FleetActor,
  FleetAgent,
  FleetDeadLetter,
  FleetNode,
  FleetSnapshot,
  TraceLinks,
} from './snapshot.js';
export { collectSnapshot, traceIdOf } from './snapshot.js';
