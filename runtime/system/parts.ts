// How one node's parts are put together: the registry, router, virtual host, control plane, and the observers
// of its actors (events, logs, metrics, traces). The system facade holds the result and delegates to it.

import type { ActorCell } from '../actor/cell.js';
import type { ActorDefinition } from '../actor/definition.js';
import type { ActorMeter } from '../actor/metrics-hooks.js';
import type { Protocol } from '../actor/protocol.js';
import type { AnyActorRef } from '../actor/ref.js';
import type { CellEvent } from '../actor/state.js';
import type { NodeLoad } from '../cluster/placement.js';
import { VirtualHost } from '../cluster/virtual.js';
import { DeadLetterOffice } from '../core/dead-letters.js';
import type { Envelope } from '../core/envelope.js';
import type { FailurePhase } from '../ports/supervision.js';
import type { ActorInfo } from './actor-system.js';
import { Control } from './control.js';
import { LifecycleEvents } from './events.js';
import { SystemLog } from './logging.js';
import type { ResolvedSystemOptions } from './options.js';
import { Registry } from './registry.js';
import { Router } from './router.js';
import { SystemStats } from './stats.js';
import { TraceHooks } from './trace-hooks.js';
import { VirtualTypes } from './virtual-types.js';

/** What the parts need from the facade that owns them. */
export interface PartsOwner {
  /** True once the system began to close. */
  closing(): boolean;
  activateVirtual(
    definition: ActorDefinition<Protocol, unknown>,
    address: string,
    envelope: Envelope | undefined,
  ): ActorCell;
  spawnRegistered(type: string, name: string | undefined): AnyActorRef;
  inspect(): ActorInfo[];
  load(): NodeLoad;
}

/**
 * @internal Everything that watches a node's actors: the lifecycle bus, the log, the metrics counters and the
 * traces. Cells report to their host, which fans out here.
 */
export class Observers {
  readonly events: LifecycleEvents;
  readonly log: SystemLog;
  readonly stats: SystemStats | undefined;
  readonly traces: TraceHooks | undefined;

  constructor(parts: {
    events: LifecycleEvents;
    log: SystemLog;
    stats: SystemStats | undefined;
    traces: TraceHooks | undefined;
  }) {
    this.events = parts.events;
    this.log = parts.log;
    this.stats = parts.stats;
    this.traces = parts.traces;
  }

  failed(
    cell: ActorCell,
    error: unknown,
    envelope: Envelope | undefined,
    phase?: FailurePhase | 'stop',
  ): void {
    this.log.failed(cell, error, envelope, phase);
    this.events.failed(cell, error);
    this.stats?.failed(cell);
    this.traces?.failed(cell, error);
  }

  started(cell: ActorCell): void {
    this.events.started(cell);
    this.traces?.started(cell);
  }

  event(cell: ActorCell, type: CellEvent, reason?: unknown, delayMs?: number): void {
    if (type === 'restarting') this.log.restarting(cell, reason, delayMs);
    this.events.moment(cell, type, reason);
    if (type === 'restarted') this.stats?.restarted(cell);
  }

  stopped(cell: ActorCell): void {
    this.events.stopped(cell);
    this.log.stopped(cell);
  }

  /** The system has closed: flush the log, stop being read by metrics. */
  close(): void {
    this.log.close();
    this.stats?.detach();
  }
}

/** @internal One node's parts, wired. */
export interface SystemParts {
  deadLetters: DeadLetterOffice;
  registry: Registry;
  router: Router;
  virtual: VirtualHost;
  types: VirtualTypes;
  control: Control;
  observers: Observers;
  meter: ActorMeter | undefined;
}

/** @internal Builds a node's parts from its options; `owner` is the facade they call back into. */
export function buildParts(options: ResolvedSystemOptions, owner: PartsOwner): SystemParts {
  const { nodeId, clock, transport } = options;
  const deadLetters = new DeadLetterOffice(options.deadLetterBuffer);
  const registry = new Registry(nodeId);
  // The router is made after the stats, which read its pending asks only when collected.
  let router: Router | undefined;
  const stats =
    options.metrics === undefined
      ? undefined
      : new SystemStats(options.metrics, {
          nodeId,
          cells: registry.cells,
          deadLetters,
          asks: {
            get size() {
              return router?.asks.size ?? 0;
            },
          },
          transport,
          tasks: options.tasks,
        });
  const traces =
    options.tracing === undefined
      ? undefined
      : new TraceHooks({ tracing: options.tracing, nodeId, transport, closing: owner.closing });
  const meter = stats?.meter;
  // Router, virtual host and control plane call each other through closures: built in any order.
  let virtual: VirtualHost;
  let control: Control;
  router = new Router({
    nodeId,
    clock,
    transport,
    askTimeoutMs: options.askTimeoutMs,
    deadLetters,
    cells: registry.cells,
    virtual: () => virtual,
    onSystemMessage: (envelope) => control.onSystemMessage(envelope),
    closing: owner.closing,
    meter,
    traces,
  });
  if (stats !== undefined) router.asks.outcomes = stats.asks;
  const routes = router;
  virtual = new VirtualHost(
    {
      clock,
      activate: owner.activateVirtual,
      undeliverable: (envelope, reason, error) => routes.undeliverable(envelope, reason, error),
      reroute: (envelope) => routes.reroute(envelope),
    },
    options.maxActiveVirtual,
  );
  const types = new VirtualTypes({ nodeId, transport, router, host: virtual });
  control = new Control({
    nodeId,
    askTimeoutMs: options.askTimeoutMs,
    transport,
    router,
    cells: registry.cells,
    virtual,
    spawnRegistered: owner.spawnRegistered,
    inspect: owner.inspect,
    load: owner.load,
    deadLetters: () => deadLetters.recent(),
  });
  const observers = new Observers({
    events: new LifecycleEvents(clock),
    log: new SystemLog({ logger: options.logger, clock, deadLetters }),
    stats,
    traces,
  });
  return { deadLetters, registry, router, virtual, types, control, observers, meter };
}
