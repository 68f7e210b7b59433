// `runLoad`: one load run from a test module's path. Embedded (an in-process system with its own load agent)
// unless NATS servers are given; then this process joins NATS as a node and coordinates every node offering the
// load role.

import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { type ActorSystem, createSystem, type Logger, silentLogger } from '../runtime/index.js';
import { type NatsTransportOptions, natsTransport } from '../transport/index.js';
import { type LoadAgentOptions, startLoadAgent } from './agent/index.js';
import { runCoordinator } from './coordinator/coordinator.js';
import { clusterFleet, embeddedFleet, type LoadFleet, waitForLoadNodes } from './coordinator/fleet.js';
import { applyOverrides, type ExecutorOverrides } from './coordinator/overrides.js';
import type { LoadProgress } from './coordinator/progress.js';
import { type LoadCaps, loadCapsFromEnv, validateExecutor } from './executors/index.js';
import { importLoadTest, readModuleRef } from './module.js';
import type { LoadReport } from './report/report.js';

/** Options of {@link runLoad}. */
export interface RunLoadOptions extends ExecutorOverrides {
  /** NATS server URL(s): run on the fleet of `troupe node --role load` processes. Absent: run in this process. */
  nats?: string;
  /** @defaultValue 'default' */
  namespace?: string;
  /** NATS credentials and TLS (as the transport takes them). */
  auth?: NatsTransportOptions['auth'];
  /** Signed frames (as the transport takes them), for a fleet whose load nodes verify their senders. */
  security?: NatsTransportOptions['security'];
  /** The coordinator's node id; a signing coordinator's must name its key. @defaultValue `load-run-<random>` */
  nodeId?: string;
  /** Wait for this many load nodes (and run on the first this many by id). Default: all seen once settled. */
  nodes?: number;
  /** How long to wait for the load nodes. @defaultValue 15000 */
  waitNodesMs?: number;
  /** Hard caps of the whole run. @defaultValue from TROUPE_LOAD_MAX_VUS / TROUPE_LOAD_MAX_RATE */
  caps?: LoadCaps;
  /** Aborting it interrupts the run: every node stops within a second; the report says interrupted. */
  signal?: AbortSignal;
  onProgress?: (progress: LoadProgress) => void;
  onNote?: (text: string) => void;
  /** @defaultValue silent */
  logger?: Logger;
  runId?: string;
  /** Embedded runs: options of the in-process load agent (caps default to `caps`). */
  agent?: LoadAgentOptions;
}

/** Runs the load test in the module at `path`; resolves with its report (its `ok` says whether thresholds held). */
export async function runLoad(path: string, options: RunLoadOptions = {}): Promise<LoadReport> {
  const logger = options.logger ?? silentLogger;
  const ref = await readModuleRef(resolve(path));
  const test = await importLoadTest(ref);
  const caps = options.caps ?? loadCapsFromEnv(process.env);
  const executor = applyOverrides(test.executor, options);
  validateExecutor(executor, caps);
  // The system's timers do not hold the process open; a run in progress must.
  const keepAlive = setInterval(() => {}, 60_000);
  let system: ActorSystem | undefined;
  try {
    let fleet: LoadFleet;
    let nodes: string[];
    if (options.nats === undefined) {
      system = await createSystem({ nodeId: 'load', logger });
      fleet = embeddedFleet(system, startLoadAgent(system, { caps, ...options.agent }));
      nodes = [system.nodeId];
    } else {
      system = await createSystem({
        nodeId: options.nodeId ?? `load-run-${randomBytes(3).toString('hex')}`,
        logger,
        transport: natsTransport({
          servers: options.nats,
          ...(options.namespace === undefined ? {} : { namespace: options.namespace }),
          logger,
          ...(options.auth === undefined ? {} : { auth: options.auth }),
          ...(options.security === undefined ? {} : { security: options.security }),
        }),
      });
      fleet = clusterFleet(system);
      nodes = await waitForLoadNodes(fleet, {
        clock: system.clock,
        ...(options.nodes === undefined ? {} : { count: options.nodes }),
        ...(options.waitNodesMs === undefined ? {} : { timeoutMs: options.waitNodesMs }),
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
    }
    return await runCoordinator({
      system,
      fleet,
      nodes,
      test,
      module: ref,
      executor,
      caps,
      // A remote node imports the module before it answers the plan: give it time to before t = 0.
      leadMs: options.nats === undefined ? 300 : 1000,
      ...(options.runId === undefined ? {} : { runId: options.runId }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
      ...(options.onNote === undefined ? {} : { onNote: options.onNote }),
    });
  } finally {
    clearInterval(keepAlive);
    await system?.close();
  }
}
