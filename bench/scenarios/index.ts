// The scenario registry: adding a scenario is one file in this folder plus one line in SCENARIOS.

import { BenchError, BenchErrorCode } from '../errors.js';
import type { Scenario } from '../scenario.js';
import { agentFleet } from './agent-fleet.js';
import { agentStep } from './agent-step.js';
import { durableTell } from './durable-tell.js';
import { durableTopic } from './durable-topic.js';
import { eventPipeline } from './event-pipeline.js';
import { eventSourced } from './event-sourced.js';
import { failoverScenario } from './failover.js';
import { fanout10k } from './fanout-10k.js';
import { gatewayTtft } from './gateway-ttft.js';
import { graphStep } from './graph-step.js';
import { loadHttp } from './load-http.js';
import { localAsk } from './local-ask.js';
import { localTell } from './local-tell.js';
import { memoryScenario } from './memory.js';
import { modelCall } from './model-call.js';
import { natsAskLatency } from './nats-ask-latency.js';
import { natsAskPipelined } from './nats-ask-pipelined.js';
import { natsTell } from './nats-tell.js';
import { restartScenario } from './restart.js';
import { signedTell } from './signed-tell.js';
import { spawnScenario } from './spawn.js';
import { tasksLatency } from './tasks-latency.js';
import { tasksThroughput } from './tasks-throughput.js';
import { tracingCost } from './tracing-cost.js';
import { virtualAsk } from './virtual-ask.js';

/** Every scenario, in the order a full run measures them. */
export const SCENARIOS: readonly Scenario[] = [
  localTell,
  localAsk,
  fanout10k,
  spawnScenario,
  restartScenario,
  natsTell,
  signedTell,
  natsAskLatency,
  natsAskPipelined,
  tracingCost,
  virtualAsk,
  durableTell,
  eventSourced,
  durableTopic,
  eventPipeline,
  failoverScenario,
  tasksThroughput,
  tasksLatency,
  agentFleet,
  modelCall,
  agentStep,
  memoryScenario,
  graphStep,
  gatewayTtft,
  loadHttp,
];

/** The scenario called `name`; throws `BENCH_UNKNOWN_SCENARIO` listing the known ones. */
export function findScenario(name: string, registry: readonly Scenario[] = SCENARIOS): Scenario {
  const found = registry.find((s) => s.name === name);
  if (!found) {
    throw new BenchError(
      BenchErrorCode.UnknownScenario,
      `unknown scenario "${name}"; known: ${registry.map((s) => s.name).join(', ')}`,
    );
  }
  return found;
}

/** The scenarios named (all of them when `names` is empty), in registry order, each once. */
export function selectScenarios(
  names: readonly string[],
  registry: readonly Scenario[] = SCENARIOS,
): Scenario[] {
  if (names.length === 0) return [...registry];
  const wanted = new Set(names.map((n) => findScenario(n, registry).name));
  return registry.filter((s) => wanted.has(s.name));
}
